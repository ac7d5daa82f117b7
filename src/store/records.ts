// What the store hands out: plain records, never mongoose documents, and the mappers that make
// them from lean query results (typed by the schemas' inferred types in models.ts).
import type { ReadResult, SessionEnd, SourceName, SourceState, VpnEvent, VpnSession } from '../domain.ts';
import type { EventDoc, KickDoc, ServerDoc, SessionDoc, UserDoc } from './models.ts';

export interface OnlineSession extends VpnSession {
  server: string;
}

/** A server as stored: its last read and health, without the online list. */
export interface ServerRecord {
  name: string;
  host: string | null;
  lastPollAt: Date | null;
  lastGoodAt: Date | null;
  lastResult: ReadResult;
  lastError: string | null;
  statusUpdatedAt: Date | null;
  pollDurationMs: number | null;
  consecutiveFailures: number;
  down: boolean;
  source: string | null;
  onlineCount: number;
  /** When the online list (and its byte counters) was last written, and when someone last came or went. */
  onlineWrittenAt: Date | null;
  sessionsChangedAt: Date | null;
  /** Each source's own state (the status file, the management interface). */
  sources: Partial<Record<SourceName, SourceState>>;
}

export interface SessionRecord {
  id: string;
  server: string;
  user: string;
  commonName: string;
  username: string | null;
  realAddress: string;
  realPort: number | null;
  virtualAddress: string | null;
  virtualIpv6: string | null;
  connectedAt: Date;
  disconnectedAt: Date | null;
  bytesReceived: number;
  bytesSent: number;
  endedBy: SessionEnd | null;
}

export interface UserRecord {
  name: string;
  online: boolean;
  firstSeen: Date;
  lastSeen: Date;
  lastIp: string | null;
  lastServer: string | null;
  totalBytesReceived: number;
  totalBytesSent: number;
  sessionCount: number;
}

export interface UserReport {
  user: UserRecord;
  online: OnlineSession[];
  recent: SessionRecord[];
  /** Ended sessions plus the online sessions' counters so far. */
  totalBytesReceived: number;
  totalBytesSent: number;
}

export type DeliveryState = 'pending' | 'sent' | 'failed' | 'skipped';

export interface Delivery {
  target: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  sentAt: Date | null;
  /** The chat message this event went out in, as the sink returned it (opaque; null for the log or before delivery). */
  messageRef?: string | null;
}

export interface StoredEvent extends VpnEvent {
  id: string;
  /** Monotonic: later writes have higher numbers (the /api/events cursor). */
  seq: number;
  user: string | null;
  cycle: string;
  deliveries: Delivery[];
}

export interface KickRecord {
  at: Date;
  by: { platform: string; userId: string; userName: string };
  where: string | null;
  target: string;
  server: string | null;
  clientIds: number[];
  result: 'kicked' | 'partial' | 'not-found' | 'failed' | 'refused' | 'choose' | 'invalid';
  verified: boolean;
  message: string | null;
}

export interface OnlineEntry extends VpnSession {
  sessionId: string | null;
}

/**
 * A server's online list as stored (onlineJson): each session with plainSession's fields, in its
 * order, and the id of its session document. One object literal per entry: the poll writes every
 * server's list each cycle, and spreading plainSession's object into another made two objects per
 * session (90 MB a cycle at 200 servers × 500 sessions, a third of the main thread's allocations).
 * Writing the text field by field allocated more still (a string per field).
 */
export function encodeOnline(sessions: Record<string, VpnSession>, ids: ReadonlyMap<string, string>): { json: string; count: number } {
  const keys = Object.keys(sessions);
  const entries = new Array<OnlineEntry>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const s = sessions[keys[i]!]!;
    entries[i] = {
      commonName: s.commonName, username: s.username ?? null, realAddress: s.realAddress, realPort: s.realPort ?? null, protocol: s.protocol ?? null,
      virtualAddress: s.virtualAddress ?? null, virtualIpv6: s.virtualIpv6 ?? null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent,
      connectedAt: s.connectedAt, clientId: s.clientId ?? null, peerId: s.peerId ?? null, cipher: s.cipher ?? null, sessionId: ids.get(keys[i]!) ?? null,
    };
  }
  return { json: JSON.stringify(entries), count: keys.length };
}

export function decodeOnline(json: string | null | undefined): OnlineEntry[] {
  return json ? (JSON.parse(json) as OnlineEntry[]) : [];
}

