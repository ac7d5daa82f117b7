// Poll cycle at scale: 200 simulated servers (in-process ssh2 servers serving status-version 2
// over SFTP) with 500 sessions each and 2% churn per cycle, read by the real Bree job in a worker
// thread, diffed and stored by the real Poller in a MongoDB-wire server (mongo-java-server here,
// in memory or, with ENGINE=h2, on its H2 file as `vpnwatch start` runs it offline; or
// MONGODB_URI). Reports cycle time, CPU, RSS and MongoDB operations per cycle, and for an engine it
// started, that engine's start time, its CPU per cycle and (H2) the size of its file.
//
// Two ways to treat SSH connections are measured, because the README's choice rests on it:
//   per-cycle: the production job: a fresh worker per cycle opens and closes its connections;
//   kept-open: one long-lived worker keeps a connection per server between cycles.
// The simulated servers run in a child process: CPU and RSS are vpnwatch's (main + worker threads).
//
// Run: npm run bench -- poll-cycle   [SERVERS=200 SESSIONS=500 CYCLES=5 ENGINE=memory|h2 HEAP=v8]
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { fork } from 'node:child_process';
import type { ServerConfig } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import { HeldError, Poller, type CycleReport } from '../src/poll/poller.ts';
import { ReadBatcher } from '../src/poll/read-batcher.ts';
import { createPollScheduler, stopScheduler } from '../src/poll/scheduler.ts';
import { Store } from '../src/store/store.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import type { PollJobMessage } from '../src/poll/job-messages.ts';
import { keepHeapNearLive } from '../src/heap.ts';

export interface PollCycleRow {
  mode: 'per-cycle' | 'kept-open';
  servers: number;
  sessions: number;
  cycleMs: { median: number; max: number };
  cpuMsPerCycle: number;
  rssMb: number;
  mongoOpsPerCycle: number;
  eventsPerCycle: number;
  /** memory, h2, or MONGODB_URI (then the engine figures below are null). */
  engine: string;
  engineStartMs: number | null;
  engineCpuMsPerCycle: number | null;
  /** H2: the file's size after the measured cycles, with the session documents it then held. */
  dataMb: number | null;
  sessionDocs: number;
}

type Engine = 'memory' | 'h2';

