// How live is "live": in the real OpenVPN lab (UDP and TCP servers, namespaced clients), with the
// management stream reached through a real sshd, the real Poller storing into a MongoDB-wire
// server, the real Notifier posting to a recording sink, and a LiveFeed subscriber standing in for
// the page (GET /api/stream forwards exactly what it receives). The status-file poll runs beside
// it at the production default (30 s) as in production.
//
// Start points:
//   connect    → the server's own log line "MULTI: primary virtual IP for <cn>/…" (the moment
//                OpenVPN considers the client in; everything before it is the client's TLS
//                handshake). The time from the start of client.connect() is shown as well.
//   stopped    → SIGTERM to the client (start of client.disconnect()).
//   kicked     → start of ManagementKicker.kick() (through the stream's borrowed connection).
// End points: the notice line handed to the chat sink; the LiveFeed update carrying the event.
// Disconnects are measured with the flap window off (FLAP_WINDOW=0): the default 60 s window holds
// every disconnect line back by design; a separate phase measures what it adds.
//
// Run: npm run bench -- live-latency     [CONNECTS=20 (per protocol)]
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { ServerConfig, ServerRead } from '../src/domain.ts';
import { ManagementKicker } from '../src/kick/kicker.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { ManagementStream } from '../src/poll/management-stream.ts';
import { Notifier } from '../src/notify/notifier.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { Poller } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab } from '../test/harness/openvpn-lab.ts';
import { sshdAvailable, startSshd } from '../test/harness/sshd.ts';
import { type NoticeSink } from '../src/notify/targets.ts';
import { noticeSections } from '../src/notify/notice-text.ts';

export interface LatencyRow {
  proto: 'udp' | 'tcp';
  what: string;
  n: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface RestartResult {
  proto: 'udp' | 'tcp';
  clients: number;
  /** restart() called → the stream connected again. */
  streamBackMs: number;
  /** restart() called → every client online again in the store. */
  allOnlineMs: number;
  /** Per client, the event types stored during the restart. */
  eventsByClient: Record<string, string[]>;
  /** Per client, the notice lines posted (flap window off). */
  noticesByClient: Record<string, string[]>;
  duplicatedOrLost: string[];
}

export interface LiveLatencyResult {
  rows: LatencyRow[];
  restarts: RestartResult[];
  /** Disconnect → notice with the default 60 s flap window (TCP, clients stopped). */
  defaultFlapWindowMs: number[];
  /** poller.apply() per management read: the store round a read costs. */
  applyMs: { n: number; p50: number; p95: number };
  fileReadsApplied: number;
  fileReadsSuperseded: number;
}

const CONNECTS = Number(process.env.CONNECTS ?? 20);
const silent = pino({ level: 'silent' });

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN);
}

