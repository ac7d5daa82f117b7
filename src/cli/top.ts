// `vpnwatch top [--range 24h|7d|30d] [--by bytes|time] [--json]`: the top users of a period, from
// the database the service writes. The terminal is local and counts as admin. --json prints the
// users array of GET /api/top.
import { parseRange, topReply } from '../../commands/top.ts';
import { UserError } from '../command.ts';
import { openCliDatabase } from '../store/db.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';
import { renderReplyText } from './render-text.ts';

export async function topCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = readArgs(args, { range: { type: 'string', default: '24h' }, by: { type: 'string', default: 'bytes' }, json: { type: 'boolean', default: false } }, false);
  let range;
  try {
    range = parseRange(values.range);
  } catch (err) {
    if (err instanceof UserError) throw new UsageError(`--range: ${err.message}`);
    throw err;
  }
  if (values.by !== 'bytes' && values.by !== 'time') throw new UsageError(`--by must be bytes or time, not '${values.by}'`);
  const config = configOrExit(io);
  const db = await openCliDatabase(config, { temporary: false });
  try {
    const list = await db.store.history.top(range, values.by);
    io.out(values.json ? `${JSON.stringify(list.users, null, 2)}\n` : renderReplyText(topReply(list)));
    return 0;
  } finally {
    await db.close();
  }
}
