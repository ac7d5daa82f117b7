// The page under load: 5,000 online sessions over 10 servers (stored by the real Poller in a
// MongoDB-wire server: mongo-java-server here, or MONGODB_URI), the real app on 127.0.0.1, and
// wrk (Debian's) with 100 connections against `/` and `/api/status`, once as a plain client and
// once sending `Accept-Encoding: gzip` as browsers do, and a static file as the floor. wrk, the app
// and MongoDB share this machine's 2 cores (and so does anything else running: the load average
// before each run is printed). Also reports one cold request (read + render) right after an update.
//
// Run: npm run bench -- web-load   (or: node bin/run-ts bench/web-load.ts)   [needs /usr/bin/wrk]
import { spawn } from 'node:child_process';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { seededRandom, syntheticSession } from '../src/demo/synthetic-sessions.ts';
import type { VpnSession } from '../src/domain.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics } from '../src/metrics.ts';
import { startMongoJavaServer, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen } from '../test/support/browser.ts';
import { goodRead, testPoller } from '../test/support/data.ts';

export interface WebLoadOptions {
  sessions: number;
  servers: number;
  connections: number;
  threads: number;
  durationSeconds: number;
  mongoUri?: string;
}

export interface WebLoadRow {
  endpoint: string;
  encoding: 'identity' | 'gzip';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  kbPerResponse: number;
  errors: number;
  /** How long the app's event loop was blocked (the part of latency that is ours, not the socket's). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** The machine's 1-minute load average just before the run: wrk, the app and MongoDB share 2 cores with anything else running. */
  loadBefore: number;
}

export interface WebLoadResult {
  options: WebLoadOptions;
  rows: WebLoadRow[];
  /** One request right after a LiveFeed update: store read + render (+ gzip), no other load. */
  coldMs: { page: number; apiStatus: number };
}

const DEFAULTS: WebLoadOptions = { sessions: 5000, servers: 10, connections: 100, threads: 2, durationSeconds: 10 };

/** wrk prints `9.52ms`, `812.00us`, `1.02s`. */
function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`unexpected wrk time '${text}'`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

/** wrk prints `1.23GB`, `512.00KB`. */
function toKb(text: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text);
  if (!m) throw new Error(`unexpected wrk size '${text}'`);
  return Number(m[1]) * { B: 1 / 1024, KB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 }[m[2] as 'B' | 'KB' | 'MB' | 'GB' | 'TB'];
}