/** CPU time (user + system) of another process so far, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name; in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Fleet {
  configs: ServerConfig[];
  churn(): Promise<void>;
  close(): Promise<void>;
}

/** The simulated servers live in a child process: the figures below are vpnwatch's own. */
async function startFleet(servers: number, sessionsPerServer: number): Promise<Fleet> {
  const child = fork(path.join(import.meta.dirname, '..', 'bin', 'run-ts'), [path.join(import.meta.dirname, 'sim-fleet-process.ts')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let failed: Error | undefined;
  child.once('exit', (code) => { failed = new Error(`simulated fleet exited (${code})`); });
  const next = () => new Promise<unknown>((resolve, reject) => {
    if (failed) return reject(failed);
    child.once('message', resolve);
  });
  child.send({ servers, sessions: sessionsPerServer });
  const ready = (await next()) as { configs: ServerConfig[] };
  return {
    configs: ready.configs,
    churn: async () => { child.send('churn'); await next(); },
    close: async () => { child.disconnect(); await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r))); },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A long-lived worker that keeps its SSH pool between cycles (the alternative to the Bree job). */
function keptOpenReader(onMessage: (m: PollJobMessage) => void): { cycle(servers: unknown[], concurrency: number, timeoutMs: number): void; stop(): Promise<void> } {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const script = pathToFileURL(path.join(import.meta.dirname, 'kept-open-worker.ts')).href;
  const code = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(script)});\n`;
  // The same heap cap as the production job's worker (src/scheduler.ts).
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } });
  worker.on('message', onMessage);
  return {
    cycle: (servers, concurrency, timeoutMs) => worker.postMessage({ servers, concurrency, timeoutMs }),
    stop: async () => { await worker.terminate(); },
  };
}

/**
 * The poller's apply, waiting out a database that is too slow to answer in time (on a loaded
 * machine mongo-java-server can take longer than the socket timeout for a cycle's first, largest
 * writes): the poller holds the batch, and it is written again until the database takes it.
 */
async function applyOrWait(poller: Poller, reads: Parameters<Poller['apply']>[0]): Promise<CycleReport> {
  try {
    return await poller.apply(reads);
  } catch (err) {
    if (!(err instanceof HeldError)) throw err;
    for (let tries = 1; ; tries++) {
      try {
        await poller.flushHeld();
        return { servers: [], writes: { operations: 0, bulkWrites: 0 } };
      } catch (again) {
        if (!(again instanceof HeldError) || tries >= 10) throw again;
      }
    }
  }
}

export async function runPollCycleBench(opts: { servers?: number; sessions?: number; cycles?: number; mongoUri?: string; engine?: Engine } = {}): Promise<PollCycleRow[]> {
  // As `vpnwatch start` runs (src/cli/start.ts); HEAP=v8 measures V8's own sizing instead.
  if (process.env.HEAP !== 'v8') keepHeapNearLive();
  const servers = opts.servers ?? 200;
  const sessionsPerServer = opts.sessions ?? 500;
  const cycles = opts.cycles ?? 5;
  const log = logger.child({ bench: 'poll-cycle' });
  logger.level = 'error';
  const engine: Engine = opts.engine ?? 'memory';
  const h2Dir = !opts.mongoUri && engine === 'h2' ? fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-bench-h2-')) : null;
  const h2File = h2Dir ? path.join(h2Dir, 'vpnwatch.mv.db') : undefined;
  const tStart = performance.now();
  const mongo = opts.mongoUri ? null : await startMongoJavaServer(h2File ? { h2File } : {});
  const engineStartMs = mongo ? Math.round(performance.now() - tStart) : null;
  const uri = opts.mongoUri ?? mongo!.uri;
  const fleet = await startFleet(servers, sessionsPerServer);
  const configs = fleet.configs;
  const rows: PollCycleRow[] = [];
  try {
    for (const mode of (process.env.MODE ? [process.env.MODE] : ['per-cycle', 'kept-open']) as ('per-cycle' | 'kept-open')[]) {
      const store = await Store.open(uri, `vpnwatch_bench_${mode.replace('-', '_')}_${Date.now()}`);
      const poller = new Poller({ store, servers: configs, pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log });
      await poller.start();
      const times: number[] = [];
      let cpuMs = 0;
      let ops = 0;
      let events = 0;
      let rss = 0;
      let engineCpuMs = 0;
      /** `read` applies what it reads (in batches, as production does) and returns the reports. */
      const oneCycle = async (read: () => Promise<CycleReport[]>, measured: boolean) => {
        await fleet.churn();
        const cpu0 = process.cpuUsage();
        const engineCpu0 = mongo?.pid ? processCpuMs(mongo.pid) : 0;
        const t0 = performance.now();
        const reports = await read();
        const tRead = performance.now();
        const failed = reports.flatMap((r) => r.servers).filter((r) => !r.ok);
        if (failed.length) throw new Error(`${failed.length} reads failed, e.g. ${failed[0]!.error}`);
        const report = { writes: { operations: reports.reduce((n, r) => n + r.writes.operations, 0) }, servers: reports.flatMap((r) => r.servers) };
        const elapsed = performance.now() - t0;
        if (process.env.BENCH_DEBUG) { const gc = (globalThis as { gc?: () => void }).gc; if (gc) { gc(); console.log('heap in use after a full GC (node --expose-gc)', Math.round(process.memoryUsage().heapUsed / 1e6), 'MB'); } const m = process.memoryUsage(); console.log(mode, 'read', Math.round(tRead - t0), 'ms; apply after the last read', Math.round(performance.now() - tRead), 'ms; rss', Math.round(m.rss / 1e6), 'heap', Math.round(m.heapUsed / 1e6), '/', Math.round(m.heapTotal / 1e6), 'external', Math.round(m.external / 1e6), 'buffers', Math.round(m.arrayBuffers / 1e6), 'MB'); }
        const cpu = process.cpuUsage(cpu0);
        const engineCpu = mongo?.pid ? processCpuMs(mongo.pid) - engineCpu0 : 0;
        if (!measured) return;
        engineCpuMs += engineCpu;
        rss = Math.max(rss, process.memoryUsage().rss);
        times.push(elapsed);
        cpuMs += (cpu.user + cpu.system) / 1000;
        ops += report.writes.operations;
        events += report.servers.reduce((n, s) => n + s.events.length, 0);
      };
      const jobData = { servers: configs, concurrency: 16, timeoutMs: 30_000 };
      if (mode === 'per-cycle') {
        // The production path: Bree starts jobs/poll-servers.ts in a fresh worker for each cycle,
        // and a ReadBatcher hands the streamed reads to the poller 25 at a time.
        let reports: CycleReport[] = [];
        let cycleDone: (() => void) | undefined;
        const batcher = new ReadBatcher(
          async (reads) => { reports.push(await applyOrWait(poller, reads)); },
          (applied) => void applied.then(() => cycleDone?.()),
        );
        const bree = createPollScheduler({
          intervalSeconds: 3600, order: () => jobData, baseline: (server) => poller.online(server), closeWorkerAfterMs: 120_000, log,
          onMessage: (m) => batcher.take(m), onError: (err) => { throw err; },
        });
        const runOnce = () => new Promise<CycleReport[]>((resolve) => {
          reports = [];
          cycleDone = () => resolve(reports);
          void bree.run('poll-servers');
        });
        await oneCycle(runOnce, false); // baseline read
        for (let c = 0; c < cycles; c++) await oneCycle(runOnce, true);
        await stopScheduler(bree);
      } else {
        let reports: CycleReport[] = [];
        let cycleDone: (() => void) | undefined;
        const batcher = new ReadBatcher(
          async (reads) => { reports.push(await applyOrWait(poller, reads)); },
          (applied) => void applied.then(() => cycleDone?.()),
        );
        const reader = keptOpenReader((m) => batcher.take(m));
        const readAll = () => new Promise<CycleReport[]>((resolve) => {
          reports = [];
          cycleDone = () => resolve(reports);
          reader.cycle(configs, 16, 30_000);
        });
        await oneCycle(readAll, false); // baseline read, and the connections are opened
        for (let c = 0; c < cycles; c++) await oneCycle(readAll, true);
        await reader.stop();
      }
      rows.push({
        mode, servers, sessions: sessionsPerServer,
        cycleMs: { median: Math.round(median(times)), max: Math.round(Math.max(...times)) },
        cpuMsPerCycle: Math.round(cpuMs / cycles), rssMb: Math.round(rss / 1e6),
        mongoOpsPerCycle: Math.round(ops / cycles), eventsPerCycle: Math.round(events / cycles),
        engine: opts.mongoUri ? 'MONGODB_URI' : engine, engineStartMs,
        engineCpuMsPerCycle: mongo ? Math.round(engineCpuMs / cycles) : null,
        dataMb: h2File ? Math.round(fs.statSync(h2File).size / 1e5) / 10 : null,
        sessionDocs: await store.models.Session.estimatedDocumentCount(),
      });
      await store.connection.dropDatabase();
      await store.close();
    }
  } finally {
    await fleet.close();
    await mongo?.stop();
    if (h2Dir) fs.rmSync(h2Dir, { recursive: true, force: true });
  }
  return rows;
}

export function printPollCycleBench(rows: PollCycleRow[]): void {
  console.log('ssh connections  servers  sessions/server  cycle ms (median / max)  CPU ms/cycle  peak RSS MB  MongoDB ops/cycle  events/cycle  engine  engine start ms  engine CPU ms/cycle  data MB (sessions)');
  const orDash = (v: number | null) => (v === null ? '-' : String(v));
  for (const r of rows) {
    console.log(`${r.mode.padEnd(15)}  ${String(r.servers).padStart(7)}  ${String(r.sessions).padStart(15)}  ${`${r.cycleMs.median} / ${r.cycleMs.max}`.padStart(23)}  ${String(r.cpuMsPerCycle).padStart(12)}  ${String(r.rssMb).padStart(11)}  ${String(r.mongoOpsPerCycle).padStart(17)}  ${String(r.eventsPerCycle).padStart(12)}  ${r.engine.padEnd(6)}  ${orDash(r.engineStartMs).padStart(15)}  ${orDash(r.engineCpuMsPerCycle).padStart(19)}  ${`${orDash(r.dataMb)} (${r.sessionDocs})`.padStart(18)}`);
  }
}

/**
 * Each way of holding connections runs in a process of its own, so one's heap and threads do not
 * inflate the other's RSS. Rows come back as JSON on stdout.
 */
export async function runPollCycleBenchIsolated(): Promise<PollCycleRow[]> {
  const rows: PollCycleRow[] = [];
  for (const mode of ['per-cycle', 'kept-open']) {
    const child = fork(path.join(import.meta.dirname, '..', 'bin', 'run-ts'), [path.join(import.meta.dirname, 'poll-cycle.ts'), '--json'], {
      env: { ...process.env, MODE: mode }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    if (code !== 0) throw new Error(`poll-cycle (${mode}) exited ${code}`);
    rows.push(...(JSON.parse(out) as PollCycleRow[]));
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
  const opts: { servers?: number; sessions?: number; cycles?: number; mongoUri?: string; engine?: Engine } = {};
  if (env('SERVERS')) opts.servers = env('SERVERS')!;
  if (env('SESSIONS')) opts.sessions = env('SESSIONS')!;
  if (env('CYCLES')) opts.cycles = env('CYCLES')!;
  if (process.env.MONGODB_URI) opts.mongoUri = process.env.MONGODB_URI;
  const engine = process.env.ENGINE ?? 'memory';
  if (engine !== 'memory' && engine !== 'h2') throw new Error(`ENGINE must be memory or h2, not ${engine}`);
  opts.engine = engine;
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(await runPollCycleBench(opts)));
  else if (process.env.MODE) printPollCycleBench(await runPollCycleBench(opts));
  else printPollCycleBench(await runPollCycleBenchIsolated());
}
