// Reply → one embed, Notice → message content. Data is escaped with escapeDiscord; the only
// markdown is our own (the bold title and first column). Every payload carries
// `allowed_mentions: { parse: [] }`, so nothing the bot says can ping anyone.
import type { APIEmbed } from 'discord.js';
import { type Reply, type Tone } from '../command.ts';
import { escapeDiscord } from './escape.ts';
import { noticeText, type Notice } from '../notify/notice-text.ts';

/** Discord's limits: description 4096, field value 1024, field name 256, 25 fields, message 2000. */
const DESCRIPTION_MAX = 4096;
const FIELD_VALUE_MAX = 1024;
const FIELD_NAME_MAX = 256;
const FIELDS_MAX = 25;
const CONTENT_MAX = 2000;

const TONE_COLOR: Record<Tone, number> = { info: 0x5865f2, ok: 0x57f287, warn: 0xfee75c, error: 0xed4245 };

export const NO_MENTIONS = { parse: [] as [] };

/** Escaped and cut to `max`, never leaving a lone backslash that would escape the ellipsis. */
function escaped(text: string, max: number, startsLine = true): string {
  const out = escapeDiscord(text, { startsLine });
  if (out.length <= max) return out;
  let cut = out.slice(0, max - 1);
  if ((cut.match(/\\+$/)?.[0].length ?? 0) % 2 === 1) cut = cut.slice(0, -1);
  return `${cut}…`;
}

export function renderDiscordEmbed(reply: Reply): APIEmbed {
  // The title goes in the description in bold rather than in `title`, where markdown escapes are
  // not reliably honoured: a name in it must show as typed.
  const parts = [`**${escaped(reply.title, 512, false)}**`, ...(reply.lines ?? []).map((l) => escaped(l, 1024))];
  let more = reply.truncated ? reply.truncated.total - reply.truncated.shown : 0;
  if (reply.table) {
    parts.push(`*${reply.table.columns.map((c) => escapeDiscord(c, { startsLine: false })).join(' · ')}*`);
    const rows = reply.table.rows.map(([first = '', ...rest]) => `• **${escaped(first, 200, false)}** ${rest.map((c) => escaped(c, 200, false)).join(' · ')}`);
    // Leave room for the "…and N more" line.
    const budget = DESCRIPTION_MAX - 64;
    let size = parts.join('\n').length;
    for (const [i, row] of rows.entries()) {
      if (size + row.length + 1 > budget) {
        more += rows.length - i;
        break;
      }
      parts.push(row);
      size += row.length + 1;
    }
  }
  if (more > 0) parts.push(`…and ${more} more`);
  const embed: APIEmbed = { description: parts.join('\n').slice(0, DESCRIPTION_MAX), color: TONE_COLOR[reply.tone] };
  if (reply.fields?.length) {
    embed.fields = reply.fields.slice(0, FIELDS_MAX).map((f) => ({ name: escaped(f.name, FIELD_NAME_MAX), value: escaped(f.value, FIELD_VALUE_MAX) || '—', inline: true }));
  }
  // Footers show text as is (no markdown), so they are not escaped.
  if (reply.footer) embed.footer = { text: reply.footer };
  return embed;
}

/** Options for interaction.editReply / followUp. */
export function renderDiscordReply(reply: Reply) {
  return { embeds: [renderDiscordEmbed(reply)], allowedMentions: NO_MENTIONS };
}

/** The REST body for POST /channels/{id}/messages, and for PATCH /channels/{id}/messages/{mid} (an edit parses mentions again: none). */
export function renderDiscordNotice(notice: Notice) {
  return { content: escaped(noticeText(notice), CONTENT_MAX), allowed_mentions: NO_MENTIONS };
}