function runWrk(url: string, o: WebLoadOptions, headers: string[]): Promise<string> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSeconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  return new Promise((resolve, reject) => {
    const wrk = spawn('/usr/bin/wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    wrk.stdout.on('data', (d: Buffer) => (out += d));
    wrk.stderr.on('data', (d: Buffer) => (out += d));
    wrk.once('error', (err) => reject(new Error(`cannot run /usr/bin/wrk (apt-get install -y wrk): ${err.message}`)));
    wrk.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

function parseWrk(out: string): Omit<WebLoadRow, 'endpoint' | 'encoding' | 'loopDelayP99Ms' | 'loopDelayMaxMs' | 'loadBefore'> {
  const field = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`wrk output lacks ${re}:\n${out}`);
    return m;
  };
  const requests = Number(field(/(\d+) requests in [\d.]+\w+, ([\d.]+\w+) read/)[1]);
  const read = field(/\d+ requests in [\d.]+\w+, ([\d.]+\w+) read/)[1]!;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requestsPerSecond: Number(field(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50Ms: toMs(field(/^\s+50%\s+(\S+)\s*$/m)[1]!),
    p99Ms: toMs(field(/^\s+99%\s+(\S+)\s*$/m)[1]!),
    maxMs: toMs(field(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m)[1]!),
    kbPerResponse: requests ? toKb(read) / requests : 0,
    errors: (non2xx ? Number(non2xx[1]) : 0) + (socketErrors ? socketErrors.slice(1).reduce((n, x) => n + Number(x), 0) : 0),
  };
}

/** Sessions for `servers` servers, unique names across the fleet, each server its own address pool. */
function fleet(o: WebLoadOptions, now: Date): VpnSession[][] {
  const random = seededRandom(7);
  const perServer = Math.ceil(o.sessions / o.servers);
  return Array.from({ length: o.servers }, (_, s) =>
    Array.from({ length: Math.min(perServer, o.sessions - s * perServer) }, (_, i) => syntheticSession(s * perServer + i, i + 1, now, random, s * 8)));
}

export async function runWebLoadBench(options: Partial<WebLoadOptions> = {}): Promise<WebLoadResult> {
  const o = { ...DEFAULTS, ...options };
  let embedded: EmbeddedMongo | undefined;
  const uri = o.mongoUri ?? (embedded = await startMongoJavaServer()).uri;
  const store = await Store.open(uri, `vpnwatch_bench_web_${process.pid}`);
  const live = new LiveFeed();
  try {
    const names = Array.from({ length: o.servers }, (_, s) => `vpn-${String(s + 1).padStart(2, '0')}`);
    const poller = await testPoller(store, names, live);
    const now = new Date();
    const sessions = fleet(o, now);
    const readAt = (offsetS: number) => new Date(Math.floor(now.getTime() / 1000) * 1000 + offsetS * 1000).toISOString();
    await poller.apply(names.map((name, s) => goodRead(name, readAt(0), sessions[s]!)));
    // A few disconnects, so "recently disconnected" and "not online" have rows too.
    await poller.apply(names.map((name, s) => goodRead(name, readAt(30), sessions[s]!.slice(5))));
    const online = (await store.queries.online()).length;
    if (online !== o.sessions - 5 * o.servers) throw new Error(`seeded ${online} online sessions, expected ${o.sessions - 5 * o.servers}`);

    const config = loadConfig({ VPNWATCH_ADMIN_TOKEN: 'bench-admin-token' }, '/nonexistent');
    const app = createWebApp({ store, config, metrics: createMetrics(), live });
    const server = await listen(app);
    try {
      const get = async (path: string) => {
        const res = await fetch(server.url + path, { headers: { 'accept-encoding': 'gzip' } });
        await res.arrayBuffer();
      };
      const cold = async (path: string) => {
        await get(path); // compiles the template and warms the JIT: not what an update costs
        live.publish({ events: [], servers: ['vpn-01'], sessions: ['vpn-01'], health: [], counters: [], at: new Date().toISOString() });
        const t = performance.now();
        await get(path);
        return performance.now() - t;
      };
      const coldMs = { page: await cold('/'), apiStatus: await cold('/api/status') };
      const rows: WebLoadRow[] = [];
      // The last row is the floor: a 100-byte static file, what this machine gives any response under the same load.
      const runs = [['/', 'identity'], ['/', 'gzip'], ['/api/status', 'identity'], ['/api/status', 'gzip'], ['/static/favicon.svg', 'identity']] as const;
      for (const [endpoint, encoding] of runs) {
        const loadBefore = os.loadavg()[0]!;
        const loop = monitorEventLoopDelay({ resolution: 5 });
        loop.enable();
        const out = await runWrk(server.url + endpoint, o, encoding === 'gzip' ? ['Accept-Encoding: gzip'] : []);
        loop.disable();
        rows.push({ endpoint, encoding, ...parseWrk(out), loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6, loadBefore });
      }
      return { options: o, rows, coldMs };
    } finally {
      await server.close();
    }
  } finally {
    await store.connection.dropDatabase().catch(() => undefined);
    await store.close();
    await embedded?.stop();
  }
}

export function printWebLoadBench(r: WebLoadResult): void {
  const o = r.options;
  console.log(`${o.sessions - 5 * o.servers} online sessions over ${o.servers} servers; wrk -t${o.threads} -c${o.connections} -d${o.durationSeconds}s --latency`);
  console.log(`cold request after an update: / ${r.coldMs.page.toFixed(0)} ms, /api/status ${r.coldMs.apiStatus.toFixed(0)} ms\n`);
  console.log('| endpoint            | encoding | requests/s | p50 ms | p99 ms | max ms | KB/response | errors | loop delay p99 / max ms | load before |');
  console.log('|---------------------|----------|-----------:|-------:|-------:|-------:|------------:|-------:|------------------------:|------------:|');
  for (const row of r.rows) {
    console.log(`| ${row.endpoint.padEnd(19)} | ${row.encoding.padEnd(8)} | ${row.requestsPerSecond.toFixed(0).padStart(10)} | ${row.p50Ms.toFixed(1).padStart(6)} | ${row.p99Ms.toFixed(1).padStart(6)} | ${row.maxMs.toFixed(0).padStart(6)} | ${row.kbPerResponse.toFixed(0).padStart(11)} | ${String(row.errors).padStart(6)} | ${`${row.loopDelayP99Ms.toFixed(0)} / ${row.loopDelayMaxMs.toFixed(0)}`.padStart(23)} | ${row.loadBefore.toFixed(2).padStart(11)} |`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printWebLoadBench(await runWebLoadBench(process.env.MONGODB_URI ? { mongoUri: process.env.MONGODB_URI } : {}));
}
