// Reply → Block Kit, Notice → message text. All data goes into plain_text objects (no mrkdwn, so
// `*bold*` and backticks in a name stay as typed) after Slack's entity escaping (so `<!channel>`
// stays text), and every message says `link_names: false, parse: 'none'` (so `@everyone` text
// is never turned into a mention). The one mrkdwn text is our own: the link to the whole answer.
//
// Every message fits Slack's limits (src/chat/fit.ts says how an answer is cut).
import type { types } from '@slack/bolt';
import { type Reply, type Tone } from '../command.ts';
import { escapeSlack } from './escape.ts';
import { countFitting, cutText, fitNotice, longestCutText, noticeSeeAlso, seeAllText, withoutHalfPair } from './fit.ts';
import { noticeText, type Notice } from '../notify/notice-text.ts';

/**
 * Slack's limits (Block Kit reference): 50 blocks a message; a header's text 150 characters; a
 * section's text 3,000, its fields 10 of 2,000 each; a context 10 elements. Slack also refuses
 * blocks whose texts add up to about 13,000 characters (`msg_blocks_too_long`, observed but not
 * documented): vpnwatch stays under 12,000. Lengths are UTF-16 code units, never fewer than the
 * characters Slack counts.
 */
const BLOCKS_MAX = 50;
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;
const BLOCK_TEXTS_MAX = 12_000;
/**
 * vpnwatch's own shares of a message, so lines and rows always keep room: fields beyond 4,000
 * characters become lines (which are cut with a count); the column names, the footer and the
 * place to see the rest are cut to 1,000 each.
 */
const FIELD_TEXTS_MAX = 4000;
const CONTEXT_MAX = 1000;

const TONE_ICON: Record<Tone, string> = { info: '', ok: '✅ ', warn: '⚠️ ', error: '❌ ' };

type Text = types.PlainTextElement | types.MrkdwnElement;

/** Escaped text cut to `max` characters without splitting an entity such as `&amp;` or an emoji. */
function cut(escaped: string, max: number): string {
  return escaped.length <= max ? escaped : `${withoutHalfPair(escaped.slice(0, max - 1)).replace(/&[a-z]*$/, '')}…`;
}

/** Already escaped text as a plain_text object (Slack refuses an empty one). */
function plain(escaped: string, max: number): types.PlainTextElement {
  return { type: 'plain_text', text: cut(escaped, max) || ' ', emoji: true };
}

const section = (escaped: string): types.KnownBlock => ({ type: 'section', text: plain(escaped, SECTION_MAX) });
const context = (...elements: Text[]): types.KnownBlock => ({ type: 'context', elements });

/** The characters of every text in `blocks`: what Slack's total-size limit counts. */
function textSize(blocks: types.KnownBlock[]): number {
  let size = 0;
  for (const b of blocks) {
    if (b.type === 'header') size += b.text.text.length;
    if (b.type === 'section') {
      size += b.text?.text.length ?? 0;
      for (const f of b.fields ?? []) size += f.text.length;
    }
    if (b.type === 'context') for (const e of b.elements) if ('text' in e && typeof e.text === 'string') size += e.text.length;
  }
  return size;
}

/** Room left in a message while it is filled. */
interface Room {
  blocks: number;
  chars: number;
}

/**
 * Items (lines, rows), escaped and in order, packed into as few sections as 3,000 characters
 * each allow, while `room` lasts; `room` is used up. Items after the first that does not fit are
 * never escaped. Returns the sections and how many items went in.
 */
function pack(items: readonly string[], room: Room): { blocks: types.KnownBlock[]; taken: number } {
  const texts: string[][] = [];
  let last = 0; // characters in the last section
  let taken = 0;
  for (const raw of items) {
    // Escaping never shortens: the first SECTION_MAX characters are all a section can show.
    const item = cut(escapeSlack(raw.length > SECTION_MAX ? raw.slice(0, SECTION_MAX) : raw), SECTION_MAX);
    const joins = texts.length > 0 && last + 1 + item.length <= SECTION_MAX;
    const cost = joins ? item.length + 1 : item.length;
    if (cost > room.chars || (!joins && room.blocks < 1)) break;
    if (joins) {
      texts.at(-1)!.push(item);
      last += cost;
    } else {
      texts.push([item]);
      last = item.length;
      room.blocks -= 1;
    }
    room.chars -= cost;
    taken += 1;
  }
  return { blocks: texts.map((t) => section(t.join('\n'))), taken };
}