/** A VpnSession with exactly the contract's fields (no mongoose extras; missing values as null). */
export const plainSession = (s: VpnSession): VpnSession => ({
  commonName: s.commonName, username: s.username ?? null, realAddress: s.realAddress, realPort: s.realPort ?? null, protocol: s.protocol ?? null,
  virtualAddress: s.virtualAddress ?? null, virtualIpv6: s.virtualIpv6 ?? null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent,
  connectedAt: s.connectedAt, clientId: s.clientId ?? null, peerId: s.peerId ?? null, cipher: s.cipher ?? null,
});

/** The recorded state of each source of a server. */
export function toSourceStates(d: ServerDoc['sources'] | null | undefined): Partial<Record<SourceName, SourceState>> {
  const states: Partial<Record<SourceName, SourceState>> = {};
  for (const name of ['status-file', 'management'] as const) {
    const s = d?.[name];
    if (s) states[name] = { result: s.result as ReadResult, error: s.error ?? null, since: s.since ?? null, lastReadAt: s.lastReadAt ?? null, lastGoodAt: s.lastGoodAt ?? null };
  }
  return states;
}

/** A lean query result: the schema's fields plus the document id. */
type Lean<T> = T;

export function toServerRecord(d: Lean<Omit<ServerDoc, 'onlineJson'>>): ServerRecord {
  return {
    name: d.name, host: d.host ?? null, lastPollAt: d.lastPollAt ?? null, lastGoodAt: d.lastGoodAt ?? null,
    lastResult: d.lastResult as ReadResult, lastError: d.lastError ?? null, statusUpdatedAt: d.statusUpdatedAt ?? null,
    pollDurationMs: d.pollDurationMs ?? null, consecutiveFailures: d.consecutiveFailures, down: d.down, source: d.source ?? null,
    onlineCount: d.onlineCount ?? 0, onlineWrittenAt: d.onlineWrittenAt ?? null, sessionsChangedAt: d.sessionsChangedAt ?? null,
    sources: toSourceStates(d.sources),
  };
}

export function toSessionRecord(d: Lean<SessionDoc>): SessionRecord {
  return {
    id: String(d._id), server: d.server, user: d.user, commonName: d.commonName, username: d.username ?? null,
    realAddress: d.realAddress, realPort: d.realPort ?? null, virtualAddress: d.virtualAddress ?? null, virtualIpv6: d.virtualIpv6 ?? null,
    connectedAt: d.connectedAt, disconnectedAt: d.disconnectedAt ?? null, bytesReceived: d.bytesReceived, bytesSent: d.bytesSent,
    endedBy: (d.endedBy ?? null) as SessionEnd | null,
  };
}

export function toUserRecord(d: Lean<UserDoc>): UserRecord {
  return {
    name: d.name, online: d.online, firstSeen: d.firstSeen, lastSeen: d.lastSeen, lastIp: d.lastIp ?? null, lastServer: d.lastServer ?? null,
    totalBytesReceived: d.totalBytesReceived ?? 0, totalBytesSent: d.totalBytesSent ?? 0, sessionCount: d.sessionCount ?? 0,
  };
}

export function toStoredEvent(d: Lean<EventDoc>): StoredEvent {
  const e: StoredEvent = {
    id: String(d._id), seq: d.seq, type: d.type, server: d.server, at: d.at.toISOString(), user: d.user ?? null, cycle: d.cycle,
    deliveries: (d.deliveries ?? []).map((x) => ({
      target: x.target, state: x.state, attempts: x.attempts, nextAttemptAt: x.nextAttemptAt ?? null, lastError: x.lastError ?? null,
      sentAt: x.sentAt ?? null, messageRef: x.messageRef ?? null,
    })),
  };
  if (d.session) e.session = plainSession(d.session as VpnSession);
  if (d.previous) e.previous = plainSession(d.previous as VpnSession);
  if (d.endedBy) e.endedBy = d.endedBy as SessionEnd;
  if (d.error) e.error = d.error;
  if (d.text) { e.text = d.text; e.guestText = d.guestText ?? d.text; }
  if (d.since !== undefined && (d.type === 'server-down' || d.type === 'server-up' || d.type === 'summary')) e.since = d.since ? d.since.toISOString() : null;
  if (d.gapFrom && d.gapTo) e.gap = { from: d.gapFrom.toISOString(), to: d.gapTo.toISOString() };
  if (d.counts) e.counts = { connected: d.counts.connected ?? 0, disconnected: d.counts.disconnected ?? 0, reconnected: d.counts.reconnected ?? 0 };
  return e;
}

export function toKickRecord(d: Lean<KickDoc>): KickRecord {
  return {
    at: d.at, by: { platform: d.by?.platform ?? '', userId: d.by?.userId ?? '', userName: d.by?.userName ?? '' }, where: d.where ?? null,
    target: d.target, server: d.server ?? null, clientIds: d.clientIds, result: d.result, verified: d.verified, message: d.message ?? null,
  };
}
