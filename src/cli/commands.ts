// The /vpn commands in a terminal: `vpnwatch online fra-1`, `vpnwatch kick bob all --json`.
// Same commands, same dispatch; the terminal is trusted (admin). Text output is aligned columns;
// --json prints the command's data.
import os from 'node:os';
import type { Config } from '../config.ts';
import { openCliDatabase } from '../db.ts';
import type { Actor, Kicker } from '../domain.ts';
import { dispatch } from '../dispatch.ts';
import type { Reply } from '../reply.ts';
import type { Store } from '../store/store.ts';
import { readArgs, type CliIo, type Subcommand } from './args.ts';
import { configOrExit } from './config.ts';

const TONE_MARK: Record<Reply['tone'], string> = { info: '', ok: '✔ ', warn: '! ', error: '✘ ' };

/** A common name may hold terminal control sequences: show them as escapes, never run them. */
function inert(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function table(columns: string[], rows: string[][]): string[] {
  const cells = [columns, ...rows].map((row) => row.map(inert));
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => [...(row[i] ?? '')].length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  '));
}

/** A Reply as terminal text. */
export function renderReplyText(reply: Reply): string {
  const out = [`${TONE_MARK[reply.tone]}${inert(reply.title)}`];
  for (const line of reply.lines ?? []) out.push(inert(line));
  for (const field of reply.fields ?? []) out.push(`${inert(field.name)}: ${inert(field.value)}`);
  if (reply.table) out.push('', ...table(reply.table.columns, reply.table.rows));
  if (reply.truncated) out.push(`…and ${reply.truncated.total - reply.truncated.shown} more (showing ${reply.truncated.shown} of ${reply.truncated.total})`);
  if (reply.footer) out.push(inert(reply.footer));
  return `${out.join('\n')}\n`;
}

/** Builds the Kicker for one CLI run (with whatever SSH connections it needs) and closes them after. */
export type KickerFactory = (config: Config, store: Store) => { kicker: Kicker; close(): Promise<void> };

/**
 * `vpnwatch <name> [words…] [--json]` for one command. Exit code 1 when the answer is an error
 * (a failed kick, an internal error), else 0.
 */
export function replyCommand(name: string, makeKicker: KickerFactory): Subcommand {
  return async (args: string[], io: CliIo): Promise<number> => {
    const { values, positionals } = readArgs(args, { json: { type: 'boolean', default: false } });
    const config = configOrExit(io);
    const db = await openCliDatabase(config, { temporary: false });
    const { kicker, close } = makeKicker(config, db.store);
    try {
      const who = os.userInfo().username;
      const actor: Actor = { platform: 'cli', userId: who, userName: who };
      const text = [name, ...positionals.map((w) => (/\s/.test(w) ? `"${w}"` : w))].join(' ');
      const reply = await dispatch(text, actor, { store: db.store, kicker, config }, `terminal (${os.hostname()})`);
      io.out(values.json ? `${JSON.stringify(reply.data ?? reply, null, 2)}\n` : renderReplyText(reply));
      return reply.tone === 'error' ? 1 : 0;
    } finally {
      await close();
      await db.close();
    }
  };
}
