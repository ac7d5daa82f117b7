// What a notice says, before any platform touches it: one line per change, in sections of one
// server and poll cycle; a message holds one section, or several when a burst is combined. Pure:
// no I/O. Every string is plain data (a common name may be `<!channel>`); the renderers in
// src/chat/ escape it for their medium.
import { maskIp, type VpnEventType, type VpnSession } from '../domain.ts';
import { formatDuration, formatTime, secondsBetween } from '../format.ts';
import type { StoredEvent } from '../store/records.ts';

/** The changes on one server in one poll cycle. */
export interface NoticeSection {
  server: string;
  lines: NoticeLine[];
  /** Changes summarised away to keep the message short ("…and 12 more changes"). */
  omitted: number;
}

/**
 * What one chat message says: one server's section, and `more` sections when a burst is combined
 * into one message (other servers, or later cycles). Renderers read it through noticeText (or
 * noticeSections), never `lines` alone.
 */
export interface Notice extends NoticeSection {
  more?: NoticeSection[];
}

/** Every section of the notice, in order. */
export function noticeSections(notice: Notice): NoticeSection[] {
  const { more, ...first } = notice;
  return [first, ...(more ?? [])];
}

/** The notice of `sections` (at least one). */
export function noticeOf(sections: NoticeSection[]): Notice {
  const [first, ...more] = sections;
  if (!first) throw new Error('a notice needs a section');
  return more.length ? { ...first, more } : { ...first };
}

export interface NoticeLine {
  kind: VpnEventType;
  /** Plain text, e.g. "🟢 alice connected from 203.0.113.5 (198.18.0.10)". */
  text: string;
  /**
   * The same line for a channel's guests (the privacy rule of src/domain.ts): the real address
   * masked ("from 203.0.113.x"), and a server-down without its error text (it may name SSH hosts).
   */
  guestText: string;
}

/** How a notice is written: `realIps` picks each line's text or guest text; `seeAlso` says where the changes summarised away are. */
export interface NoticeTextOptions {
  realIps: boolean;
  seeAlso?: string;
}

/** One section as plain text: "fra-1: a · b" when short, else one change per line. */
function sectionText(section: NoticeSection, opts: NoticeTextOptions): string {
  const texts = section.lines.map((l) => (opts.realIps ? l.text : l.guestText));
  if (section.omitted > 0) texts.push(`…and ${section.omitted} more change${section.omitted === 1 ? '' : 's'}${opts.seeAlso ? `: ${opts.seeAlso}` : ''}`);
  const oneLine = `${section.server}: ${texts.join(' · ')}`;
  return oneLine.length <= 200 && !oneLine.includes('\n') ? oneLine : `${section.server}:\n${texts.join('\n')}`;
}

/**
 * The notice as one plain string: each section as sectionText, one after the other. A section
 * with changes summarised away is never combined with others (src/notify/notifier.ts), so the
 * notice's `seeAlso` (about its server) is about that section.
 */
export function noticeText(notice: Notice, opts: NoticeTextOptions): string {
  return noticeSections(notice).map((s) => sectionText(s, opts)).join('\n');
}

function where(s: VpnSession, realIps: boolean): string {
  const virtual = s.virtualAddress ?? s.virtualIpv6;
  return `from ${realIps ? s.realAddress : maskIp(s.realAddress)}${virtual ? ` (${virtual})` : ''}`;
}

/** " (while vpnwatch was stopped, between 10:00 and 10:15 UTC)": a change seen late, after a restart. */
function gapNote(e: StoredEvent): string {
  if (!e.gap) return '';
  const [from, to] = [formatTime(e.gap.from), formatTime(e.gap.to)];
  const sameDay = from.slice(0, 10) === to.slice(0, 10);
  return ` (while vpnwatch was stopped, between ${sameDay ? from.slice(11, 16) : from.replace(' UTC', '')} and ${sameDay ? to.slice(11) : to})`;
}

/** One event (and the disconnect it absorbed, for a flap) as one plain line. */
export function lineFor(event: StoredEvent, flapFrom?: StoredEvent): NoticeLine {
  const line = plainLine(event, flapFrom);
  const gap = gapNote(event);
  return { ...line, text: line.text + gap, guestText: line.guestText + gap };
}

function plainLine(event: StoredEvent, flapFrom?: StoredEvent): NoticeLine {
  const both = (kind: VpnEventType, text: (realIps: boolean) => string): NoticeLine => ({ kind, text: text(true), guestText: text(false) });
  const who = event.user ?? '?';
  const s = event.session;
  switch (event.type) {
    case 'connected':
      if (flapFrom) return both('reconnected', (ips) => `🔁 ${who} reconnected${s ? ` ${where(s, ips)}` : ''} after ${formatDuration(secondsBetween(flapFrom.at, event.at))} away`);
      return both('connected', (ips) => `🟢 ${who} connected${s ? ` ${where(s, ips)}` : ''}`);
    case 'reconnected':
      return both('reconnected', (ips) => `🔁 ${who} reconnected${s ? ` ${where(s, ips)}` : ''}`);
    case 'disconnected': {
      const after = s ? ` after ${formatDuration(secondsBetween(s.connectedAt, event.at))}` : '';
      if (event.endedBy === 'kicked') return both('disconnected', () => `⛔ ${who} was kicked${after}`);
      const how = event.endedBy && event.endedBy !== 'disconnected' ? ` (${event.endedBy.replace('-', ' ')})` : '';
      return both('disconnected', () => `🔴 ${who} disconnected${after}${how}`);
    }
    case 'server-down':
      return both('server-down', (ips) => `🚨 ${event.server} is down${event.error && ips ? `: ${event.error}` : ''}`);
    case 'server-up':
      return both('server-up', () => `✅ ${event.server} is back up`);
    case 'notice':
      return { kind: 'notice', text: event.text ?? '', guestText: event.guestText ?? event.text ?? '' };
    case 'summary': {
      const c = event.counts ?? { connected: 0, disconnected: 0, reconnected: 0 };
      const parts = [c.connected && `${c.connected} connected`, c.disconnected && `${c.disconnected} left`, c.reconnected && `${c.reconnected} reconnected`].filter(Boolean);
      const stopped = event.since ? ` for ${formatDuration(secondsBetween(event.since, event.at))} (from ${formatTime(event.since)})` : '';
      return both('summary', () => `⏸ While vpnwatch was stopped${stopped}: ${parts.join(', ')}`);
    }
  }
}

/**
 * The section of `server` and `cycle`: a line per event of that cycle, in order, the first
 * `maxLines` of them, and how many more there are. A flap is one line, where its connect is when
 * that is of this cycle (both went out together), else where its disconnect is (a reconnect folded
 * into a notice already posted). Events of other cycles show only through their flap partner.
 */
export function composeSection(server: string, cycle: string, events: StoredEvent[], flapFrom: Map<StoredEvent, StoredEvent>, maxLines: number): NoticeSection {
  const connectOf = new Map([...flapFrom].map(([c, d]) => [d, c]));
  const lines: NoticeLine[] = [];
  for (const e of events) {
    if (e.cycle !== cycle) continue;
    const connect = connectOf.get(e);
    if (connect) {
      if (connect.cycle !== cycle) lines.push(lineFor(connect, e));
      continue;
    }
    lines.push(lineFor(e, flapFrom.get(e)));
  }
  return { server, lines: lines.slice(0, maxLines), omitted: Math.max(0, lines.length - maxLines) };
}
