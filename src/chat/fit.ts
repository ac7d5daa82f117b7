// Cutting an answer to a platform's size limits, the same way on every platform: the title, the
// fields and the footer always stay; lines and then table rows are kept in order while they fit;
// whatever is cut is counted in one visible line ("…and 4,975 more (showing 25 of 5,000)") that
// also says where the whole answer is (the page when PUBLIC_URL is set, else the terminal
// command). The platform renderers decide what "fits" means (Slack's blocks, Discord's embed).
import type { FullAnswer, Reply } from '../command.ts';
import type { Notice } from '../notify/notice-text.ts';

/** How much of a Reply's lines and rows a renderer kept. */
export interface Kept {
  lines: number;
  rows: number;
}

/** How many of `sizes`, taken in order, fit in `budget` (each item costs its size). */
export function countFitting(sizes: readonly number[], budget: number): number {
  let used = 0;
  for (const [i, size] of sizes.entries()) {
    if (used + size > budget) return i;
    used += size;
  }
  return sizes.length;
}

/**
 * The items rendered, in order, while they fit in `budget`, each costing its length plus a
 * separator. Items past the first that does not fit are never rendered (rendering may be costly).
 */
export function renderFitting<T>(items: readonly T[], render: (item: T) => string, budget: number): string[] {
  const kept: string[] = [];
  let left = budget;
  for (const item of items) {
    const text = render(item);
    if (text.length + 1 > left) break;
    kept.push(text);
    left -= text.length + 1;
  }
  return kept;
}

/** Text cut at a UTF-16 index loses the high half of a surrogate pair it split (it would be sent as garbage). */
export function withoutHalfPair(text: string): string {
  return /[\uD800-\uDBFF]$/.test(text) ? text.slice(0, -1) : text;
}

const count = (n: number) => n.toLocaleString('en-US');

/** Where the whole answer is, as plain text; the URL is the caller's to render as a link. */
export function seeAllText(full: FullAnswer): string {
  return full.url ? `See all: ${full.url}` : `See all: ${full.command} (on the vpnwatch host)`;
}

/**
 * What was left out, or null when nothing was: "…and 30 more (showing 25 of 55)" for rows (the
 * command's own cut included), "…and 3 more lines" for lines.
 */
export function cutText(reply: Reply, kept: Kept): string | null {
  const rows = reply.table?.rows.length ?? 0;
  const total = reply.truncated?.total ?? rows;
  const hiddenRows = total - kept.rows;
  const hiddenLines = (reply.lines?.length ?? 0) - kept.lines;
  const parts: string[] = [];
  if (hiddenRows > 0) parts.push(`…and ${count(hiddenRows)} more (showing ${count(kept.rows)} of ${count(total)})`);
  if (hiddenLines > 0) parts.push(`…and ${count(hiddenLines)} more line${hiddenLines === 1 ? '' : 's'}`);
  return parts.length ? parts.join(' · ') : null;
}

/**
 * The longest `cutText` a Reply can need: a renderer reserves room for it before packing, so the
 * note always fits whatever is cut.
 */
export function longestCutText(reply: Reply): string {
  const rows = reply.table?.rows.length ?? 0;
  const total = Math.max(reply.truncated?.total ?? rows, 1);
  const lines = Math.max(reply.lines?.length ?? 0, 1);
  // Every count at its widest: nothing shown yet, everything hidden.
  return `…and ${count(total)} more (showing ${count(total)} of ${count(total)}) · …and ${count(lines)} more lines`;
}

/** Where a notice's changes summarised away can be seen: the server on the page, or the commands that list them. */
export function noticeSeeAlso(server: string, publicUrl: string | undefined): string {
  return publicUrl ? `${publicUrl}/?server=${encodeURIComponent(server)}` : `/vpn online ${server} and /vpn recent`;
}

/**
 * The notice with as many of its lines as `fits` accepts, in order; the others join its omitted
 * count ("…and N more changes"). Fewer lines never make a longer message, so the most that fit
 * are found by halving.
 */
export function fitNotice(notice: Notice, fits: (candidate: Notice) => boolean): Notice {
  const keep = (n: number): Notice => ({ ...notice, lines: notice.lines.slice(0, n), omitted: notice.omitted + notice.lines.length - n });
  if (fits(notice)) return notice;
  let low = 0;
  let high = notice.lines.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(keep(mid))) low = mid;
    else high = mid - 1;
  }
  return keep(low);
}
