// A Reply as terminal text: the title, lines and fields, then the table as aligned columns.
import type { Reply } from '../command.ts';

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
