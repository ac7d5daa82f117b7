// diffSnapshots: what changed on one server between the last good read and this one. Pure: the
// poller feeds it the stored baseline and a fresh read, and stores what it returns.
//
// A session is one OpenVPN client instance: a common name at a real address and port. That key is
// the same in every status-version and in the management interface's `status 3`, so the file
// poll and the management stream agree on it. A new Client ID at the same address, or counters
// that went backwards, mean the old instance ended and a new one began.
//
// | read                                   | rule                                                        |
// |----------------------------------------|-------------------------------------------------------------|
// | failed, incomplete (no END) or stale   | sessions left as they were; failures + 1; at `downAfter`    |
// |                                        | consecutive failures: server-down (once)                    |
// | good, no baseline yet (first ever)     | the sessions become the baseline; no events (no flood)      |
// | good, server was down                  | server-up, then the session rules below                     |
// | good: session listed without a virtual | not online yet (authenticating, rejected, or kicked and     |
// |   address                              | lingering ~5 s): ignored on both sides                      |
// | good: key new                          | connected                                                   |
// | good: key gone                         | disconnected                                                |
// | good: same common name gone and new in | one reconnected event instead of a disconnect + connect     |
// |   the same read                        |                                                             |
// | good: key kept                         | same session; counters and addresses refreshed              |
// | good, but its TIME is older than the   | superseded: ignored entirely (the management stream and the |
// |   read the baseline came from          | file poll feed one baseline; the file lags behind)          |
import { isOnline, sessionKey, userName, type ServerRead, type VpnEvent, type VpnSession } from '../domain.ts';

/** What the poller remembers per server between reads (stored with the server in MongoDB). */
export interface ServerBaseline {
  /** Online sessions by sessionKey, as of the last good read; null before the first good read. */
  sessions: Record<string, VpnSession> | null;
  consecutiveFailures: number;
  down: boolean;
  lastGoodAt: string | null;
  /** TIME/Updated of the status text the baseline came from: an older text is superseded. */
  statusUpdatedAt: string | null;
}

export interface DiffOptions {
  /** Consecutive bad reads before server-down. */
  downAfter: number;
  /** A status text whose TIME is older than this (ms) is stale. */
  staleAfterMs: number;
}

export interface DiffResult {
  baseline: ServerBaseline;
  events: VpnEvent[];
  /**
   * Why this read was not used, with a message; null when it was. 'superseded' is not a failure
   * (nothing is wrong with the server): the poller drops such reads without storing anything.
   */
  rejected: { reason: 'error' | 'incomplete' | 'stale' | 'superseded'; message: string } | null;
  /** Sessions that ended (key gone), and new ones, for the store. */
  ended: VpnSession[];
  started: VpnSession[];
}

export function emptyBaseline(): ServerBaseline {
  return { sessions: null, consecutiveFailures: 0, down: false, lastGoodAt: null, statusUpdatedAt: null };
}

function sameInstance(before: VpnSession, now: VpnSession): boolean {
  if (before.clientId !== null && now.clientId !== null && before.clientId !== now.clientId) return false;
  return now.bytesReceived + now.bytesSent >= before.bytesReceived + before.bytesSent;
}

/** Why a good-looking read still cannot be trusted for disconnects, or null. */
function rejection(read: ServerRead, opts: DiffOptions): DiffResult['rejected'] {
  if (!read.ok) return { reason: 'error', message: read.error };
  if (!read.snapshot.complete) return { reason: 'incomplete', message: 'status file has no END line (caught mid-rewrite, or cut off)' };
  const updated = read.snapshot.updatedAt;
  if (updated !== null) {
    const ageMs = Date.parse(read.readAt) - Date.parse(updated);
    if (ageMs > opts.staleAfterMs) {
      return {
        reason: 'stale',
        message: `status file is stale: written ${updated}, ${Math.round(ageMs / 1000)} s before it was read (limit ${Math.round(opts.staleAfterMs / 1000)} s); is OpenVPN running, and are the server's clock and timezone right?`,
      };
    }
  }
  return null;
}

export function diffSnapshots(prev: ServerBaseline, read: ServerRead, opts: DiffOptions): DiffResult {
  const at = read.readAt;
  const server = read.server;
  const updatedAt = read.ok ? read.snapshot.updatedAt : null;
  if (read.ok && updatedAt !== null && prev.statusUpdatedAt !== null && Date.parse(updatedAt) < Date.parse(prev.statusUpdatedAt)) {
    return {
      baseline: prev, events: [], ended: [], started: [],
      rejected: { reason: 'superseded', message: `status written ${updatedAt} is older than the ${prev.statusUpdatedAt} already applied` },
    };
  }
  const rejected = rejection(read, opts);
  if (rejected) {
    const failures = prev.consecutiveFailures + 1;
    const goesDown = !prev.down && failures >= opts.downAfter;
    return {
      baseline: { ...prev, consecutiveFailures: failures, down: prev.down || goesDown },
      events: goesDown ? [{ type: 'server-down', server, at, error: rejected.message }] : [],
      rejected,
      ended: [],
      started: [],
    };
  }

  const online: Record<string, VpnSession> = {};
  for (const s of (read as Extract<ServerRead, { ok: true }>).snapshot.sessions) {
    if (isOnline(s)) online[sessionKey(s)] = s;
  }
  const baseline: ServerBaseline = { sessions: online, consecutiveFailures: 0, down: false, lastGoodAt: at, statusUpdatedAt: updatedAt };
  const events: VpnEvent[] = [];
  if (prev.down) events.push({ type: 'server-up', server, at });
  // First good read ever: everyone listed is recorded as online, but nobody is announced.
  if (prev.sessions === null) return { baseline, events, rejected: null, ended: [], started: Object.values(online) };

  const ended: VpnSession[] = [];
  const started: VpnSession[] = [];
  for (const [key, before] of Object.entries(prev.sessions)) {
    const now = online[key];
    if (!now) ended.push(before);
    else if (!sameInstance(before, now)) {
      ended.push(before);
      started.push(now);
    }
  }
  for (const [key, now] of Object.entries(online)) {
    if (!prev.sessions[key]) started.push(now);
  }

  // Pair an ended and a started session of the same user into one "reconnected".
  const endedByName = new Map<string, VpnSession[]>();
  for (const s of ended) {
    const name = userName(s);
    if (name === 'UNDEF') continue;
    endedByName.set(name, [...(endedByName.get(name) ?? []), s]);
  }
  const reconnectedFrom = new Map<VpnSession, VpnSession>();
  for (const s of started) {
    const candidates = endedByName.get(userName(s));
    const previous = candidates?.shift();
    if (previous) reconnectedFrom.set(s, previous);
  }
  const paired = new Set(reconnectedFrom.values());
  for (const s of ended) if (!paired.has(s)) events.push({ type: 'disconnected', server, at, session: s, endedBy: 'disconnected' });
  for (const s of started) {
    const previous = reconnectedFrom.get(s);
    events.push(previous ? { type: 'reconnected', server, at, session: s, previous } : { type: 'connected', server, at, session: s });
  }
  return { baseline, events, rejected: null, ended, started };
}

/** Slack for a busy server that writes late, and for clocks a little apart (NTP keeps them within ms). */
const STALE_SLACK_SECONDS = 10;

/** The staleness bound for a server: two missed rewrites of the file, one poll interval, and slack. */
export function staleAfterMs(statusRefreshSeconds: number, pollIntervalSeconds: number): number {
  return (2 * statusRefreshSeconds + pollIntervalSeconds + STALE_SLACK_SECONDS) * 1000;
}
