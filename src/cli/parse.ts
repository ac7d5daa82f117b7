// `vpnwatch parse FILE [--tz ZONE] [--json]`. The JSON shape is a contract other tools call.
import fs from 'node:fs';
import { parseStatus, StatusParseError } from '../openvpn/parse-status.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import type { StatusSnapshot } from '../domain.ts';
import { errorMessage } from '../log.ts';

export async function parseCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = readArgs(args, { tz: { type: 'string', default: 'UTC' }, json: { type: 'boolean', default: false } });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError('expects exactly one FILE (use - for standard input)');
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    io.err(`vpnwatch parse: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}\n`);
    return 2;
  }
  let snapshot: StatusSnapshot;
  try {
    snapshot = parseStatus(text, { timezone: values.tz });
  } catch (err) {
    if (err instanceof StatusParseError || err instanceof RangeError) {
      io.err(`vpnwatch parse: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  io.out(values.json ? `${JSON.stringify(snapshot, null, 2)}\n` : describe(snapshot));
  return 0;
}

function describe(s: StatusSnapshot): string {
  const lines = [
    `${s.format}, updated ${s.updatedAt ?? 'unknown'}${s.complete ? '' : ' (INCOMPLETE: no END line)'}`,
    `${s.sessions.length} session(s)`,
    ...s.sessions.map((x) => `  ${x.commonName}  ${hostPort(x.realAddress, x.realPort)}  ${x.virtualAddress ?? '-'}  since ${x.connectedAt}  rx ${x.bytesReceived} tx ${x.bytesSent}`),
    ...s.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

function hostPort(host: string, port: number | null): string {
  if (port === null) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
