// `vpnwatch online [SERVER] [--server NAME] [--json]`: who is online, from MongoDB (what the
// running service last read). The JSON is the parse contract's session fields plus "server": a
// contract other tools call, so it is printed here rather than from the chat command's data.
import { openCliDatabase } from '../store/db.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { replyCommand } from './reply-command.ts';
import { configOrExit } from './config.ts';
import { errorMessage } from '../log.ts';

export async function onlineCommand(args: string[], io: CliIo): Promise<number> {
  // Without --json: the same answer as /vpn online in chat.
  if (!args.includes('--json')) return replyCommand('online')(args.flatMap((a) => (a === '--server' ? [] : [a])), io);
  const { values, positionals } = readArgs(args, { server: { type: 'string' }, json: { type: 'boolean', default: false } });
  if (positionals.length > 1 || (positionals.length === 1 && values.server)) throw new UsageError('expects at most one SERVER');
  const server = values.server ?? positionals[0];
  const config = configOrExit(io);
  let db;
  try {
    db = await openCliDatabase(config, { temporary: false });
  } catch (err) {
    io.err(`vpnwatch online: ${errorMessage(err)}\n`);
    return 1;
  }
  try {
    const sessions = await db.store.queries.online(server);
    io.out(`${JSON.stringify(sessions.map(({ server, ...s }) => ({ ...s, server })), null, 2)}\n`);
    return 0;
  } finally {
    await db.close();
  }
}