/** The context that says what was cut and links to the whole answer. */
function cutNote(note: string, reply: Reply): types.KnownBlock {
  const full = reply.fullAnswer;
  if (!full) return context(plain(escapeSlack(note), CONTEXT_MAX));
  // The URL is PUBLIC_URL (configuration) plus a path vpnwatch encoded: safe as our own mrkdwn link.
  const link = full.url ? escapeSlack(full.url) : '';
  const where = full.url && link.length <= CONTEXT_MAX ? { type: 'mrkdwn' as const, text: `<${link}|See all on the status page>` } : plain(escapeSlack(seeAllText({ command: full.command })), CONTEXT_MAX);
  return context(plain(escapeSlack(note), CONTEXT_MAX), where);
}

export function renderSlackBlocks(reply: Reply): types.KnownBlock[] {
  const header: types.KnownBlock = { type: 'header', text: plain(escapeSlack(`${TONE_ICON[reply.tone]}${reply.title}`), HEADER_MAX) };
  // Fields stay while they take their share (10 at most); beyond it they become lines.
  const fieldTexts = (reply.fields ?? []).map((f) => cut(escapeSlack(`${f.name}\n${f.value}`), FIELD_MAX));
  const fieldCount = Math.min(FIELDS_MAX, countFitting(fieldTexts.map((t) => t.length), FIELD_TEXTS_MAX));
  const fields: types.KnownBlock[] = fieldCount ? [{ type: 'section', fields: fieldTexts.slice(0, fieldCount).map((t) => plain(t, FIELD_MAX)) }] : [];
  const shown: Reply = { ...reply, lines: [...(reply.lines ?? []), ...(reply.fields ?? []).slice(fieldCount).map((f) => `${f.name}: ${f.value}`)] };
  const columns = reply.table ? [context(plain(escapeSlack(reply.table.columns.join(' · ')), CONTEXT_MAX))] : [];
  const footer = reply.footer ? [context(plain(escapeSlack(reply.footer), CONTEXT_MAX))] : [];
  // Room for the cut note at its longest is kept back, so it always fits.
  const fixed = [header, ...fields, ...columns, ...footer, cutNote(longestCutText(shown), shown)];
  const room: Room = { blocks: BLOCKS_MAX - fixed.length, chars: BLOCK_TEXTS_MAX - textSize(fixed) };
  const lines = pack(shown.lines!, room);
  const rows = pack((reply.table?.rows ?? []).map((row) => row.join(' · ')), room);
  const note = cutText(shown, { lines: lines.taken, rows: rows.taken });
  return [header, ...lines.blocks, ...fields, ...columns, ...rows.blocks, ...(note ? [cutNote(note, shown)] : []), ...footer];
}

/** Options on every message the bot sends: nothing in the text may become a mention or a link preview. */
const INERT = { link_names: false, parse: 'none', mrkdwn: false, unfurl_links: false, unfurl_media: false } as const;

/** The payload for respond(): private replies are ephemeral, the rest are posted in the channel. */
export function renderSlackReply(reply: Reply) {
  return {
    response_type: reply.private ? 'ephemeral' : 'in_channel',
    // Shown in notifications and where blocks cannot be.
    text: cut(escapeSlack(reply.title), SECTION_MAX),
    blocks: renderSlackBlocks(reply),
    ...INERT,
  } as const;
}

/** How a notice is shown: `realIps` from SHOW_REAL_IPS (a channel's guests read it), `publicUrl` for "see all". */
export interface NoticeView {
  realIps: boolean;
  publicUrl?: string;
}

/** A notice's text as sections, one change per line, as many as fit a message; `complete` if all did. */
function noticeSections(text: string): { blocks: types.KnownBlock[]; complete: boolean } {
  const items = text.split('\n');
  const { blocks, taken } = pack(items, { blocks: BLOCKS_MAX, chars: BLOCK_TEXTS_MAX });
  return { blocks, complete: taken === items.length };
}

/**
 * A notice as plain_text sections, with the same text as the notification fallback, cut to fit
 * ("…and N more changes: <where>"). Blocks rather than text alone: chat.update has no
 * `mrkdwn: false`, and an edited notice must show a name as typed too.
 */
function noticeContent(notice: Notice, view: NoticeView) {
  const seeAlso = noticeSeeAlso(notice.server, view.publicUrl);
  const render = (n: Notice) => noticeText(n, { realIps: view.realIps, seeAlso });
  const fitted = render(fitNotice(notice, (n) => noticeSections(render(n)).complete));
  return { text: cut(escapeSlack(fitted), BLOCK_TEXTS_MAX), blocks: noticeSections(fitted).blocks };
}

/** The arguments for chat.postMessage. */
export function renderSlackNotice(notice: Notice, view: NoticeView) {
  return { ...noticeContent(notice, view), ...INERT };
}

/** The arguments for chat.update: the same message; of INERT's options, chat.update takes only these two. */
export function renderSlackNoticeUpdate(notice: Notice, view: NoticeView) {
  return { ...noticeContent(notice, view), link_names: INERT.link_names, parse: INERT.parse };
}
