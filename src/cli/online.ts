// `vpnwatch online [--server NAME] [--json]`: who is online, from MongoDB (what the running
// service last read). The JSON is the parse contract's session fields plus "server".
import { openCliDatabase } from '../db.ts';
import { readArgs, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

export async function onlineCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = readArgs(args, { server: { type: 'string' }, json: { type: 'boolean', default: false } }, false);
  const config = configOrExit(io);
  let db;
  try {
    db = await openCliDatabase(config, { temporary: false });
  } catch (err) {
    io.err(`vpnwatch online: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const sessions = await db.store.online(values.server);
    if (values.json) {
      io.out(`${JSON.stringify(sessions.map(({ server, ...s }) => ({ ...s, server })), null, 2)}\n`);
    } else if (sessions.length === 0) {
      io.out('nobody is online\n');
    } else {
      for (const s of sessions) io.out(`${s.server}  ${s.commonName}  ${s.realAddress}  ${s.virtualAddress ?? '-'}  since ${s.connectedAt}\n`);
    }
    return 0;
  } finally {
    await db.close();
  }
}
