// `vpnwatch poll [--server NAME] [--json]`: one poll cycle now, stored like any other, and what it
// found per server. Each change is found, stored and announced once:
// - with a `vpnwatch start` running on the same database, the service is asked to poll now (a
//   request document, src/store/requests.ts) and its answer is printed: its poller and notifier
//   see the changes as they would on their own schedule;
// - with none, this process polls and stores the changes with their deliveries pending, and the
//   service's notifier announces them when it starts.
import os from 'node:os';
import { findServer, unknownServerMessage, userName } from '../domain.ts';
import { errorMessage, logger } from '../log.ts';
import { Poller, type ServerCycleReport } from '../poll/poller.ts';
import { readServers } from '../poll/read-servers.ts';
import { noticeTargets } from '../notify/targets.ts';
import { HEARTBEAT_MS, type PollArgs } from '../request-runner.ts';
import { SshPool } from '../ssh.ts';
import { openCliDatabase, type Database } from '../store/db.ts';
import type { Config } from '../config.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

/** How long a running service has to take the request before this process polls by itself. */
const CLAIM_WITHIN_MS = 10_000;

export async function pollCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = readArgs(args, { server: { type: 'string' }, json: { type: 'boolean', default: false } }, false);
  const config = configOrExit(io);
  logger.level = values.json ? 'silent' : 'warn';
  if (config.servers.length === 0) throw new UsageError(`no servers file at ${config.serversFile} (copy servers.example.yml, or set VPNWATCH_SERVERS_FILE)`);
  const picked = values.server === undefined ? undefined : findServer(values.server, config.servers);
  if (values.server !== undefined && !picked) throw new UsageError(unknownServerMessage(values.server, config.servers));

  const db = await openCliDatabase(config, { temporary: true });
  try {
    const asked = await askTheService(db, config, { server: picked?.name ?? null }, io);
    const report = asked ?? await pollHere(db, config, picked ? [picked.name] : null);
    if (values.json) {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      for (const s of report) {
        io.out(`${s.server}: ${s.ok ? `ok, ${s.online} online` : `NOT USED: ${s.error}`}\n`);
        for (const e of s.events) io.out(`  ${e.type}${e.session ? ` ${userName(e.session)} (${e.session.realAddress})` : ''}${e.error ? `: ${e.error}` : ''}\n`);
      }
      if (asked) io.out('(polled by the running vpnwatch service, which announces the changes)\n');
      else if (db.engine.includes('temporary')) io.out('(no MONGODB_URI and no running `vpnwatch start`: stored in a temporary database)\n');
    }
    return report.every((s) => s.ok) ? 0 : 1;
  } finally {
    await db.close();
  }
}

/** The longest one poll of `count` servers can take: every read timing out, `concurrency` at a time. */
export function longestPollMs(config: Config, count: number): number {
  return (Math.ceil(count / config.poll.concurrency) * config.poll.timeoutSeconds + 10) * 1000;
}

/** The running service's poll report, or null when no service runs (or none took the request in time). */
async function askTheService(db: Database, config: Config, args: PollArgs, io: CliIo): Promise<ServerCycleReport[] | null> {
  const live = await db.store.replicas.live(3 * HEARTBEAT_MS);
  if (live.length === 0) return null;
  const requestedBy = `vpnwatch poll (${os.userInfo().username}@${os.hostname()}, pid ${process.pid})`;
  const id = await db.store.requests.submit('poll', args, { requestedBy, deadline: new Date(Date.now() + CLAIM_WITHIN_MS) });
  const request = await db.store.requests.wait<PollArgs, ServerCycleReport[]>(id, { timeoutMs: CLAIM_WITHIN_MS + longestPollMs(config, args.server ? 1 : config.servers.length) });
  if (request.state === 'done') return request.result;
  if (request.state === 'failed') throw new Error(`the running service (${request.claimedBy}) could not poll: ${request.error}`);
  if (request.state === 'pending' && await db.store.requests.withdraw(id)) {
    io.err(`vpnwatch poll: the service ${live.map((r) => r.id).join(', ')} did not take the request within ${CLAIM_WITHIN_MS / 1000} s; polling here\n`);
    return null;
  }
  throw new Error(`the running service (${request.claimedBy ?? live[0]!.id}) took the request but did not finish it in time`);
}

/** Polls from this process, storing the changes for the service's notifier to announce. */
async function pollHere(db: Database, config: Config, names: string[] | null): Promise<ServerCycleReport[]> {
  const pool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
  try {
    const poller = new Poller({
      store: db.store, servers: config.servers, pollIntervalSeconds: config.poll.intervalSeconds, downAfter: config.poll.downAfter,
      targets: (server) => noticeTargets(config, server), log: logger, announceFirstRead: true,
    });
    await poller.start();
    const servers = names ? config.servers.filter((s) => names.includes(s.name)) : config.servers;
    const reads = await readServers(servers, pool, { concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 });
    return (await poller.apply(reads)).servers;
  } catch (err) {
    throw new Error(`poll failed: ${errorMessage(err)}`);
  } finally {
    await pool.closeAll();
  }
}