function row(proto: 'udp' | 'tcp', what: string, values: number[]): LatencyRow {
  return { proto, what, n: values.length, p50Ms: percentile(values, 50), p95Ms: percentile(values, 95), maxMs: Math.round(Math.max(...values)) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The moment a line matching `pattern` appears in a log file after now (polled every 5 ms). */
function logLineTime(file: string, pattern: RegExp): { time: () => number | undefined; stop: () => void } {
  let offset = fs.statSync(file).size;
  let seen: number | undefined;
  let text = '';
  const timer = setInterval(() => {
    const size = fs.statSync(file).size;
    if (size <= offset) return;
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    text += buf.toString('utf8');
    if (seen === undefined && pattern.test(text)) seen = Date.now();
  }, 5);
  return { time: () => seen, stop: () => clearInterval(timer) };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function runLiveLatencyBench(): Promise<LiveLatencyResult> {
  for (const check of [labAvailable(), sshdAvailable()]) if (!check.ok) throw new Error(`live-latency needs the OpenVPN lab and sshd: ${check.why}`);
  const mongo = process.env.MONGODB_URI ? null : await startMongoJavaServer();
  const sshd = await startSshd();
  const perProto = 4; // clients per server: one measured at a time, the rest for the flap and restart phases
  let lab: Lab | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  try {
    lab = await startLab({ servers: [{ proto: 'udp' }, { proto: 'tcp' }], clients: 2 * perProto });
    const protos = ['udp', 'tcp'] as const;
    const servers: ServerConfig[] = lab.servers.map((s, i) => sshd.serverConfig({
      name: `${protos[i]}-1`, statusPath: s.statusPath, statusRefreshSeconds: 1,
      management: { host: '127.0.0.1', port: s.managementPort!, mode: 'stream' },
    }));
    const clientsOf = (i: number) => lab!.clients.slice(i * perProto, (i + 1) * perProto);
    const store = await Store.open(process.env.MONGODB_URI ?? mongo!.uri, `vpnwatch_bench_live_${Date.now()}`);
    stops.push(async () => { await store.connection.dropDatabase(); await store.close(); });

    // What the chat and the page would receive, with the time they received it.
    const notices: { at: number; kind: string; text: string }[] = [];
    const sink: NoticeSink = { target: 'log', post: async (_channel, notice) => { for (const l of noticeSections(notice).flatMap((s) => s.lines)) notices.push({ at: Date.now(), kind: l.kind, text: l.text }); return null; } };
    const pageUpdates: { at: number; type: string; user: string }[] = [];
    const live = new LiveFeed();
    live.subscribe((u) => { for (const e of u.events) pageUpdates.push({ at: Date.now(), type: e.type, user: e.user ?? '' }); });

    // One notifier at a time; replaced to change the flap window between phases.
    const notifiers: Notifier[] = [];
    const useNotifier = async (flapWindowSeconds: number) => {
      await notifiers.at(-1)?.stop();
      const notifier = new Notifier({ store, config: { servers, notices: { flapWindowSeconds } }, sinks: [sink], log: silent });
      notifiers.push(notifier);
      notifier.start();
    };
    stops.push(() => Promise.all(notifiers.map((n) => n.stop())));
    const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: silent, live });
    live.subscribe((u) => { if (u.events.length) notifiers.at(-1)?.wake(); });
    await poller.start();
    await useNotifier(0);

    const applyMs: number[] = [];
    const fileReads = { applied: 0, superseded: 0 };
    const timedPoller = {
      apply: async (reads: ServerRead[]) => {
        const t0 = performance.now();
        const report = await poller.apply(reads);
        if (reads.every((r) => r.source === 'management')) applyMs.push(performance.now() - t0);
        else { fileReads.applied += report.servers.length; fileReads.superseded += reads.length - report.servers.length; }
        return report;
      },
      noteLeaving: (server: string, who: Parameters<Poller['noteLeaving']>[1]) => poller.noteLeaving(server, who),
    };
    const sshPool = new SshPool({ connectTimeoutMs: 10_000 });
    stops.push(() => sshPool.closeAll());
    const stream = new ManagementStream({ servers, sshPool, poller: timedPoller, statusIntervalSeconds: 2, log: silent });
    stream.start();
    stops.push(() => stream.stop());

    // The status-file poll at its production default, as the cross-check it is in production.
    const filePool = new SshPool({ connectTimeoutMs: 10_000 });
    stops.push(() => filePool.closeAll());
    let filePolling = true;
    const fileLoop = (async () => {
      while (filePolling) {
        await timedPoller.apply(await readServers(servers, filePool, { concurrency: 2, timeoutMs: 10_000 }));
        for (let waited = 0; filePolling && waited < 30_000; waited += 100) await sleep(100);
      }
    })();
    stops.push(async () => { filePolling = false; await fileLoop; });
    await until('both streams up', () => (Object.values(stream.modes()).every((m) => m.mode === 'stream' && m.lastReadAt) ? true : undefined), 20_000);

    const kicker = new ManagementKicker({ store, servers, sshPool, log: silent, access: stream, onKilled: (server, sessions) => poller.noteKicked(server, sessions) });
    const noticeFor = (kind: string, cn: string, since: number, contains = '') =>
      notices.find((n) => n.at >= since && n.kind === kind && n.text.includes(` ${cn} `) && n.text.includes(contains))?.at;

    // ---- connects and disconnects: both servers at once, one client each at a time ----
    const samples = new Map<string, number[]>();
    const add = (proto: string, what: string, ms: number) => samples.set(`${proto}|${what}`, [...(samples.get(`${proto}|${what}`) ?? []), ms]);
    await Promise.all(protos.map(async (proto, si) => {
      const client = clientsOf(si)[0]!;
      const cn = client.statusCommonName;
      for (let i = 0; i < CONNECTS; i++) {
        const serverSaw = logLineTime(lab!.servers[si]!.logPath, new RegExp(`primary virtual IP for ${escape(cn)}/`));
        const started = Date.now();
        await client.connect(si);
        const noticed = await until(`${cn} connect notice`, () => noticeFor('connected', cn, started), 30_000);
        const paged = await until(`${cn} page update`, () => pageUpdates.find((u) => u.at >= started && u.type === 'connected' && u.user === cn)?.at, 30_000);
        const seen = await until(`${cn} in the server log`, serverSaw.time, 5000);
        serverSaw.stop();
        add(proto, 'connect → notice (from the server\'s log line)', noticed - seen);
        add(proto, 'connect → page (from the server\'s log line)', paged - seen);
        add(proto, 'connect → notice (from client.connect() start)', noticed - started);
        // A random moment within the status interval: a fixed pause would lock onto the stream's
        // 2 s read cadence and measure one phase of it.
        await sleep(1000 + Math.random() * 2000);
        const kick = i % 2 === 1;
        const stopAt = Date.now();
        if (kick) {
          const outcome = await kicker.kick({ target: cn, server: servers[si]!.name, by: { platform: 'cli', userId: 'bench', userName: 'bench' } });
          if (outcome.result !== 'kicked') throw new Error(`kick of ${cn}: ${outcome.message}`);
        } else {
          await client.disconnect(si);
        }
        const gone = await until(`${cn} disconnect notice`, () => noticeFor('disconnected', cn, stopAt, kick ? 'was kicked' : 'disconnected'), 30_000);
        add(proto, kick ? 'kicked → notice' : 'stopped → notice', gone - stopAt);
        await until(`${cn} process gone`, () => (client.isRunningOn(si) ? undefined : true), 10_000);
        await sleep(500);
      }
    }));

    // ---- the default flap window: what it adds to a disconnect notice ----
    await useNotifier(60);
    const tcpClients = clientsOf(1).slice(1);
    const flapStart = Date.now();
    await Promise.all(tcpClients.map((c) => c.connect(1)));
    await until('flap-phase connects announced', () => (tcpClients.every((c) => noticeFor('connected', c.statusCommonName, flapStart)) ? true : undefined), 30_000);
    const stoppedAt = Date.now();
    await Promise.all(tcpClients.map((c) => c.disconnect(1)));
    const defaultFlapWindowMs = await Promise.all(tcpClients.map(async (c) => (await until(`${c.statusCommonName} held disconnect`, () => noticeFor('disconnected', c.statusCommonName, stoppedAt), 120_000)) - stoppedAt));
    await useNotifier(0);

    // ---- OpenVPN restarted under the stream ----
    const restarts: RestartResult[] = [];
    for (const [si, proto] of protos.entries()) {
      const clients = clientsOf(si).slice(1);
      await Promise.all(clients.map((c) => c.connect(si)));
      await waitOnline(store, servers[si]!.name, clients.length);
      await sleep(2500);
      const since = new Date();
      const t0 = Date.now();
      let streamBackMs: number | undefined;
      let wentDown = false;
      const watch = setInterval(() => {
        const mode = stream.modes()[servers[si]!.name]!.mode;
        if (mode !== 'stream') wentDown = true;
        else if (wentDown && streamBackMs === undefined) streamBackMs = Date.now() - t0;
      }, 10);
      await lab.servers[si]!.restart({ waitForClients: true });
      // New sessions: connected after the restart began (status times are whole seconds).
      await waitOnline(store, servers[si]!.name, clients.length, (online) => online.every((s) => Date.parse(s.connectedAt) >= Math.floor(t0 / 1000) * 1000));
      const allOnlineMs = Date.now() - t0;
      await sleep(8000); // room for late duplicates (and the UDP delayed exit of the old sessions)
      clearInterval(watch);
      const stored = (await store.queries.eventsSince(since)).filter((e) => e.server === servers[si]!.name);
      const eventsByClient: Record<string, string[]> = {};
      const noticesByClient: Record<string, string[]> = {};
      const duplicatedOrLost: string[] = [];
      for (const c of clients) {
        const cn = c.statusCommonName;
        eventsByClient[cn] = stored.filter((e) => e.user === cn).map((e) => e.type);
        noticesByClient[cn] = notices.filter((n) => n.at >= t0 && n.text.includes(` ${cn} `)).map((n) => n.kind);
        const ok = ['reconnected', 'disconnected,connected'].includes(eventsByClient[cn]!.join(','));
        if (!ok) duplicatedOrLost.push(`${cn}: ${eventsByClient[cn]!.join(', ') || 'nothing'}`);
      }
      const others = stored.filter((e) => !clients.some((c) => c.statusCommonName === e.user));
      for (const e of others) duplicatedOrLost.push(`unexpected ${e.type} ${e.user ?? e.server}`);
      restarts.push({ proto, clients: clients.length, streamBackMs: streamBackMs ?? NaN, allOnlineMs, eventsByClient, noticesByClient, duplicatedOrLost });
      await Promise.all(clients.map((c) => c.disconnect(si)));
    }

    const rows = [...samples].map(([key, values]) => {
      const [proto, what] = key.split('|') as ['udp' | 'tcp', string];
      return row(proto, what, values);
    });
    return {
      rows, restarts, defaultFlapWindowMs: defaultFlapWindowMs.map(Math.round),
      applyMs: { n: applyMs.length, p50: percentile(applyMs, 50), p95: percentile(applyMs, 95) },
      fileReadsApplied: fileReads.applied, fileReadsSuperseded: fileReads.superseded,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => console.error('stop:', err));
    await lab?.close();
    await sshd.stop();
    await mongo?.stop();
  }
}

async function waitOnline(store: Store, server: string, count: number, extra: (online: Awaited<ReturnType<Store['queries']['online']>>) => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const online = await store.queries.online(server);
    if (online.length === count && extra(online)) return;
    if (Date.now() > deadline) throw new Error(`${server}: ${online.length} online, expected ${count}`);
    await sleep(50);
  }
}

