// `vpnwatch online | user | kick | servers | recent | stats`: the /vpn commands in a terminal.
// Same commands, same dispatch; the terminal is trusted (admin), and kicks reach the management
// interfaces over SSH connections of this process. Text output is aligned columns; --json prints
// the command's data.
import os from 'node:os';
import { serverAndChoice } from '../../commands/kick.ts';
import type { Config } from '../config.ts';
import { findServer, unknownServerMessage, type Actor } from '../domain.ts';
import { UserError } from '../command.ts';
import { checkInput, dispatch, parseCommandText } from '../dispatch.ts';
import { findCommand } from '../../commands/index.ts';
import { ManagementKicker } from '../kick/kicker.ts';
import { logger } from '../log.ts';
import { SshPool } from '../ssh.ts';
import { openCliDatabase } from '../store/db.ts';
import { readArgs, UsageError, type CliIo, type Subcommand } from './args.ts';
import { configOrExit } from './config.ts';
import { renderReplyText } from './render-text.ts';

/**
 * The usage error in a command line, found before anything is opened (with no servers file, or no
 * database, the answer is the same): an unknown command, too many words, or a SERVER that names
 * no configured server.
 */
function usageError(text: string, config: Config): string | undefined {
  let request;
  try {
    request = parseCommandText(text);
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

/**
 * `vpnwatch <name> [words…] [--json]` for one command. Exit code 2 for a usage error (see
 * usageError) or any answer the person can fix (a UserError: no name, a Client ID not listed,
 * nobody by that name), 1 when the answer is an error (a failed kick, an internal error), else 0.
 */
export function replyCommand(name: string): Subcommand {
  return async (args: string[], io: CliIo): Promise<number> => {
    const { values, positionals } = readArgs(args, { json: { type: 'boolean', default: false } });
    const config = configOrExit(io);
    const text = [name, ...positionals.map((w) => (/\s/.test(w) ? `"${w}"` : w))].join(' ');
    const usage = usageError(text, config);
    if (usage) throw new UsageError(usage);
    const db = await openCliDatabase(config, { temporary: false });
    const sshPool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
    const kicker = new ManagementKicker({ store: db.store, servers: config.servers, sshPool, log: logger });
    try {
      const who = os.userInfo().username;
      const actor: Actor = { platform: 'cli', userId: who, userName: who };
      const reply = await dispatch(text, actor, { store: db.store, kicker, config }, `terminal (${os.hostname()})`);
      io.out(values.json ? `${JSON.stringify(reply.data ?? reply, null, 2)}\n` : renderReplyText(reply));
      if (reply.userError) io.err(`vpnwatch ${name}: ${reply.title}\n`);
      return reply.userError ? 2 : reply.tone === 'error' ? 1 : 0;
    } finally {
      await sshPool.closeAll();
      await db.close();
    }
  };
}
