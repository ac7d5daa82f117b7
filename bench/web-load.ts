// The page under load: 5,000 online sessions over 50 servers (stored by the real Poller in a
// MongoDB-wire server: mongo-java-server here, or MONGODB_URI), the real app on 127.0.0.1.
//
// 1. Latency: wrk (Debian's) with 100 connections, sending `Accept-Encoding: gzip` as browsers do,
//    against `/` (one URL, and cycling through every sort, direction and three pages), a server
//    filter, a search, paged `/api/status` (cycling through its pages), `/api/users/:name`
//    (cycling through every user), the whole `/api/status`, and a static file as the floor. wrk,
//    the app and MongoDB share this machine's 2 cores (the load average before each run is printed).
// 2. Event-loop use while 50 servers stream (a management read of each every 2 s, counters moving),
//    quiet and with people coming and going, without pages and with 10 open Chromium tabs, and what
//    the live stream and the pages cost: updates sent, view.json fetches and their 304s.
//
// Run: npm run bench -- web-load   (or: node bin/run-ts bench/web-load.ts)   [needs /usr/bin/wrk; Chromium for part 2]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { seededRandom, syntheticSession } from '../src/demo/synthetic-sessions.ts';
import { userName, type VpnSession } from '../src/domain.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics } from '../src/metrics.ts';
import { startMongoJavaServer, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { SORT_KEYS } from '../src/web/view-query.ts';
import { logger } from '../src/log.ts';
import { CHROMIUM, CHROMIUM_ARGS, chromiumPrerequisite, listen } from '../test/support/browser.ts';
import { goodRead, testPoller } from '../test/support/data.ts';

export interface WebLoadOptions {
  /** Online sessions (spread evenly over the servers). */
  sessions: number;
  servers: number;
  connections: number;
  threads: number;
  durationSeconds: number;
  /** Seconds per phase of the streaming measurement. */
  streamSeconds: number;
  tabs: number;
  mongoUri?: string;
}

export interface WebLoadRow {
  name: string;
  /** How many different URLs the run cycles through. */
  urls: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  kbPerResponse: number;
  errors: number;
  /** How long the app's event loop was blocked (the part of latency that is ours, not the socket's). */
  loopDelayP99Ms: number;
  loadBefore: number;
}

export interface StreamRow {
  phase: string;
  tabs: number;
  /** Event-loop utilisation of the app's process over the phase (0..1): poller, store and web. */
  elu: number;
  /** What /api/stream sent over the phase: updates (the version changed) and version pings. */
  updates: number;
  pings: number;
  viewFetches: number;
  notModified: number;
}

export interface WebLoadResult {
  options: WebLoadOptions;
  online: number;
  /** One request right after someone came or went: store read, sort, render, gzip; no other load. */
  coldMs: { page: number; apiStatus: number };
  rows: WebLoadRow[];
  stream: StreamRow[] | string;
}

const DEFAULTS: WebLoadOptions = { sessions: 5000, servers: 50, connections: 100, threads: 2, durationSeconds: 10, streamSeconds: 30, tabs: 10 };
const LEAVING_PER_SERVER = 5;

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

/** A wrk script that cycles through `paths` (each wrk thread from its own start). */
function cycleScript(dir: string, paths: string[]): string {
  const file = path.join(dir, `cycle-${paths.length}-${Math.random().toString(36).slice(2)}.lua`);
  fs.writeFileSync(file, `local paths = {\n${paths.map((p) => `  ${JSON.stringify(p)},`).join('\n')}\n}\nlocal i = math.random(#paths)\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`);
  return file;
}

function runWrk(url: string, o: WebLoadOptions, script?: string): Promise<string> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSeconds}s`, '--latency', '-H', 'Accept-Encoding: gzip', ...(script ? ['-s', script] : []), url];
  return new Promise((resolve, reject) => {
    const wrk = spawn('/usr/bin/wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    wrk.stdout.on('data', (d: Buffer) => (out += d));
    wrk.stderr.on('data', (d: Buffer) => (out += d));
    wrk.once('error', (err) => reject(new Error(`cannot run /usr/bin/wrk (apt-get install -y wrk): ${err.message}`)));
    wrk.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

function parseWrk(out: string): Pick<WebLoadRow, 'requestsPerSecond' | 'p50Ms' | 'p99Ms' | 'maxMs' | 'kbPerResponse' | 'errors'> {
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

/** Sessions per server, unique names across the fleet, each server its own address pool. */
function fleet(o: WebLoadOptions, now: Date): VpnSession[][] {
  const random = seededRandom(7);
  const perServer = Math.ceil(o.sessions / o.servers) + LEAVING_PER_SERVER;
  return Array.from({ length: o.servers }, (_, s) =>
    Array.from({ length: perServer }, (_, i) => syntheticSession(s * perServer + i, s * perServer + i + 1, now, random, s * 4)));
}

const bump = (s: VpnSession, bytes: number): VpnSession => ({ ...s, bytesReceived: s.bytesReceived + bytes, bytesSent: s.bytesSent + 2 * bytes });

export async function runWebLoadBench(options: Partial<WebLoadOptions> = {}): Promise<WebLoadResult> {
  const o = { ...DEFAULTS, ...options };
  // The poller logs every connect and disconnect at info: thousands of lines here.
  logger.level = 'warn';
  let embedded: EmbeddedMongo | undefined;
  const uri = o.mongoUri ?? (embedded = await startMongoJavaServer()).uri;
  const store = await Store.open(uri, `vpnwatch_bench_web_${process.pid}`);
  const live = new LiveFeed();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-web-load-'));
  try {
    const names = Array.from({ length: o.servers }, (_, s) => `vpn-${String(s + 1).padStart(2, '0')}`);
    const poller = await testPoller(store, names, live);
    const started = Date.now();
    const sessions = fleet(o, new Date(started));
    const readAt = (offsetS: number) => new Date(Math.floor(started / 1000) * 1000 + offsetS * 1000).toISOString();
    await poller.apply(names.map((name, s) => goodRead(name, readAt(0), sessions[s]!)));
    // A few disconnects, so "recently disconnected" and "not online" have rows too.
    const online = sessions.map((list) => list.slice(LEAVING_PER_SERVER));
    await poller.apply(names.map((name, s) => goodRead(name, readAt(1), online[s]!)));
    const count = (await store.queries.online()).length;
    if (count !== o.sessions) throw new Error(`seeded ${count} online sessions, expected ${o.sessions}`);

    const config = loadConfig({ PAGE_ACCESS: 'public' }, '/nonexistent');
    const app = createWebApp({ store, config, metrics: createMetrics(), live });
    const server = await listen(app);
    // What the stream and the pages cost: updates sent, view.json answers.
    const counts = { viewFetches: 0, notModified: 0 };
    server.server.on('request', (req, res) => {
      if (!req.url?.startsWith('/view.json')) return;
      counts.viewFetches++;
      res.once('finish', () => { if (res.statusCode === 304) counts.notModified++; });
    });
    try {
      const users = [...new Set(online.flat().map(userName))];
      const pages = Math.ceil(o.sessions / 100);
      const anySort = SORT_KEYS.flatMap((sort) => (['asc', 'desc'] as const).flatMap((dir) => [1, 2, 3].map((page) => `/?sort=${sort}&dir=${dir}${page > 1 ? `&page=${page}` : ''}`)));
      const runs: { name: string; path: string; cycle?: string[] }[] = [
        { name: '`/`', path: '/' },
        { name: '`/` every sort × direction × 3 pages', path: '/', cycle: anySort },
        { name: '`/?server=vpn-07` (a filter)', path: '/?server=vpn-07' },
        { name: '`/?q=203.0.113` (a search)', path: '/?q=203.0.113' },
        { name: '`/api/status?page=N&per=100`', path: '/api/status', cycle: Array.from({ length: pages }, (_, i) => `/api/status?page=${i + 1}&per=100`) },
        { name: '`/api/users/:name`, 20 users', path: '/api/users/x', cycle: users.slice(0, 20).map((u) => `/api/users/${encodeURIComponent(u)}`) },
        { name: '`/api/users/:name`, every user', path: '/api/users/x', cycle: users.map((u) => `/api/users/${encodeURIComponent(u)}`) },
        { name: '`/api/status` (all sessions)', path: '/api/status' },
        { name: '`/static/favicon.svg` (floor)', path: '/static/favicon.svg' },
      ];
      // Cold: the first request after someone came or went (store read of that server, sort, render, gzip).
      const fetchGzip = async (p: string) => { const res = await fetch(server.url + p, { headers: { 'accept-encoding': 'gzip' } }); await res.arrayBuffer(); };
      const cold = async (p: string) => {
        await fetchGzip(p); // compiles the template and warms the JIT: not what an update costs
        const moved = online[0]!.slice(1);
        online[0] = moved;
        await poller.apply([goodRead(names[0]!, new Date().toISOString(), moved)]);
        const t = performance.now();
        await fetchGzip(p);
        return performance.now() - t;
      };
      const coldMs = { page: await cold('/?sort=in&dir=desc'), apiStatus: await cold('/api/status?page=2') };
      // A first load of a few seconds, not measured: JIT, the heap after seeding, the sockets.
      await runWrk(server.url + '/', { ...o, durationSeconds: 3 });
      const rows: WebLoadRow[] = [];
      for (const run of runs) {
        // Steady state: every URL of the run once before it is measured (cold costs are above).
        for (const p of run.cycle ?? [run.path]) await fetchGzip(p);
        const loadBefore = os.loadavg()[0]!;
        const loop = monitorEventLoopDelay({ resolution: 5 });
        loop.enable();
        const out = await runWrk(server.url + run.path, o, run.cycle ? cycleScript(tmp, run.cycle) : undefined);
        loop.disable();
        rows.push({ name: run.name, urls: run.cycle?.length ?? 1, ...parseWrk(out), loopDelayP99Ms: loop.percentile(99) / 1e6, loadBefore });
      }

      let stream: StreamRow[] | string;
      const chromium = chromiumPrerequisite();
      if (!chromium.ok) {
        stream = `skipped: ${chromium.why}`;
      } else {
        stream = await measureStreaming(o, { url: server.url, names, online, poller, counts });
      }
      return { options: o, online: count, coldMs, rows, stream };
    } finally {
      app.closeStreams();
      await server.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    await store.connection.dropDatabase().catch(() => undefined);
    await store.close();
    await embedded?.stop();
  }
}

/**
 * 50 servers streaming: each server read every 2 s (spread over the 2 s), counters moving; in the
 * churn phases someone connects or leaves every 2 s. Each phase without pages, then with `tabs`
 * Chromium tabs open on `/` (one browser: they share one stream).
 */
async function measureStreaming(
  o: WebLoadOptions,
  ctx: { url: string; names: string[]; online: VpnSession[][]; poller: Awaited<ReturnType<typeof testPoller>>; counts: { viewFetches: number; notModified: number } },
): Promise<StreamRow[]> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const lists = ctx.online.map((l) => [...l]);
  let tick = 0;
  let churn = false;
  let running = true;
  let clientId = 1_000_000;
  const reader = (async () => {
    while (running) {
      const round = performance.now();
      tick++;
      for (let s = 0; s < ctx.names.length && running; s++) {
        let list = lists[s]!.map((x) => bump(x, 1000 + ((tick * 31 + s) % 97)));
        // Churn: one server a round has someone leave and someone new come.
        if (churn && s === tick % ctx.names.length) list = [...list.slice(1), { ...list[0]!, commonName: `newcomer-${clientId}`, clientId: clientId++, bytesReceived: 0, bytesSent: 0 }];
        lists[s] = list;
        await ctx.poller.apply([{ ...goodRead(ctx.names[s]!, new Date().toISOString(), list), source: 'management' }]);
        const due = round + ((s + 1) * 2000) / ctx.names.length - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
      }
    }
  })();
  // What /api/stream sends, counted by a client of its own (an eleventh page, as it were).
  const sent = { update: 0, version: 0 };
  const abort = new AbortController();
  const listening = (async () => {
    const res = await fetch(`${ctx.url}/api/stream`, { signal: abort.signal });
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      for (const m of decoder.decode(chunk as Uint8Array).matchAll(/^event: (update|version)$/gm)) sent[m[1] as 'update' | 'version']++;
    }
  })().catch(() => undefined);
  const rows: StreamRow[] = [];
  try {
    for (const withChurn of [false, true]) {
      churn = withChurn;
      for (const tabs of [0, o.tabs]) {
        const context = tabs ? await browser.newContext() : undefined;
        for (let i = 0; i < tabs; i++) await (await context!.newPage()).goto(ctx.url);
        await new Promise((r) => setTimeout(r, 3000)); // settle: first fetches, the stream opening
        const before = { ...ctx.counts, ...sent };
        const elu = performance.eventLoopUtilization();
        await new Promise((r) => setTimeout(r, o.streamSeconds * 1000));
        const used = performance.eventLoopUtilization(elu);
        rows.push({
          phase: withChurn ? 'someone comes or goes every 2 s' : 'nobody comes or goes', tabs, elu: used.utilization,
          updates: sent.update - before.update, pings: sent.version - before.version,
          viewFetches: ctx.counts.viewFetches - before.viewFetches, notModified: ctx.counts.notModified - before.notModified,
        });
        await context?.close();
      }
    }
  } finally {
    running = false;
    abort.abort();
    await listening;
    await reader;
    await browser.close();
  }
  return rows;
}

export function printWebLoadBench(r: WebLoadResult): void {
  const o = r.options;
  console.log(`${r.online} online sessions over ${o.servers} servers; wrk -t${o.threads} -c${o.connections} -d${o.durationSeconds}s --latency -H 'Accept-Encoding: gzip'`);
  console.log(`cold request right after someone came or went: / ${r.coldMs.page.toFixed(0)} ms, /api/status?page=2 ${r.coldMs.apiStatus.toFixed(0)} ms\n`);
  console.log('| run | URLs | requests/s | p50 ms | p99 ms | max ms | KB/response | errors | loop delay p99 ms | load before |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const row of r.rows) {
    console.log(`| ${row.name} | ${row.urls} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms.toFixed(1)} | ${row.p99Ms.toFixed(1)} | ${row.maxMs.toFixed(0)} | ${row.kbPerResponse.toFixed(1)} | ${row.errors} | ${row.loopDelayP99Ms.toFixed(0)} | ${row.loadBefore.toFixed(2)} |`);
  }
  const floor = r.rows.at(-1)!.p99Ms;
  const target = floor > 33 ? Math.max(50, 1.5 * floor) : 50;
  console.log(`\nTarget p99: under 50 ms, or 1.5 × the static floor (${floor.toFixed(1)} ms) when that is above 33 ms: ${target.toFixed(1)} ms here.`);
  for (const row of r.rows.slice(0, -2)) console.log(`  ${row.p99Ms <= target ? 'met    ' : 'NOT MET'} ${row.name}: ${row.p99Ms.toFixed(1)} ms`);
  console.log(`\n${o.servers} servers streaming (a read of each every 2 s), ${o.streamSeconds} s per row:\n`);
  if (typeof r.stream === 'string') {
    console.log(r.stream);
    return;
  }
  console.log('| phase | open tabs | event loop busy | stream: updates / pings | view.json fetches | of them 304 |');
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const s of r.stream) console.log(`| ${s.phase} | ${s.tabs} | ${(s.elu * 100).toFixed(0)} % | ${s.updates} / ${s.pings} | ${s.viewFetches} | ${s.notModified} |`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printWebLoadBench(await runWebLoadBench(process.env.MONGODB_URI ? { mongoUri: process.env.MONGODB_URI } : {}));
}
