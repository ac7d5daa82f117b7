// Reply → one embed, Notice → message content. Data is escaped with escapeDiscord; the only
// markdown is our own (the bold title and first column, and `<url>` links to the page, whose
// address is PUBLIC_URL plus a path vpnwatch encoded). Every payload carries
// `allowed_mentions: { parse: [] }`, so nothing the bot says can ping anyone.
//
// Every message fits Discord's limits (src/chat/fit.ts says how an answer is cut).
import type { APIEmbed, APIEmbedField } from 'discord.js';
import { type FullAnswer, type Reply, type Tone } from '../command.ts';
import { escapeDiscord } from './escape.ts';
import { countFitting, cutText, fitNotice, longestCutText, noticeSeeAlso, renderFitting, seeAllText, withoutHalfPair } from './fit.ts';
import { noticeText, type Notice } from '../notify/notice-text.ts';

/**
 * Discord's limits (its "Embed Limits" and message content): content 2,000 characters; an embed's
 * description 4,096, up to 25 fields of name 256 and value 1,024, footer 2,048, and all of an
 * embed's texts together 6,000. Lengths are UTF-16 code units, never fewer than the characters
 * Discord counts.
 */
const CONTENT_MAX = 2000;
const DESCRIPTION_MAX = 4096;
const FIELD_NAME_MAX = 256;
const FIELD_VALUE_MAX = 1024;
const FIELDS_MAX = 25;
const EMBED_TEXTS_MAX = 6000;
/**
 * vpnwatch's own shares of an embed, so lines and rows always keep room: fields beyond 2,048
 * characters become lines (which are cut with a count); the footer is cut to 1,024 (Discord takes
 * 2,048); the title, the column names and each line or row to these.
 */
const FIELD_TEXTS_MAX = 2048;
const FOOTER_MAX = 1024;
const TITLE_MAX = 512;
const COLUMNS_MAX = 512;
const LINE_MAX = 1024;
/** A cell of a row; a URL longer than this is not shown as a link (the command is, instead). */
const CELL_MAX = 200;
const URL_MAX = 512;

const TONE_COLOR: Record<Tone, number> = { info: 0x5865f2, ok: 0x57f287, warn: 0xfee75c, error: 0xed4245 };

export const NO_MENTIONS = { parse: [] as [] };

/**
 * Markdown cut to `max`, never leaving a lone backslash that would escape the ellipsis, nor half
 * of a character outside the Basic Multilingual Plane (an emoji).
 */
function cut(markdown: string, max: number): string {
  if (markdown.length <= max) return markdown;
  let kept = withoutHalfPair(markdown.slice(0, max - 1));
  if ((kept.match(/\\+$/)?.[0].length ?? 0) % 2 === 1) kept = kept.slice(0, -1);
  return `${kept}…`;
}

/**
 * Escaped and cut to `max`. Escaping never shortens text, so only the first `max` characters are
 * escaped: discord.js's escapeMarkdown takes time growing with the square of a line's length.
 */
const escaped = (text: string, max: number, startsLine = true): string => cut(escapeDiscord(text.length > max ? text.slice(0, max) : text, { startsLine }), max);

/** "See all: <https://…>" (a link without a preview) or the command, escaped. */
function seeAll(full: FullAnswer): string {
  if (full.url && full.url.length <= URL_MAX) return `See all: <${full.url}>`;
  return escaped(seeAllText({ command: full.command }), LINE_MAX, false);
}

/** The cut note and where the whole answer is, as description lines. */
function noteLines(note: string, reply: Reply): string[] {
  return [escaped(note, LINE_MAX), ...(reply.fullAnswer ? [seeAll(reply.fullAnswer)] : [])];
}

const sizeOf = (texts: string[]) => texts.reduce((n, t) => n + t.length + 1, 0);

