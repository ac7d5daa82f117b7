// Replicas at scale (issue 14): 1,000 simulated servers × 1,000 sessions (in-process ssh2 SSH
// servers serving status-version 2 over SFTP, in a child process: bench/sim-fleet-process.ts),
// 2 % churn per POLL_INTERVAL, three real `vpnwatch start` processes at POLL_INTERVAL=60 sharing
// one database (mongo-java-server here, or MONGODB_URI). Everything shares this machine's cores.
// Reported per replica: servers held, poll cycle time (vpnwatch_poll_cycle_duration_seconds),
// MongoDB commands and write operations per cycle, peak RSS (VmHWM); then the takeover time after
// one replica is killed with SIGKILL, and whether any lease was lost to starvation.
//
// The replicas are registered in the database before they start, as replicas started together
// see each other within a heartbeat: the first does not take the whole fleet for its first cycle.
//
// Run: npm run bench -- replicas   [SERVERS=1000 SESSIONS=1000 REPLICAS=3 POLL_INTERVAL=60 CYCLES=3]
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServerConfig } from '../src/domain.ts';
import { serverLease } from '../src/poll/leases.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { freePort } from '../test/support/free-port.ts';

export interface ReplicaRow {
  id: string;
  held: number;
  cycles: number;
  cycleSeconds: number;
  commandsPerCycle: number;
  writeOpsPerCycle: number;
  peakRssMb: number;
  rssMb: number;
}

export interface ReplicasReport {
  servers: number;
  sessions: number;
  pollSeconds: number;
  leaseSeconds: number;
  rows: ReplicaRow[];
  /** The replica killed, how many servers it held, and how long until every one was held and read by a survivor. */
  takeover: { killed: string; servers: number; seconds: number };
  /** Leases given up because they were not renewed in time, over the whole run. */
  leasesLost: number;
}

const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/** The simulated fleet, in a child process of its own (its CPU and memory are not vpnwatch's). */
async function startFleet(servers: number, sessions: number): Promise<{ configs: ServerConfig[]; churn(): Promise<void>; close(): Promise<void> }> {
  const child = fork(path.join(import.meta.dirname, '..', 'bin', 'run-ts'), [path.join(import.meta.dirname, 'sim-fleet-process.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=8192'],
  });
  const next = () => new Promise<unknown>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`simulated fleet exited (${code})`));
    child.once('exit', exited);
    child.once('message', (m) => { child.off('exit', exited); resolve(m); });
  });
  child.send({ servers, sessions });
  const ready = (await next()) as { configs: ServerConfig[] };
  return {
    configs: ready.configs,
    churn: async () => { child.send('churn'); await next(); },
    close: async () => { child.disconnect(); await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r))); },
  };
}

/** Sums of one metric's samples in Prometheus text (all label sets). */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024);
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024);
}

