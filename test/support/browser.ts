// What the web tests, the browser tests and the page benchmark share: Debian's Chromium driven by
// playwright-core, the app listening on a free loopback port, and store states written by the real
// Poller from ServerReads (so the page sees exactly what polling stores, and the LiveFeed fires).
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { ServerConfig, ServerRead, VpnSession } from '../../src/domain.ts';
import type { LiveFeed } from '../../src/live.ts';
import { logger } from '../../src/log.ts';
import { Poller } from '../../src/poller.ts';
import type { Store } from '../../src/store/store.ts';

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

export function vpnSession(commonName: string, n: number, extra: Partial<VpnSession> = {}): VpnSession {
  return {
    commonName, username: null, realAddress: `203.0.113.${n % 250}`, realPort: 40000 + n, protocol: null,
    virtualAddress: `10.8.0.${n % 250}`, virtualIpv6: null, bytesReceived: 1000 * n, bytesSent: 2000 * n,
    connectedAt: '2026-11-28T09:00:00.000Z', clientId: n, peerId: n, cipher: 'AES-256-GCM', ...extra,
  };
}

export function goodRead(server: string, readAt: string, sessions: VpnSession[]): ServerRead {
  return { server, ok: true, readAt, durationMs: 12, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } };
}

export function failedRead(server: string, readAt: string, error: string): ServerRead {
  return { server, ok: false, error, readAt, durationMs: 15_000, source: 'status-file' };
}

/** A Poller (the real one) for servers `names`, storing into `store` and publishing to `live`. */
export async function testPoller(store: Store, names: string[], live?: LiveFeed): Promise<Poller> {
  const servers: ServerConfig[] = names.map((name) => ({
    name, host: `${name}.vpn.example`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true,
    statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 60, timezone: 'UTC',
  }));
  const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 1, targets: () => ['log'], log: logger.child({ module: 'test-poller' }), ...(live ? { live } : {}) });
  await poller.start();
  return poller;
}
