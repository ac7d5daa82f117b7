// What the live stream sends while the real OpenVPN lab's three servers stream (a `status 3` every
// 2 s each, through sshd) with clients connected and nobody coming or going: issue 12 measured
// 51 updates in 30 s here, each making every open page fetch everything. Then one client connects,
// to show the update that is sent. Counts the stream's messages with a client of its own.
//
// Run: npm run bench -- lab-stream     [needs root, openvpn, iproute2 and sshd, like the lab tests]
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import type { ServerConfig } from '../src/domain.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { ManagementStream } from '../src/poll/management-stream.ts';
import { createMetrics } from '../src/metrics.ts';
import { Poller } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { labAvailable, startLab } from '../test/harness/openvpn-lab.ts';
import { sshdAvailable, startSshd } from '../test/harness/sshd.ts';
import { listen } from '../test/support/browser.ts';

export interface LabStreamResult {
  quietSeconds: number;
  clients: number;
  quiet: { updates: number; pings: number };
  /** After one client connected: updates within 5 s, and how long until the first. */
  connect: { updates: number; firstMs: number | null };
}

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLabStreamBench(quietSeconds = 30): Promise<LabStreamResult> {
  for (const check of [labAvailable(), sshdAvailable()]) if (!check.ok) throw new Error(`lab-stream needs the OpenVPN lab and sshd: ${check.why}`);
  const mongo = process.env.MONGODB_URI ? null : await startMongoJavaServer();
  const sshd = await startSshd();
  const stops: (() => Promise<unknown>)[] = [async () => sshd.stop(), async () => mongo?.stop()];
  try {
    const lab = await startLab({ servers: [{ proto: 'udp' }, { proto: 'tcp' }, { proto: 'udp' }], clients: 7 });
    stops.unshift(() => lab.close());
    const servers: ServerConfig[] = lab.servers.map((s, i) => sshd.serverConfig({
      name: `lab-${i + 1}`, statusPath: s.statusPath, statusRefreshSeconds: 1,
      management: { host: '127.0.0.1', port: s.managementPort!, mode: 'stream' },
    }));
    const store = await Store.open(process.env.MONGODB_URI ?? mongo!.uri, `vpnwatch_bench_lab_stream_${Date.now()}`);
    stops.unshift(async () => { await store.connection.dropDatabase(); await store.close(); });
    const live = new LiveFeed();
    const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: silent, live });
    await poller.start();
    const sshPool = new SshPool({ connectTimeoutMs: 10_000 });
    stops.unshift(() => sshPool.closeAll());
    const stream = new ManagementStream({ servers, sshPool, poller, statusIntervalSeconds: 2, log: silent });
    stream.start();
    stops.unshift(() => stream.stop());
    const app = createWebApp({ store, config: loadConfig({ PAGE_ACCESS: 'public' }, '/nonexistent'), metrics: createMetrics(), live, modes: () => stream.modes(), log: silent });
    const web = await listen(app);
    stops.unshift(async () => { app.closeStreams(); await web.close(); });

    // Two clients on each server, connected before anything is counted.
    for (let i = 0; i < 6; i++) await lab.clients[i]!.connect(i % 3);
    for (let waited = 0; waited < 20_000; waited += 200) {
      if ((await store.queries.online()).length === 6 && Object.values(stream.modes()).every((m) => m.mode === 'stream')) break;
      await sleep(200);
    }
    await sleep(3000);

    const received: { event: string; at: number }[] = [];
    const abort = new AbortController();
    const listening = (async () => {
      const res = await fetch(`${web.url}/api/stream`, { signal: abort.signal });
      const decoder = new TextDecoder();
      for await (const chunk of res.body!) {
        for (const m of decoder.decode(chunk as Uint8Array).matchAll(/^event: (update|version)$/gm)) received.push({ event: m[1]!, at: Date.now() });
      }
    })().catch(() => undefined);
    await sleep(1000); // the version sent on connect
    const from = received.length;
    await sleep(quietSeconds * 1000);
    const quiet = received.slice(from);
    const connectedAt = Date.now();
    await lab.clients[6]!.connect(0);
    await sleep(5000);
    const after = received.filter((r) => r.at >= connectedAt && r.event === 'update');
    abort.abort();
    await listening;
    return {
      quietSeconds, clients: 6,
      quiet: { updates: quiet.filter((r) => r.event === 'update').length, pings: quiet.filter((r) => r.event === 'version').length },
      connect: { updates: after.length, firstMs: after[0] ? after[0].at - connectedAt : null },
    };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

export function printLabStreamBench(r: LabStreamResult): void {
  console.log(`The OpenVPN lab: 3 servers streaming (status 3 every 2 s each), ${r.clients} clients connected, PAGE_REFRESH 5 s.`);
  console.log(`Nobody coming or going for ${r.quietSeconds} s: /api/stream sent ${r.quiet.updates} updates and ${r.quiet.pings} version pings.`);
  console.log(`Then one client connected: ${r.connect.updates} update(s) within 5 s, the first ${r.connect.firstMs ?? '—'} ms after the connect started (it includes the client's own handshake).`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printLabStreamBench(await runLabStreamBench());
}
