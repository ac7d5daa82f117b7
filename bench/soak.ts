// A long run of the real service under ordinary load: `vpnwatch start` (its own process, as
// deployed) watching a fleet of simulated VPN servers (another process) with churn and their
// management interfaces streamed, three open /api/stream clients and a steady page load, on a
// MongoDB-wire server. Samples the service from outside: RSS, V8 heap and event-loop lag (its
// /metrics), open file descriptors and SSH connections (/proc), and the bytes it logs at the
// default level. Reports the slope of RSS and heap after warm-up (what a leak shows as), the
// event-loop lag p99, what leaked between the start and the end, and the log volume per day.
//
// Run: npm run bench -- soak   [SOAK_MINUTES=30 SOAK_SERVERS=200 SOAK_SESSIONS=100 MONGODB_URI=… SOAK_LOG=file for the service's log]
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ServerConfig } from '../src/domain.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { freePort } from '../test/support/free-port.ts';

export interface SoakOptions {
  minutes: number;
  servers: number;
  sessions: number;
  /** The first part of the run, left out of the slopes (caches fill, V8 sizes its heap). */
  warmupFraction: number;
  mongoUri?: string;
}

interface Sample {
  atMinutes: number;
  rssMb: number;
  heapMb: number;
  lagP99Ms: number;
  fds: number;
  sshConnections: number;
}

export interface SoakResult {
  options: SoakOptions;
  samples: Sample[];
  rssSlopeMbPerHour: number;
  heapSlopeMbPerHour: number;
  lagP99Ms: { median: number; max: number };
  start: { fds: number; sshConnections: number };
  end: { fds: number; sshConnections: number };
  logBytesPerDay: number;
  pageRequests: number;
  pageErrors: number;
  streamUpdates: number;
}

const PASSWORD = 'soak-simulated-fleet';
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');


/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { 'accept-encoding': 'gzip' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** A value of the Prometheus text whose metric name ends with `suffix` (prom-client's process metrics). */
function metric(text: string, suffix: string): number | null {
  const line = text.split('\n').find((l) => !l.startsWith('#') && l.split(/[{ ]/)[0]!.endsWith(suffix));
  return line ? Number(line.split(' ').at(-1)) : null;
}

/** The service's open descriptors, and its TCP connections to the simulated servers' SSH ports. */
function processCounts(pid: number, sshPorts: Set<number>): { fds: number; sshConnections: number } {
  const fdDir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  let fds = 0;
  for (const fd of fs.readdirSync(fdDir)) {
    fds++;
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(path.join(fdDir, fd)));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  let sshConnections = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '01') continue; // ESTABLISHED only
      const remotePort = parseInt(cols[2]!.split(':')[1]!, 16);
      if (sshPorts.has(remotePort) && inodes.has(cols[9]!)) sshConnections++;
    }
  }
  return { fds, sshConnections };
}

