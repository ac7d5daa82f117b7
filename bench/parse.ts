// Parser throughput: vpnwatch's parseStatus against the least any parser of these formats must do
// on the same text (split it into lines and each line into fields), side by side in one run, for
// status-version 1, 2 and 3 at 10,000 and 100,000 clients.
// Run: npm run bench -- parse     (or: node bin/run-ts bench/parse.ts)
//
// The files (generated here, deterministic) are what a busy 2.4-2.6 server writes, with the parts
// that cost a parser most:
// - text dates: v1 carries only ctime local times (`Sat Nov 28 11:43:09 2026`), read in
//   Europe/Berlin; v2/v3 carry ctime text beside their (time_t) columns, as 2.4 writes;
// - a ROUTING TABLE with every client's pool IPv4, an IPv6 pool address for every 4th client, and
//   for every 10th an iroute network plus a cached `C` host route from it;
// - every 7th client connecting over IPv6, printed without a port (2.4-2.6).
import { parseStatus } from '../src/openvpn/parse-status.ts';
import { syntheticSessions } from '../src/demo/synthetic-sessions.ts';
import type { VpnSession } from '../src/domain.ts';

export type StatusVersion = 1 | 2 | 3;

export interface ParseBenchRow {
  version: StatusVersion;
  clients: number;
  mb: number;
  parseMs: number;
  splitMs: number;
  fieldSplitMs: number;
  ratio: number;
  fieldRatio: number;
  /** The same ratio in CPU time (process.cpuUsage, so GC helper threads count): steadier when other work shares the cores. */
  fieldCpuRatio: number;
  mbPerS: number;
  sessionsPerS: number;
}

