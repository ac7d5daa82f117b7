// `vpnwatch poll [--server NAME] [--json]`: one poll cycle now, stored like any other, and what
// it found per server.
import { openCliDatabase } from '../store/db.ts';
import { logger } from '../log.ts';
import { Poller } from '../poll/poller.ts';
import { readServers } from '../poll/read-servers.ts';
import { SshPool } from '../ssh.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';
import { findServer, unknownServerMessage, userName } from '../domain.ts';

export async function pollCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = readArgs(args, { server: { type: 'string' }, json: { type: 'boolean', default: false } }, false);
  const config = configOrExit(io);
  logger.level = values.json ? 'silent' : 'warn';
  if (config.servers.length === 0) throw new UsageError(`no servers file at ${config.serversFile} (copy servers.example.yml, or set VPNWATCH_SERVERS_FILE)`);
  const picked = values.server === undefined ? undefined : findServer(values.server, config.servers);
  if (values.server !== undefined && !picked) throw new UsageError(unknownServerMessage(values.server, config.servers));
  const servers = picked ? [picked] : config.servers;

  const db = await openCliDatabase(config, { temporary: true });
  const pool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
  try {
    const poller = new Poller({
      store: db.store, servers: config.servers, pollIntervalSeconds: config.poll.intervalSeconds, downAfter: config.poll.downAfter,
      // Recorded, and announced by the running service's notifier if one is running.
      targets: () => ['log'], log: logger,
    });
    await poller.start();
    const reads = await readServers(servers, pool, { concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 });
    const report = await poller.apply(reads);
    if (values.json) {
      io.out(`${JSON.stringify(report.servers, null, 2)}\n`);
    } else {
      for (const s of report.servers) {
        io.out(`${s.server}: ${s.ok ? `ok, ${s.online} online` : `NOT USED: ${s.error}`}\n`);
        for (const e of s.events) io.out(`  ${e.type}${e.session ? ` ${userName(e.session)} (${e.session.realAddress})` : ''}${e.error ? `: ${e.error}` : ''}\n`);
      }
      if (db.engine.includes('temporary')) io.out('(no MONGODB_URI and no running `vpnwatch start`: stored in a temporary database)\n');
    }
    return report.servers.every((s) => s.ok) ? 0 : 1;
  } finally {
    await pool.closeAll();
    await db.close();
  }
}
