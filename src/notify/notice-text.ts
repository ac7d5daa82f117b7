// What a notice says, before any platform touches it: one line per change, in sections of one
// server and poll cycle; a message holds one section, or several when a burst is combined. Pure:
// no I/O. Every string is plain data (a common name may be `<!channel>`); the renderers in
// src/chat/ escape it for their medium.
import type { VpnEventType, VpnSession } from '../domain.ts';
import { formatDuration, formatTime, secondsBetween } from '../format.ts';
import { type StoredEvent } from '../store/records.ts';

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
}

/** One section as plain text: "fra-1: a · b" when short, else one change per line. */
function sectionText(section: NoticeSection): string {
  const texts = section.lines.map((l) => l.text);
  if (section.omitted > 0) texts.push(`…and ${section.omitted} more change${section.omitted === 1 ? '' : 's'}`);
  const oneLine = `${section.server}: ${texts.join(' · ')}`;
  return oneLine.length <= 200 && !oneLine.includes('\n') ? oneLine : `${section.server}:\n${texts.join('\n')}`;
}

/** The notice as one plain string: each section as sectionText, one after the other. */
export function noticeText(notice: Notice): string {
  return noticeSections(notice).map(sectionText).join('\n');
}

function where(s: VpnSession): string {
  const virtual = s.virtualAddress ?? s.virtualIpv6;
  return `from ${s.realAddress}${virtual ? ` (${virtual})` : ''}`;
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
  return { ...line, text: line.text + gapNote(event) };
}

function plainLine(event: StoredEvent, flapFrom?: StoredEvent): NoticeLine {
  const who = event.user ?? '?';
  const s = event.session;
  switch (event.type) {
    case 'connected':
      if (flapFrom) return { kind: 'reconnected', text: `🔁 ${who} reconnected${s ? ` ${where(s)}` : ''} after ${formatDuration(secondsBetween(flapFrom.at, event.at))} away` };
      return { kind: 'connected', text: `🟢 ${who} connected${s ? ` ${where(s)}` : ''}` };
    case 'reconnected':
      return { kind: 'reconnected', text: `🔁 ${who} reconnected${s ? ` ${where(s)}` : ''}` };
    case 'disconnected': {
      const after = s ? ` after ${formatDuration(secondsBetween(s.connectedAt, event.at))}` : '';
      if (event.endedBy === 'kicked') return { kind: 'disconnected', text: `⛔ ${who} was kicked${after}` };
      const how = event.endedBy && event.endedBy !== 'disconnected' ? ` (${event.endedBy.replace('-', ' ')})` : '';
      return { kind: 'disconnected', text: `🔴 ${who} disconnected${after}${how}` };
    }
    case 'server-down':
      return { kind: 'server-down', text: `🚨 ${event.server} is down${event.error ? `: ${event.error}` : ''}` };
    case 'server-up':
      return { kind: 'server-up', text: `✅ ${event.server} is back up` };
    case 'summary': {
      const c = event.counts ?? { connected: 0, disconnected: 0, reconnected: 0 };
      const parts = [c.connected && `${c.connected} connected`, c.disconnected && `${c.disconnected} left`, c.reconnected && `${c.reconnected} reconnected`].filter(Boolean);
      const stopped = event.since ? ` for ${formatDuration(secondsBetween(event.since, event.at))} (from ${formatTime(event.since)})` : '';
      return { kind: 'summary', text: `⏸ While vpnwatch was stopped${stopped}: ${parts.join(', ')}` };
    }
  }
}

/** One line of a section and the events it tells (a flap's line tells its disconnect too). */
export interface SectionEntry {
  line: NoticeLine;
  events: StoredEvent[];
}

/**
 * The lines of `cycle`: a line per event of that cycle, in order. A flap is one line, where its
 * connect is when that is of this cycle (both went out together), else where its disconnect is (a
 * reconnect folded into a notice already posted). Events of other cycles show only through their
 * flap partner.
 */
export function sectionEntries(cycle: string, events: StoredEvent[], flapFrom: Map<StoredEvent, StoredEvent>): SectionEntry[] {
  const connectOf = new Map([...flapFrom].map(([c, d]) => [d, c]));
  const entries: SectionEntry[] = [];
  for (const e of events) {
    if (e.cycle !== cycle) continue;
    const connect = connectOf.get(e);
    if (connect) {
      if (connect.cycle !== cycle) entries.push({ line: lineFor(connect, e), events: [e, connect] });
      continue;
    }
    const from = flapFrom.get(e);
    entries.push({ line: lineFor(e, from), events: from ? [e, from] : [e] });
  }
  return entries;
}

/** The section of `server` and `cycle`: its first `maxLines` lines, and how many more there are. */
export function composeSection(server: string, cycle: string, events: StoredEvent[], flapFrom: Map<StoredEvent, StoredEvent>, maxLines: number): NoticeSection {
  const lines = sectionEntries(cycle, events, flapFrom).map((e) => e.line);
  return { server, lines: lines.slice(0, maxLines), omitted: Math.max(0, lines.length - maxLines) };
}

/**
 * A section's entries in parts whose text fits `maxChars` (a line longer than that is a part of
 * its own), for a section too long for one message; the last part carries the omitted count.
 */
export function splitSection(server: string, entries: SectionEntry[], omitted: number, maxChars: number): { section: NoticeSection; entries: SectionEntry[] }[] {
  const parts: SectionEntry[][] = [];
  let current: SectionEntry[] = [];
  for (const entry of entries) {
    const candidate = [...current, entry];
    if (current.length && sectionText({ server, lines: candidate.map((e) => e.line), omitted: 0 }).length > maxChars) {
      parts.push(current);
      current = [entry];
    } else {
      current = candidate;
    }
  }
  parts.push(current);
  return parts.map((part, i) => ({ section: { server, lines: part.map((e) => e.line), omitted: i === parts.length - 1 ? omitted : 0 }, entries: part }));
}