export const BENCH_ZONE = 'Europe/Berlin';
const NOW = new Date('2026-11-28T12:00:00Z');
/** Berlin's offset on the bench's dates (late November: CET, no change within 8 h). */
const ZONE_OFFSET_MS = 3_600_000;
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** ctime() of the instant in the bench's zone, as OpenVPN <= 2.4 prints it. */
function ctime(iso: string): string {
  const d = new Date(Date.parse(iso) + ZONE_OFFSET_MS);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * The bench's sessions: synthetic ones, with an IPv6 pool address for every 4th, and each IPv4 client
 * at its own address and port (OpenVPN lists one instance per address).
 */
export function benchSessions(clients: number): VpnSession[] {
  return syntheticSessions(clients, NOW).map((s, i) => ({
    ...s,
    realPort: s.realPort === null ? null : 1024 + Math.floor(i / 250),
    virtualIpv6: i % 4 === 0 ? `fd00:8::${(i + 0x1000).toString(16)}` : null,
  }));
}

/** A status file in OpenVPN's exact layout (openvpn-formats.md §2) with the extras listed above. */
export function benchStatusText(version: StatusVersion, sessions: VpnSession[]): string {
  const sep = version === 3 ? '\t' : ',';
  const nowText = ctime(NOW.toISOString());
  const nowT = Math.floor(NOW.getTime() / 1000);
  const real = (s: VpnSession) => (s.realPort === null ? s.realAddress : `${s.realAddress}:${s.realPort}`);
  const out: string[] = [];
  const routes: string[][] = [];
  sessions.forEach((s, i) => {
    const owner = [s.commonName, real(s)];
    if (s.virtualAddress) routes.push([s.virtualAddress, ...owner]);
    if (s.virtualIpv6) routes.push([s.virtualIpv6, ...owner]);
    if (i % 10 === 0) routes.push([`192.168.${i % 250}.0/24`, ...owner], [`192.168.${i % 250}.7C`, ...owner]);
  });
  if (version === 1) {
    out.push('OpenVPN CLIENT LIST', `Updated,${nowText}`, 'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since');
    for (const s of sessions) out.push([s.commonName, real(s), s.bytesReceived, s.bytesSent, ctime(s.connectedAt)].join(','));
    out.push('ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref');
    for (const r of routes) out.push([...r, nowText].join(','));
    out.push('GLOBAL STATS', 'Max bcast/mcast queue length,0', 'END');
    return `${out.join('\n')}\n`;
  }
  const row = (...fields: (string | number)[]) => out.push(fields.join(sep));
  row('TITLE', 'OpenVPN 2.4.12 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD]');
  row('TIME', nowText, nowT);
  row('HEADER', 'CLIENT_LIST', 'Common Name', 'Real Address', 'Virtual Address', 'Virtual IPv6 Address', 'Bytes Received', 'Bytes Sent',
    'Connected Since', 'Connected Since (time_t)', 'Username', 'Client ID', 'Peer ID');
  for (const s of sessions) {
    row('CLIENT_LIST', s.commonName, real(s), s.virtualAddress ?? '', s.virtualIpv6 ?? '', s.bytesReceived, s.bytesSent,
      ctime(s.connectedAt), Math.floor(Date.parse(s.connectedAt) / 1000), 'UNDEF', s.clientId ?? '', s.peerId ?? '');
  }
  row('HEADER', 'ROUTING_TABLE', 'Virtual Address', 'Common Name', 'Real Address', 'Last Ref', 'Last Ref (time_t)');
  for (const r of routes) row('ROUTING_TABLE', ...r, nowText, nowT);
  row('GLOBAL_STATS', 'Max bcast/mcast queue length', 0);
  out.push('END');
  return `${out.join('\n')}\n`;
}

/**
 * Median wall and CPU time in ms of each function, run in turns (one of each per round) so that
 * all of them see the same machine load and garbage-collector state; at least 5 rounds, up to ~1.5 s.
 */
function medians(fns: (() => unknown)[]): { wall: number[]; cpu: number[] } {
  for (let i = 0; i < 3; i++) fns.forEach((fn) => fn()); // warm up the JIT
  const wall: number[][] = fns.map(() => []);
  const cpu: number[][] = fns.map(() => []);
  const started = performance.now();
  while (wall[0]!.length < 5 || (performance.now() - started < 1500 && wall[0]!.length < 200)) {
    fns.forEach((fn, i) => {
      const t = performance.now();
      const c = process.cpuUsage();
      fn();
      const used = process.cpuUsage(c);
      wall[i]!.push(performance.now() - t);
      cpu[i]!.push((used.user + used.system) / 1000);
    });
  }
  const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  return { wall: wall.map(median), cpu: cpu.map(median) };
}

export function runParseBench(sizes = [10_000, 100_000]): ParseBenchRow[] {
  const rows: ParseBenchRow[] = [];
  for (const clients of sizes) {
    const sessions = benchSessions(clients);
    for (const version of [1, 2, 3] as StatusVersion[]) {
      const text = benchStatusText(version, sessions);
      const options = { timezone: BENCH_ZONE };
      // The figures only count if the parse is right: every client, its addresses and its start.
      const parsed = parseStatus(text, options);
      const wrong = parsed.sessions.findIndex((s, i) => s.virtualAddress !== sessions[i]!.virtualAddress || s.virtualIpv6 !== sessions[i]!.virtualIpv6 || s.connectedAt !== sessions[i]!.connectedAt);
      if (parsed.sessions.length !== clients || !parsed.complete || wrong >= 0) throw new Error(`bench input did not round-trip (v${version}, ${clients}, row ${wrong})`);
      const sep = version === 3 ? '\t' : ',';
      const { wall, cpu } = medians([
        () => parseStatus(text, options),
        () => text.split('\n'),
        () => text.split('\n').map((line) => line.split(sep)),
      ]);
      const [parseMs, splitMs, fieldSplitMs] = wall as [number, number, number];
      const mb = Buffer.byteLength(text) / 1e6;
      rows.push({ version, clients, mb, parseMs, splitMs, fieldSplitMs, ratio: parseMs / splitMs, fieldRatio: parseMs / fieldSplitMs, fieldCpuRatio: cpu[0]! / cpu[2]!, mbPerS: mb / (parseMs / 1000), sessionsPerS: clients / (parseMs / 1000) });
    }
  }
  return rows;
}

export function printParseBench(rows: ParseBenchRow[]): void {
  console.log(`files: generated in OpenVPN's layout; text (ctime) dates in ${BENCH_ZONE}; routing table with every pool IPv4, an IPv6 pool address for 1 client in 4, an iroute and a cached C route for 1 in 10; 1 client in 7 on IPv6 without a port`);
  console.log('version  clients     MB  parse ms   MB/s  sessions/s | line split ms  ratio | line+field split ms  ratio  CPU ratio');
  for (const r of rows) {
    console.log(`v${r.version}       ${String(r.clients).padStart(7)}  ${r.mb.toFixed(2).padStart(5)}  ${r.parseMs.toFixed(2).padStart(8)}  ${r.mbPerS.toFixed(0).padStart(5)}  ${Math.round(r.sessionsPerS).toLocaleString('en-US').padStart(10)} | ${r.splitMs.toFixed(2).padStart(13)}  ${r.ratio.toFixed(0).padStart(4)}x | ${r.fieldSplitMs.toFixed(2).padStart(19)}  ${r.fieldRatio.toFixed(1).padStart(4)}x  ${r.fieldCpuRatio.toFixed(1).padStart(8)}x`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) printParseBench(runParseBench());