export async function runReplicasBench(opts: { servers?: number; sessions?: number; replicas?: number; pollSeconds?: number; cycles?: number; mongoUri?: string } = {}): Promise<ReplicasReport> {
  const servers = opts.servers ?? 1000;
  const sessions = opts.sessions ?? 1000;
  const count = opts.replicas ?? 3;
  const pollSeconds = opts.pollSeconds ?? 60;
  const cycles = opts.cycles ?? 3;
  const mongo = opts.mongoUri ? null : await startMongoJavaServer();
  const dbName = `vpnwatch_bench_replicas_${Date.now()}`;
  const uri = `${opts.mongoUri ?? mongo!.uri}/${dbName}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-bench-replicas-'));
  const replicas: { id: string; port: number; child: ChildProcess; output: string }[] = [];
  let store: Store | undefined;
  let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
  let churning: NodeJS.Timeout | undefined;
  try {
    console.error(`starting ${servers} simulated servers × ${sessions} sessions…`);
    fleet = await startFleet(servers, sessions);
    const passwords: Record<string, string> = {};
    fs.writeFileSync(path.join(dir, 'servers.yml'), ['servers:', ...fleet.configs.map((c, i) => {
      passwords[`SIM_PW_${i}`] = c.password!;
      return `  - { name: ${c.name}, host: ${c.host}, port: ${c.port}, username: ${c.username}, passwordEnv: SIM_PW_${i}, hostKey: '${c.hostKey}', statusPath: ${c.statusPath}, statusRefresh: 60 }`;
    }), ''].join('\n'));
    store = await Store.open(opts.mongoUri ?? mongo!.uri, dbName);
    const ids = Array.from({ length: count }, (_, i) => `bench-r${i}`);
    for (const id of ids) await store.replicas.heartbeat({ id, host: os.hostname(), pid: 0, startedAt: new Date() });
    for (const id of ids) {
      const port = await freePort();
      const child = spawn(bin, ['start'], {
        cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...passwords, MONGODB_URI: uri, VPNWATCH_SERVERS_FILE: path.join(dir, 'servers.yml'), POLL_INTERVAL: String(pollSeconds), POLL_TIMEOUT: '60', PORT: String(port), VPNWATCH_REPLICA_ID: id, LOG_LEVEL: 'warn', PAGE_ACCESS: 'public' },
      });
      const replica = { id, port, child, output: '' };
      child.stdout!.on('data', (d: Buffer) => { replica.output += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { replica.output += d.toString(); });
      replicas.push(replica);
    }
    churning = setInterval(() => void fleet!.churn(), pollSeconds * 1000);
    const live = () => replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    const scrape = async (r: (typeof replicas)[number]) => (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();

    // Every server read once (the baselines are written), then one more cycle to settle.
    console.error('waiting for a good read of every server…');
    for (const deadline = Date.now() + 30 * 60_000; ;) {
      const good = (await store.queries.servers()).filter((s) => s.lastGoodAt !== null).length;
      if (good === servers) break;
      if (Date.now() > deadline) throw new Error(`only ${good} of ${servers} servers read after 30 min`);
      for (const r of replicas) if (r.child.exitCode !== null) throw new Error(`replica ${r.id} exited:\n${r.output.slice(-3000)}`);
      await sleep(5000);
    }
    await sleep(pollSeconds * 1000);
    const before = new Map(await Promise.all(live().map(async (r) => [r.id, await scrape(r)] as const)));
    console.error(`measuring ${cycles} cycles…`);
    await sleep(cycles * pollSeconds * 1000);
    const held = new Map<string, number>();
    for (const lease of await store.leases.list(fleet.configs.map((c) => serverLease(c.name)))) {
      if (lease.holder && lease.released === null) held.set(lease.holder, (held.get(lease.holder) ?? 0) + 1);
    }
    const rows: ReplicaRow[] = [];
    for (const r of live()) {
      const [a, b] = [before.get(r.id)!, await scrape(r)];
      const d = (name: string) => metric(b, name) - metric(a, name);
      const n = d('vpnwatch_poll_cycle_duration_seconds_count');
      rows.push({
        id: r.id, held: held.get(r.id) ?? 0, cycles: n,
        cycleSeconds: n ? Math.round((d('vpnwatch_poll_cycle_duration_seconds_sum') / n) * 10) / 10 : NaN,
        commandsPerCycle: n ? Math.round(d('vpnwatch_mongodb_commands_total') / n) : NaN,
        writeOpsPerCycle: n ? Math.round(d('vpnwatch_poll_write_operations_total') / n) : NaN,
        peakRssMb: peakRssMb(r.child.pid!), rssMb: rssMb(r.child.pid!),
      });
    }

    // Kill the replica that holds the most; time until a survivor holds and has read each of its servers.
    const victim = rows.reduce((a, b) => (b.held > a.held ? b : a));
    const theirs = new Set((await store.leases.list(fleet.configs.map((c) => serverLease(c.name)))).filter((l) => l.holder === victim.id && l.released === null).map((l) => l.name.slice('server:'.length)));
    const killedAt = Date.now();
    replicas.find((r) => r.id === victim.id)!.child.kill('SIGKILL');
    let seconds = NaN;
    for (const deadline = killedAt + 10 * pollSeconds * 1000; Date.now() < deadline; await sleep(1000)) {
      const leases = await store.leases.list([...theirs].map(serverLease));
      const takenOver = leases.every((l) => l.holder !== victim.id && l.released === null && l.expiresAt.getTime() > Date.now());
      const read = (await store.queries.servers()).filter((s) => theirs.has(s.name)).every((s) => (s.lastPollAt?.getTime() ?? 0) > killedAt);
      if (takenOver && read) { seconds = Math.round((Date.now() - killedAt) / 100) / 10; break; }
    }
    const leasesLost = replicas.reduce((n, r) => n + [...r.output.matchAll(/lease\(s\) (?:could not be renewed in time|were taken over by another replica)/g)].length, 0);
    return { servers, sessions, pollSeconds, leaseSeconds: 2 * pollSeconds, rows, takeover: { killed: victim.id, servers: theirs.size, seconds }, leasesLost };
  } finally {
    clearInterval(churning);
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => (r.child.exitCode !== null || r.child.signalCode !== null ? null : new Promise((res) => r.child.once('exit', res)))));
    await store?.connection.dropDatabase().catch(() => undefined);
    await store?.close();
    await fleet?.close();
    await mongo?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function printReplicasBench(r: ReplicasReport): void {
  console.log(`${r.servers} servers × ${r.sessions} sessions, 2 % churn per ${r.pollSeconds} s; lease ${r.leaseSeconds} s`);
  console.log('replica    servers held  cycles  cycle s (mean)  MongoDB commands/cycle  write ops/cycle  peak RSS MB  RSS MB at end');
  for (const row of r.rows) {
    console.log(`${row.id.padEnd(9)}  ${String(row.held).padStart(12)}  ${String(row.cycles).padStart(6)}  ${String(row.cycleSeconds).padStart(14)}  ${String(row.commandsPerCycle).padStart(22)}  ${String(row.writeOpsPerCycle).padStart(15)}  ${String(row.peakRssMb).padStart(11)}  ${String(row.rssMb).padStart(13)}`);
  }
  console.log(`takeover after SIGKILL of ${r.takeover.killed} (${r.takeover.servers} servers): ${r.takeover.seconds} s (limit ${3 * r.pollSeconds} s)`);
  console.log(`leases lost to starvation or slowness: ${r.leasesLost}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
  printReplicasBench(await runReplicasBench({
    ...(env('SERVERS') ? { servers: env('SERVERS')! } : {}), ...(env('SESSIONS') ? { sessions: env('SESSIONS')! } : {}),
    ...(env('REPLICAS') ? { replicas: env('REPLICAS')! } : {}), ...(env('POLL_INTERVAL') ? { pollSeconds: env('POLL_INTERVAL')! } : {}),
    ...(env('CYCLES') ? { cycles: env('CYCLES')! } : {}), ...(process.env.MONGODB_URI ? { mongoUri: process.env.MONGODB_URI } : {}),
  }));
}