export function printLiveLatencyBench(r: LiveLatencyResult): void {
  console.log('proto  measurement                                          n   p50 ms   p95 ms   max ms');
  for (const x of r.rows) {
    console.log(`${x.proto.padEnd(5)}  ${x.what.padEnd(50)}  ${String(x.n).padStart(3)}  ${String(x.p50Ms).padStart(7)}  ${String(x.p95Ms).padStart(7)}  ${String(x.maxMs).padStart(7)}`);
  }
  console.log(`\nflap window at its default (60 s): stopped → notice ${r.defaultFlapWindowMs.join(', ')} ms (TCP, ${r.defaultFlapWindowMs.length} clients)`);
  console.log(`poller.apply per management read: p50 ${r.applyMs.p50} ms, p95 ${r.applyMs.p95} ms (n=${r.applyMs.n})`);
  console.log(`status-file reads beside the stream: ${r.fileReadsApplied} applied, ${r.fileReadsSuperseded} superseded (older than the stream's last read)`);
  for (const x of r.restarts) {
    console.log(`\nOpenVPN restart (${x.proto}, ${x.clients} clients): stream back after ${x.streamBackMs} ms, every client online again after ${x.allOnlineMs} ms`);
    for (const [cn, types] of Object.entries(x.eventsByClient)) console.log(`  ${cn}: events ${types.join(', ')}; notices ${x.noticesByClient[cn]!.join(', ')}`);
    console.log(`  duplicated or lost: ${x.duplicatedOrLost.length ? x.duplicatedOrLost.join('; ') : 'none'}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) printLiveLatencyBench(await runLiveLatencyBench());
