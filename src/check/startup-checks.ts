// `vpnwatch start` runs the checks of `vpnwatch check` once per server, beside everything else
// (it never delays polling), and logs what did not pass in the same words: the first thing an
// admin sees after starting vpnwatch against a new server is what to change on it.
import type { ServerConfig } from '../domain.ts';
import type { Logger } from '../log.ts';
import type { ManagementAccess } from '../openvpn/management-access.ts';
import { checkServer, isSkippedAfterFailure, type CheckResult } from './server-checks.ts';

export interface StartupCheckOptions {
  servers: readonly ServerConfig[];
  /** The management streams: they lend their open connection, so our own stream never looks busy. */
  management: ManagementAccess;
  timeoutMs: number;
  pollIntervalSeconds: number;
  concurrency: number;
  log: Logger;
}

/** The log line for a check that did not pass: the words `vpnwatch check` prints. */
export function checkLogLine(server: string, check: CheckResult): string {
  return `${server}: ${check.name} ${check.ok === false ? 'failed' : 'not checked'}: ${check.detail}${check.fix ? `. Fix: ${check.fix}` : ''}`;
}

/** Starts the checks and returns at once; stop() ends them (closing their SSH connections). */
export function runStartupChecks(opts: StartupCheckOptions): { stop(): Promise<void> } {
  const abort = new AbortController();
  const queue = [...opts.servers];
  const worker = async () => {
    for (let server = queue.shift(); server && !abort.signal.aborted; server = queue.shift()) {
      const report = await checkServer(server, {
        timeoutMs: opts.timeoutMs, pollIntervalSeconds: opts.pollIntervalSeconds, management: opts.management, signal: abort.signal,
      });
      if (abort.signal.aborted) return;
      const fields = { server: server.name };
      for (const check of report.checks) {
        if (check.ok === false) opts.log.warn({ ...fields, check: check.name }, checkLogLine(server.name, check));
        else if (check.ok === null && !isSkippedAfterFailure(check)) opts.log.info({ ...fields, check: check.name }, checkLogLine(server.name, check));
      }
      if (report.ok) opts.log.info(fields, `${server.name}: start-up checks passed (${report.checks.filter((c) => c.ok).map((c) => c.name).join(', ')})`);
    }
  };
  const done = Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, queue.length)) }, worker))
    .catch((err: unknown) => opts.log.error({ err }, 'start-up checks failed'));
  return {
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}