function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export async function runSoakBench(options: SoakOptions): Promise<SoakResult> {
  const mongo = options.mongoUri ? null : await startMongoJavaServer();
  const mongoUri = `${options.mongoUri ?? mongo!.uri}/vpnwatch_soak_${Date.now()}`;
  const fleet = fork(path.join(import.meta.dirname, '..', 'bin', 'run-ts'), [path.join(import.meta.dirname, 'sim-fleet-process.ts')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const fleetMessage = () => new Promise<unknown>((resolve) => fleet.once('message', resolve));
  fleet.send({ servers: options.servers, sessions: options.sessions, management: true, password: PASSWORD });
  const { configs } = (await fleetMessage()) as { configs: ServerConfig[] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-soak-'));
  fs.writeFileSync(path.join(dir, 'servers.yml'), `servers:\n${configs.map((c) =>
    `  - { name: ${c.name}, host: ${c.host}, port: ${c.port}, username: ${c.username}, passwordEnv: SIM_PW, hostKey: '${c.hostKey}', statusPath: ${c.statusPath}, statusRefresh: 60, management: { host: 127.0.0.1, port: ${c.management!.port} } }`).join('\n')}\n`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let logBytes = 0;
  let logSince = 0;
  let output = '';
  const service: ChildProcess = spawn(bin, ['start'], {
    // PAGE_ACCESS=public: the load is anonymous page views (a servers file would make the page private).
    cwd: dir, env: { ...process.env, MONGODB_URI: mongoUri, PORT: String(port), POLL_INTERVAL: '30', SIM_PW: PASSWORD, LOG_LEVEL: 'info', PAGE_ACCESS: 'public' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let serviceStarted = false;
  let lastChunk = '';
  const onLog = (d: Buffer) => {
    logBytes += d.length;
    // The start line can come after more than the first 20 kB kept (a line per streamed server).
    const text = d.toString();
    if (!serviceStarted && /vpnwatch started/.test(lastChunk.slice(-100) + text)) serviceStarted = true;
    lastChunk = text;
    if (output.length < 20_000) output += text;
    if (process.env.SOAK_LOG) fs.appendFileSync(process.env.SOAK_LOG, text);
  };
  service.stdout!.on('data', onLog);
  service.stderr!.on('data', onLog);
  const sshPorts = new Set(configs.map((c) => c.port));
  const timers: NodeJS.Timeout[] = [];
  const streams: http.ClientRequest[] = [];
  let pageRequests = 0;
  let pageErrors = 0;
  let streamUpdates = 0;
  try {
    const deadline = Date.now() + 120_000;
    while (!serviceStarted) {
      if (Date.now() > deadline || service.exitCode !== null) throw new Error(`the service did not start (exit ${service.exitCode}, signal ${service.signalCode}, ${logBytes} bytes logged):\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Three open pages' live streams, and a steady page load: `/` every 200 ms, /api/status every 500 ms.
    for (let i = 0; i < 3; i++) {
      const req = http.get(`${base}/api/stream`, (res) => res.on('data', (chunk: Buffer) => { streamUpdates += (chunk.toString().match(/event: update/g) ?? []).length; }));
      req.on('error', () => undefined);
      streams.push(req);
    }
    const load = (url: string, everyMs: number) => timers.push(setInterval(() => {
      pageRequests++;
      void get(url).then((status) => { if (status !== 200) pageErrors++; });
    }, everyMs));
    load(`${base}/`, 200);
    load(`${base}/api/status`, 500);
    timers.push(setInterval(() => fleet.send('churn'), 30_000));

    const samples: Sample[] = [];
    const started = Date.now();
    const end = started + options.minutes * 60_000;
    const warmupEnd = started + options.minutes * options.warmupFraction * 60_000;
    let first: { fds: number; sshConnections: number } | undefined;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10_000));
      const text = await new Promise<string>((resolve) => {
        http.get(`${base}/metrics`, (res) => { let b = ''; res.on('data', (d: Buffer) => { b += d.toString(); }); res.on('end', () => resolve(b)); }).on('error', () => resolve(''));
      });
      const counts = processCounts(service.pid!, sshPorts);
      const sample: Sample = {
        atMinutes: (Date.now() - started) / 60_000,
        rssMb: rssMbOf(service.pid!),
        heapMb: (metric(text, 'heap_size_used_bytes') ?? 0) / 1e6,
        lagP99Ms: (metric(text, 'eventloop_lag_p99_seconds') ?? 0) * 1000,
        ...counts,
      };
      samples.push(sample);
      if (Date.now() >= warmupEnd && !first) {
        first = counts;
        logSince = logBytes;
      }
      if (process.env.SOAK_VERBOSE) console.log(JSON.stringify(sample));
    }
    const measured = samples.filter((s) => s.atMinutes >= options.minutes * options.warmupFraction);
    const last = measured.at(-1) ?? samples.at(-1)!;
    const measuredMinutes = options.minutes * (1 - options.warmupFraction);
    return {
      options,
      samples,
      rssSlopeMbPerHour: slope(measured.map((s) => [s.atMinutes / 60, s.rssMb])),
      heapSlopeMbPerHour: slope(measured.map((s) => [s.atMinutes / 60, s.heapMb])),
      lagP99Ms: { median: median(measured.map((s) => s.lagP99Ms)), max: Math.max(...measured.map((s) => s.lagP99Ms)) },
      start: first ?? { fds: 0, sshConnections: 0 },
      end: { fds: last.fds, sshConnections: last.sshConnections },
      logBytesPerDay: ((logBytes - logSince) / measuredMinutes) * 60 * 24,
      pageRequests,
      pageErrors,
      streamUpdates,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of streams) s.destroy();
    if (service.exitCode === null) {
      service.kill('SIGTERM');
      await new Promise((r) => service.once('exit', r));
    }
    fleet.disconnect();
    await mongo?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function printSoakBench(r: SoakResult): void {
  const o = r.options;
  console.log(`${o.minutes} min, ${o.servers} simulated servers × ${o.sessions} sessions, 2% churn every 30 s, management streams on, 3 open /api/stream clients, GET / every 200 ms and /api/status every 500 ms; the first ${Math.round(o.warmupFraction * 100)}% is warm-up`);
  console.log(`RSS slope after warm-up:  ${r.rssSlopeMbPerHour.toFixed(1)} MB/h   (RSS ${r.samples.at(-1)?.rssMb.toFixed(0)} MB at the end)`);
  console.log(`heap slope after warm-up: ${r.heapSlopeMbPerHour.toFixed(1)} MB/h   (heap used ${r.samples.at(-1)?.heapMb.toFixed(0)} MB at the end)`);
  console.log(`event-loop lag p99:       median ${r.lagP99Ms.median.toFixed(1)} ms, max ${r.lagP99Ms.max.toFixed(1)} ms (per 10 s sample)`);
  console.log(`file descriptors:         ${r.start.fds} after warm-up, ${r.end.fds} at the end`);
  console.log(`SSH connections open:     ${r.start.sshConnections} after warm-up, ${r.end.sshConnections} at the end (one per streamed server, plus polls in flight)`);
  console.log(`log volume (level info):  ${(r.logBytesPerDay / 1e6).toFixed(1)} MB/day`);
  console.log(`page requests:            ${r.pageRequests} (${r.pageErrors} not 200); stream updates received: ${r.streamUpdates}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
  printSoakBench(await runSoakBench({
    minutes: n('SOAK_MINUTES', 30), servers: n('SOAK_SERVERS', 200), sessions: n('SOAK_SESSIONS', 100), warmupFraction: 1 / 6,
    ...(process.env.MONGODB_URI ? { mongoUri: process.env.MONGODB_URI } : {}),
  }));
}
