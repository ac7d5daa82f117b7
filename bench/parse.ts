// Parser throughput: status files of 100, 10,000 and 100,000 clients in each status-version,
// against two floors on the same text: a bare line split, and a split into lines and fields (the
// least any parser of these formats must do: find every separator).
// Run: npm run bench -- parse     (or: node bin/run-ts bench/parse.ts)
import { parseStatus } from '../src/openvpn/parse-status.ts';
import { writeStatus, type StatusVersion } from '../src/openvpn/write-status.ts';
import { syntheticSessions } from '../src/demo/synthetic-sessions.ts';

export interface ParseBenchRow {
  version: StatusVersion;
  clients: number;
  mb: number;
  parseMs: number;
  splitMs: number;
  fieldSplitMs: number;
  ratio: number;
  fieldRatio: number;
  mbPerS: number;
  sessionsPerS: number;
}

/** Median wall time of `fn` in ms over enough runs to fill ~0.5 s (at least 5). */
function medianMs(fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT
  const times: number[] = [];
  const started = performance.now();
  while (times.length < 5 || (performance.now() - started < 500 && times.length < 200)) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function runParseBench(sizes = [100, 10_000, 100_000]): ParseBenchRow[] {
  const now = new Date('2026-11-28T12:00:00Z');
  const rows: ParseBenchRow[] = [];
  for (const clients of sizes) {
    const sessions = syntheticSessions(clients, now);
    for (const version of [1, 2, 3] as StatusVersion[]) {
      const text = writeStatus(version, sessions, now.toISOString());
      const parsed = parseStatus(text);
      if (parsed.sessions.length !== clients || !parsed.complete) throw new Error(`bench input did not round-trip (v${version}, ${clients})`);
      const parseMs = medianMs(() => parseStatus(text));
      const splitMs = medianMs(() => text.split('\n'));
      const sep = version === 3 ? '\t' : ',';
      const fieldSplitMs = medianMs(() => text.split('\n').map((line) => line.split(sep)));
      const mb = Buffer.byteLength(text) / 1e6;
      rows.push({ version, clients, mb, parseMs, splitMs, fieldSplitMs, ratio: parseMs / splitMs, fieldRatio: parseMs / fieldSplitMs, mbPerS: mb / (parseMs / 1000), sessionsPerS: clients / (parseMs / 1000) });
    }
  }
  return rows;
}

export function printParseBench(rows: ParseBenchRow[]): void {
  console.log('version  clients     MB  parse ms   MB/s  sessions/s | line split ms  ratio | line+field split ms  ratio');
  for (const r of rows) {
    console.log(`v${r.version}       ${String(r.clients).padStart(7)}  ${r.mb.toFixed(2).padStart(5)}  ${r.parseMs.toFixed(2).padStart(8)}  ${r.mbPerS.toFixed(0).padStart(5)}  ${Math.round(r.sessionsPerS).toLocaleString('en-US').padStart(10)} | ${r.splitMs.toFixed(2).padStart(13)}  ${r.ratio.toFixed(0).padStart(4)}x | ${r.fieldSplitMs.toFixed(2).padStart(19)}  ${r.fieldRatio.toFixed(1).padStart(4)}x`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) printParseBench(runParseBench());
