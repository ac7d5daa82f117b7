// `vpnwatch check [SERVER] [--json]`: for each configured server (or SERVER), the checks in
// src/check/server-checks.ts, printed in the servers file's order. Exit 0 when no check failed,
// 1 when one did, 2 for a usage error. A server without hostKey is checked too: its hostKey check
// shows the key to pin.
import type { ServerConfig } from '../domain.ts';
import { findServer, unknownServerMessage } from '../domain.ts';
import { checkServer, type CheckResult, type ServerCheckReport } from '../check/server-checks.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

const MARK: Record<string, string> = { true: 'ok', false: 'FAIL', null: '--' };
const NAME_WIDTH = 'statusFile'.length;

function checkText(check: CheckResult): string {
  const line = `  ${MARK[String(check.ok)]!.padEnd(4)}  ${check.name.padEnd(NAME_WIDTH)}  ${check.detail}\n`;
  return check.fix ? `${line}  ${''.padEnd(4)}  ${''.padEnd(NAME_WIDTH)}  fix: ${check.fix}\n` : line;
}

/** One server's block: a heading, a line per check (and its fix), a summary line. */
export function renderCheckText(server: ServerConfig, report: ServerCheckReport): string {
  const count = (ok: boolean | null) => report.checks.filter((c) => c.ok === ok).length;
  const [failed, notRun] = [count(false), count(null)];
  const summary = failed === 0 && notRun === 0
    ? `all ${report.checks.length} checks passed`
    : [failed && `${failed} failed`, notRun && `${notRun} not run`, `${count(true)} passed`].filter(Boolean).join(', ');
  return `${server.name}: ${server.username}@${server.host}:${server.port}\n${report.checks.map(checkText).join('')}${server.name}: ${summary}\n`;
}

export async function checkCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = readArgs(args, { json: { type: 'boolean', default: false } });
  if (positionals.length > 1) throw new UsageError('expects at most one SERVER');
  const config = configOrExit(io, { hostKeyOptional: true });
  if (config.servers.length === 0) {
    throw new UsageError(`no servers file at ${config.serversFile} (copy servers.example.yml to servers.yml, or set VPNWATCH_SERVERS_FILE)`);
  }
  let servers = config.servers;
  if (positionals[0] !== undefined) {
    const picked = findServer(positionals[0], config.servers);
    if (!picked) throw new UsageError(unknownServerMessage(positionals[0], config.servers));
    servers = [picked];
  }
  const opts = { timeoutMs: config.poll.timeoutSeconds * 1000, pollIntervalSeconds: config.poll.intervalSeconds };
  // Checked `concurrency` at a time (in lanes: server i waits for server i - lanes), printed in
  // order, each as soon as it and those before it are done.
  const lanes: Promise<unknown>[] = Array.from({ length: Math.min(config.poll.concurrency, servers.length) }, () => Promise.resolve());
  const checked = servers.map((server, i) => {
    const report = lanes[i % lanes.length]!.then(() => checkServer(server, opts));
    lanes[i % lanes.length] = report;
    return report;
  });
  const reports: ServerCheckReport[] = [];
  for (const [i, server] of servers.entries()) {
    const report = await checked[i]!;
    reports.push(report);
    if (!values.json) io.out(`${i > 0 ? '\n' : ''}${renderCheckText(server, report)}`);
  }
  if (values.json) io.out(`${JSON.stringify(reports, null, 2)}\n`);
  return reports.every((r) => r.ok) ? 0 : 1;
}
