// What the web tests, the browser tests and the page benchmark share: Debian's Chromium driven by
// playwright-core, and the app listening on a free loopback port. Store states come from
// test/support/data.ts.
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags from stack-notes §7: headless, no sandbox (root), and no calls home. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export function chromiumPrerequisite(): { ok: boolean; why?: string } {
  return fs.existsSync(CHROMIUM) ? { ok: true } : { ok: false, why: `no ${CHROMIUM} (apt-get install -y chromium)` };
}

export interface Listening {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(app: Express): Promise<Listening> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    // Live streams (/api/stream) never end by themselves: cut them so close() returns.
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
