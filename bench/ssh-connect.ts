// Should vpnwatch keep SSH connections open between poll cycles? Compares, against a real sshd on
// loopback, (a) connect + handshake + SFTP read + close per poll with (b) an SFTP read on a
// connection that stays open, for a ~50 KB status file. Loopback hides network latency: on a real
// WAN, (a) pays several extra round trips (TCP, key exchange, auth, channel open) that (b) does not.
// Run: node bin/run-ts bench/ssh-connect.ts
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SshConnection } from '../src/ssh.ts';
import { startSshd, type Sshd } from '../test/harness/sshd.ts';

export interface SshBenchRow {
  case: string;
  n: number;
  meanMs: number;
  p95Ms: number;
  /** CPU of this (client) process per operation: user + system. */
  clientCpuMs: number;
  /** CPU of the sshd processes serving the operations, per operation. */
  serverCpuMs: number;
}

const TICK_MS = 10; // /proc times are in USER_HZ (100 on Linux)

/** CPU ms of `pid` (self) and of its reaped children, from /proc/<pid>/stat. */
function procCpuMs(pid: number): { self: number; children: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After "(comm)": state is f[0], so utime/stime/cutime/cstime (fields 14-17) are f[11]..f[14].
    return { self: (Number(f[11]) + Number(f[12])) * TICK_MS, children: (Number(f[13]) + Number(f[14])) * TICK_MS };
  } catch {
    return { self: 0, children: 0 };
  }
}

/** All CPU the sshd tree has used so far: the listener, its live sessions, and the sessions it has reaped. */
function sshdCpuMs(sshd: Sshd): number {
  const listener = procCpuMs(sshd.pid);
  return listener.self + listener.children + sshd.sessionPids().reduce((sum, pid) => sum + procCpuMs(pid).self, 0);
}

async function measure(name: string, sshd: Sshd, n: number, op: () => Promise<void>, settle: () => Promise<void>): Promise<SshBenchRow> {
  for (let i = 0; i < 5; i++) await op(); // warm up the JIT and ssh2's crypto
  await settle();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const server0 = sshdCpuMs(sshd);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    times.push(performance.now() - t);
  }
  await settle();
  const cpu = process.cpuUsage(cpu0);
  const serverMs = sshdCpuMs(sshd) - server0;
  times.sort((a, b) => a - b);
  return {
    case: name,
    n,
    meanMs: times.reduce((a, b) => a + b, 0) / n,
    p95Ms: times[Math.ceil(n * 0.95) - 1]!,
    clientCpuMs: (cpu.user + cpu.system) / 1000 / n,
    serverCpuMs: serverMs / n,
  };
}

export async function runSshConnectBench(opts: { n?: number; fileBytes?: number } = {}): Promise<{ fileBytes: number; rows: SshBenchRow[] }> {
  const n = opts.n ?? 50;
  const sshd = await startSshd();
  try {
    const config = sshd.serverConfig();
    const line = 'alice.example,198.19.1.23:51234,10.8.0.23,,123456789,987654321,2026-11-28 12:00:00,1795867200,UNDEF,42,7,AES-256-GCM\n';
    const text = line.repeat(Math.ceil((opts.fileBytes ?? 50_000) / line.length));
    fs.writeFileSync(config.statusPath, text);
    const read = (conn: SshConnection) => conn.readFile(config.statusPath, { timeoutMs: 10_000 });
    // Session processes exit (and are reaped, so their CPU shows up in the listener's cutime) a little after close.
    const settleSessions = async () => {
      for (let i = 0; i < 100 && sshd.sessionPids().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    };

    const perPoll = await measure('(a) connect + read + close', sshd, n, async () => {
      const conn = await SshConnection.connect(config, { timeoutMs: 10_000 });
      await read(conn);
      conn.close();
    }, settleSessions);

    const kept = await SshConnection.connect(config, { timeoutMs: 10_000 });
    const onOpen = await measure('(b) read on an open connection', sshd, n, async () => {
      await read(kept);
    }, async () => {});
    kept.close();
    return { fileBytes: Buffer.byteLength(text), rows: [perPoll, onOpen] };
  } finally {
    await sshd.stop();
  }
}

export function printSshConnectBench(result: { fileBytes: number; rows: SshBenchRow[] }): void {
  console.log(`SSH poll cost, ${(result.fileBytes / 1000).toFixed(0)} KB status file, sshd on 127.0.0.1 (no network latency)`);
  console.log('case                              n   mean ms   p95 ms   client CPU ms/op   sshd CPU ms/op');
  for (const r of result.rows) {
    console.log(
      `${r.case.padEnd(32)} ${String(r.n).padStart(3)}  ${r.meanMs.toFixed(2).padStart(8)}  ${r.p95Ms.toFixed(2).padStart(7)}  ${r.clientCpuMs.toFixed(2).padStart(17)}  ${r.serverCpuMs.toFixed(2).padStart(15)}`,
    );
  }
  const [a, b] = result.rows;
  if (a && b) console.log(`connecting per poll costs ${(a.meanMs / b.meanMs).toFixed(1)}x the wall time and ${(a.clientCpuMs / b.clientCpuMs).toFixed(1)}x the client CPU of reusing a connection`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) printSshConnectBench(await runSshConnectBench());
