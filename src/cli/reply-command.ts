// `vpnwatch online | user | kick | servers | recent | stats`: the /vpn commands in a terminal.
// Same commands, same dispatch; the terminal is trusted (admin). A kick goes to the running
// `vpnwatch start` when there is one (it holds the management interfaces, and OpenVPN serves one
// client at a time: src/kick/service-kicker.ts), else it reaches the management interfaces over
// SSH connections of this process. Text output is aligned columns; --json prints the command's data.
import os from 'node:os';
import { serverAndChoice } from '../../commands/kick.ts';
import type { Config } from '../config.ts';
import { findServer, unknownServerMessage, type Actor, type KickOutcome } from '../domain.ts';
import { UserError } from '../command.ts';
import { checkInput, dispatch, parseCommandText } from '../dispatch.ts';
import { findCommand } from '../../commands/index.ts';
import { ManagementKicker } from '../kick/kicker.ts';
import { kickFinishMs, ServiceKicker } from '../kick/service-kicker.ts';
import { logger } from '../log.ts';
import { serverLease } from '../poll/leases.ts';
import { SshPool } from '../ssh.ts';
import { openCliDatabase } from '../store/db.ts';
import type { Store } from '../store/store.ts';
import { readArgs, UsageError, type CliIo, type Subcommand } from './args.ts';
import { configOrExit } from './config.ts';
import { renderReplyText } from './render-text.ts';

/** Words that do not parse as the command (an unknown command, too many words). */
function parseError(text: string): string | undefined {
  try {
    parseCommandText(text);
    return undefined;
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
}

/**
 * The usage error in a parsed command line, found before anything is opened (with no servers
 * file, or no database, the answer is the same): a missing or malformed word, or a SERVER that
 * names no configured server.
 */
function usageError(text: string, config: Config): string | undefined {
  const request = parseCommandText(text);
  try {
    checkInput(findCommand(request.name)!, request.input);
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  const word = (key: string) => (request.input[key] === undefined ? undefined : String(request.input[key]));
  // `kick bob all`: the second word is a choice, not a server (the kick command's own rule).
  const server = request.name === 'kick' ? serverAndChoice(word('server'), word('which'), config.servers).serverText : word('server');
  if (server === undefined || findServer(server, config.servers)) return undefined;
  const noFile = config.demo ? ` (no servers file at ${config.serversFile}: copy servers.example.yml to servers.yml, or set VPNWATCH_SERVERS_FILE)` : '';
  return `${unknownServerMessage(server, config.servers)}${noFile}`;
}

/** Which running service holds each server's lease now (none: no service polls it, and this process may kick). */
async function serverHolders(store: Store, config: Config): Promise<(server: string) => string | null> {
  const now = Date.now();
  const held = (await store.leases.list(config.servers.map((s) => serverLease(s.name))))
    .filter((l) => l.holder !== null && l.released === null && l.expiresAt.getTime() > now);
  const byLease = new Map(held.map((l) => [l.name, l.holder!]));
  return (server) => byLease.get(serverLease(server)) ?? null;
}

/**
 * `vpnwatch <name> [words…] [--json]` for one command. Exit code 2 for a usage error (see
 * usageError) or any answer the person can fix (a UserError: no name, a Client ID not listed,
 * nobody by that name), 1 when the answer is an error (a failed kick, an internal error), else 0.
 * A kick's usage error still reaches the kicker when a database is there, so that the attempt is
 * in the audit log like any other.
 */
export function replyCommand(name: string): Subcommand {
  return async (args: string[], io: CliIo): Promise<number> => {
    const { values, positionals } = readArgs(args, { json: { type: 'boolean', default: false } });
    const config = configOrExit(io);
    // The answer is the output: the log says only what went wrong (nothing at all with --json).
    logger.level = values.json ? 'silent' : 'warn';
    const text = [name, ...positionals.map((w) => (/\s/.test(w) ? `"${w}"` : w))].join(' ');
    const unparsed = parseError(text);
    if (unparsed) throw new UsageError(unparsed);
    const usage = usageError(text, config);
    if (usage && name !== 'kick') throw new UsageError(usage);
    let db;
    try {
      db = await openCliDatabase(config, { temporary: false });
    } catch (err) {
      if (usage) throw new UsageError(usage); // no database to record it in: the usage error all the same
      throw err;
    }
    const sshPool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
    const who = os.userInfo().username;
    const local = new ManagementKicker({ store: db.store, servers: config.servers, sshPool, log: logger });
    const kicker = name === 'kick'
      ? new ServiceKicker({
        store: db.store, servers: config.servers, local, requestedBy: `vpnwatch kick (${who}@${os.hostname()}, pid ${process.pid})`, log: logger,
        finishWithinMs: kickFinishMs(config.poll.timeoutSeconds), holders: { self: null, of: await serverHolders(db.store, config) },
      })
      : local;
    try {
      const actor: Actor = { platform: 'cli', userId: who, userName: who };
      const reply = await dispatch(text, actor, { store: db.store, kicker, config }, `terminal (${os.hostname()})`);
      // A kick the kicker found unusable (it is recorded): the usage error, said as before it was.
      if (name === 'kick' && (reply.data as KickOutcome | undefined)?.result === 'invalid') throw new UsageError(usage ?? reply.title);
      io.out(values.json ? `${JSON.stringify(reply.data ?? reply, null, 2)}\n` : renderReplyText(reply));
      if (!values.json && kicker instanceof ServiceKicker && kicker.carriedOutBy) {
        io.out(`(carried out by the running vpnwatch service ${kicker.carriedOutBy}, which holds the management connection)\n`);
      }
      if (reply.userError) io.err(`vpnwatch ${name}: ${reply.title}\n`);
      return reply.userError ? 2 : reply.tone === 'error' ? 1 : 0;
    } finally {
      await sshPool.closeAll();
      await db.close();
    }
  };
}
