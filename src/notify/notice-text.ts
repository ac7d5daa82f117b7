// What a notice says, before any platform touches it: one line per change, grouped per server and
// poll cycle. Pure: no I/O. Every string is plain data (a common name may be `<!channel>`); the
// renderers in src/chat/ escape it for their medium.
import type { VpnEventType, VpnSession } from '../domain.ts';
import { formatDuration, formatTime, secondsBetween } from '../format.ts';
import { type StoredEvent } from '../store/records.ts';

/** One grouped announcement: the changes on one server in one poll cycle. */
export interface Notice {
  server: string;
  lines: NoticeLine[];
  /** Changes summarised away to keep the message short ("…and 12 more changes"). */
  omitted: number;
}

export interface NoticeLine {
  kind: VpnEventType;
  /** Plain text, e.g. "🟢 alice connected from 203.0.113.5 (198.18.0.10)". */
  text: string;
}

/** The notice as one plain string: "fra-1: a · b" when short, else one change per line. */
export function noticeText(notice: Notice): string {
  const texts = notice.lines.map((l) => l.text);
  if (notice.omitted > 0) texts.push(`…and ${notice.omitted} more change${notice.omitted === 1 ? '' : 's'}`);
  const oneLine = `${notice.server}: ${texts.join(' · ')}`;
  return oneLine.length <= 200 && !oneLine.includes('\n') ? oneLine : `${notice.server}:\n${texts.join('\n')}`;
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

/**
 * The notice of one message of `cycle`: a line per event of that cycle, in order. A flap is one
 * line, where its connect is when that is of this cycle (both went out together), else where its
 * disconnect is (a reconnect folded into a notice already posted). Events of other cycles show
 * only through their flap partner.
 */
export function composeNotice(server: string, cycle: string, events: StoredEvent[], flapFrom: Map<StoredEvent, StoredEvent>, maxLines: number): Notice {
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