export function renderDiscordEmbed(reply: Reply): APIEmbed {
  // Fields stay while they take a share of the embed; beyond it (or past 25) they become lines.
  const allFields = (reply.fields ?? []).map((f) => ({ name: escaped(f.name, FIELD_NAME_MAX), value: escaped(f.value, FIELD_VALUE_MAX) || '—', inline: true }));
  const fieldCount = Math.min(FIELDS_MAX, countFitting(allFields.map((f) => f.name.length + f.value.length), FIELD_TEXTS_MAX));
  const fields: APIEmbedField[] = allFields.slice(0, fieldCount);
  const lines = [...(reply.lines ?? []), ...(reply.fields ?? []).slice(fieldCount).map((f) => `${f.name}: ${f.value}`)];
  const shown: Reply = { ...reply, lines };
  // Footers show text as is (no markdown), so they are not escaped.
  const footer = reply.footer ? cut(reply.footer, FOOTER_MAX) : undefined;

  // The title goes in the description in bold rather than in `title`, where markdown escapes are
  // not reliably honoured: a name in it must show as typed.
  const head = [`**${escaped(reply.title, TITLE_MAX, false)}**`];
  const columns = reply.table ? [`*${escaped(reply.table.columns.join(' · '), COLUMNS_MAX, false)}*`] : [];
  const fixed = fields.reduce((n, f) => n + f.name.length + f.value.length, 0) + (footer?.length ?? 0);
  // Room for the cut note at its longest is kept back, so it always fits.
  const budget = Math.min(DESCRIPTION_MAX, EMBED_TEXTS_MAX - fixed) - sizeOf([...head, ...columns, ...noteLines(longestCutText(shown), shown)]);

  const lineTexts = renderFitting(lines, (l) => escaped(l, LINE_MAX), budget);
  const rowTexts = renderFitting(reply.table?.rows ?? [], ([first = '', ...rest]) => cut(`• **${escaped(first, CELL_MAX, false)}** ${rest.map((c) => escaped(c, CELL_MAX, false)).join(' · ')}`, LINE_MAX), budget - sizeOf(lineTexts));
  const note = cutText(shown, { lines: lineTexts.length, rows: rowTexts.length });

  const description = [...head, ...lineTexts, ...columns, ...rowTexts, ...(note ? noteLines(note, shown) : [])].join('\n');
  const embed: APIEmbed = { description, color: TONE_COLOR[reply.tone] };
  if (fields.length) embed.fields = fields;
  if (footer) embed.footer = { text: footer };
  return embed;
}

/** Options for interaction.editReply / followUp. */
export function renderDiscordReply(reply: Reply) {
  return { embeds: [renderDiscordEmbed(reply)], allowedMentions: NO_MENTIONS };
}

/** How a notice is shown: `realIps` from SHOW_REAL_IPS (a channel's guests read it), `publicUrl` for "see all". */
export interface NoticeView {
  realIps: boolean;
  publicUrl?: string;
}

/**
 * A notice as message content, cut to fit ("…and N more changes: <where>"). The place to see
 * the rest is added after escaping, so a link stays a link.
 */
function noticeContent(notice: Notice, view: NoticeView): string {
  const seeAlso = noticeSeeAlso(notice.server, view.publicUrl);
  const where = view.publicUrl ? `<${seeAlso}>` : escapeDiscord(seeAlso, { startsLine: false });
  const render = (n: Notice) => `${escapeDiscord(noticeText(n, { realIps: view.realIps }))}${n.omitted > 0 ? `: ${where}` : ''}`;
  const text = render(fitNotice(notice, (n) => render(n).length <= CONTENT_MAX));
  // Only a notice whose server line alone is too long still needs a cut.
  return text.length <= CONTENT_MAX ? text : escaped(noticeText({ ...notice, lines: [], omitted: notice.lines.length + notice.omitted }, { realIps: view.realIps }), CONTENT_MAX);
}

/** The REST body for POST /channels/{id}/messages, and for PATCH /channels/{id}/messages/{mid} (an edit parses mentions again: none). */
export function renderDiscordNotice(notice: Notice, view: NoticeView) {
  return { content: noticeContent(notice, view), allowed_mentions: NO_MENTIONS };
}
