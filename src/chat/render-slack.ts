// Reply → Block Kit, Notice → message text. All data goes into plain_text objects (no mrkdwn, so
// `*bold*` and backticks in a name stay as typed) after Slack's entity escaping (so `<!channel>`
// stays text), and every message says `link_names: false, parse: 'none'` (so `@everyone` text
// is never turned into a mention).
import type { types } from '@slack/bolt';
import { type Reply, type Tone } from '../command.ts';
import { escapeSlack } from './escape.ts';
import { noticeText, type Notice } from '../notify/notice-text.ts';

/** Slack's limits: a section text holds 3000 characters, a header 150, a field 2000. */
const SECTION_MAX = 3000;
const HEADER_MAX = 150;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;

const TONE_ICON: Record<Tone, string> = { info: '', ok: '✅ ', warn: '⚠️ ', error: '❌ ' };

/** Escaped, then cut to `max` characters without splitting an entity such as `&amp;`. */
function plain(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  let escaped = escapeSlack(text);
  if (escaped.length > max) escaped = `${escaped.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
  return { type: 'plain_text', text: escaped || ' ', emoji: true };
}

/** Lines packed into as few sections as the 3000-character limit allows. */
function sections(lines: string[]): types.KnownBlock[] {
  const blocks: types.KnownBlock[] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines) {
    const length = escapeSlack(line).length + 1;
    if (current.length && size + length > SECTION_MAX) {
      blocks.push({ type: 'section', text: plain(current.join('\n'), SECTION_MAX) });
      current = [];
      size = 0;
    }
    current.push(line);
    size += length;
  }
  if (current.length) blocks.push({ type: 'section', text: plain(current.join('\n'), SECTION_MAX) });
  return blocks;
}

/** Options on every message the bot sends: nothing in the text may become a mention or a link preview. */
const INERT = { link_names: false, parse: 'none', mrkdwn: false, unfurl_links: false, unfurl_media: false } as const;

export function renderSlackBlocks(reply: Reply): types.KnownBlock[] {
  const blocks: types.KnownBlock[] = [{ type: 'header', text: plain(`${TONE_ICON[reply.tone]}${reply.title}`, HEADER_MAX) }];
  if (reply.lines?.length) blocks.push(...sections(reply.lines));
  if (reply.fields?.length) {
    blocks.push({ type: 'section', fields: reply.fields.slice(0, FIELDS_MAX).map((f) => plain(`${f.name}\n${f.value}`, FIELD_MAX)) });
  }
  if (reply.table) {
    blocks.push({ type: 'context', elements: [plain(reply.table.columns.join(' · '), SECTION_MAX)] });
    blocks.push(...sections(reply.table.rows.map((row) => row.join(' · '))));
  }
  if (reply.truncated) {
    const more = reply.truncated.total - reply.truncated.shown;
    blocks.push({ type: 'context', elements: [plain(`…and ${more} more (showing ${reply.truncated.shown} of ${reply.truncated.total})`, SECTION_MAX)] });
  }
  if (reply.footer) blocks.push({ type: 'context', elements: [plain(reply.footer, SECTION_MAX)] });
  return blocks;
}

/** The payload for respond(): private replies are ephemeral, the rest are posted in the channel. */
export function renderSlackReply(reply: Reply) {
  return {
    response_type: reply.private ? 'ephemeral' : 'in_channel',
    // Shown in notifications and where blocks cannot be.
    text: escapeSlack(reply.title),
    blocks: renderSlackBlocks(reply),
    ...INERT,
  } as const;
}

/**
 * A notice as plain_text sections, with the same text as the notification fallback. Blocks rather
 * than text alone: chat.update has no `mrkdwn: false`, and an edited notice must show a name as
 * typed too.
 */
function noticeContent(notice: Notice) {
  const text = noticeText(notice);
  return { text: escapeSlack(text), blocks: sections(text.split('\n')) };
}

/** The arguments for chat.postMessage. */
export function renderSlackNotice(notice: Notice) {
  return { ...noticeContent(notice), ...INERT };
}

/** The arguments for chat.update: the same message; of INERT's options, chat.update takes only these two. */
export function renderSlackNoticeUpdate(notice: Notice) {
  return { ...noticeContent(notice), link_names: INERT.link_names, parse: INERT.parse };
}
