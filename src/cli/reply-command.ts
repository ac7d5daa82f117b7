// `vpnwatch online | user | kick | servers | recent | stats`: the /vpn commands in a terminal.
// Same commands, same dispatch; the terminal is trusted (admin), and kicks reach the management
// interfaces over SSH connections of this process. Text output is aligned columns; --json prints
// the command's data.
import os from 'node:os';
import type { Actor } from '../domain.ts';
import { dispatch } from '../dispatch.ts';
import { ManagementKicker } from '../kick/kicker.ts';
import { logger } from '../log.ts';
import { SshPool } from '../ssh.ts';
import { openCliDatabase } from '../store/db.ts';
import { readArgs, type CliIo, type Subcommand } from './args.ts';
import { configOrExit } from './config.ts';
import { renderReplyText } from './render-text.ts';

/**
 * `vpnwatch <name> [words…] [--json]` for one command. Exit code 1 when the answer is an error
 * (a failed kick, an internal error), else 0.
 */
export function replyCommand(name: string): Subcommand {
  return async (args: string[], io: CliIo): Promise<number> => {
    const { values, positionals } = readArgs(args, { json: { type: 'boolean', default: false } });
    const config = configOrExit(io);
    const db = await openCliDatabase(config, { temporary: false });
    const sshPool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
    const kicker = new ManagementKicker({ store: db.store, servers: config.servers, sshPool, log: logger });
    try {
      const who = os.userInfo().username;
      const actor: Actor = { platform: 'cli', userId: who, userName: who };
      const text = [name, ...positionals.map((w) => (/\s/.test(w) ? `"${w}"` : w))].join(' ');
      const reply = await dispatch(text, actor, { store: db.store, kicker, config }, `terminal (${os.hostname()})`);
      io.out(values.json ? `${JSON.stringify(reply.data ?? reply, null, 2)}\n` : renderReplyText(reply));
      return reply.tone === 'error' ? 1 : 0;
    } finally {
      await sshPool.closeAll();
      await db.close();
    }
  };
}
