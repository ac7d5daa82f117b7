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
// | good, but its TIME is older than the   | superseded: ignored entirely (the management stream and the |
// |   read the baseline came from          | file poll feed one baseline; the file lags behind)          |
// | failed, incomplete (no END) or stale   | sessions left as they were; failures + 1; at `downAfter`    |
// |                                        | consecutive failures: server-down (once)                    |
// | good, no baseline yet (first ever)     | the sessions become the baseline; no events (no flood)      |
// | good, first read since this process    | changes are stored but not announced (`announce: false`):  |
// |   started (`firstSinceStart`)          | a restart must not flood the channel                        |
// | good, server was down                  | server-up, then the session rules below                     |
// | good: session listed without a virtual | not online yet (authenticating, rejected, or kicked and     |
// |   address                              | lingering ~5 s): ignored on both sides                      |
// | good: session marked leaving (its exit | not online, though OpenVPN lists it ~5 s more: it ends now; |
// |   notice was seen, or it was kicked),  | a later instance at the same address (another Client ID)    |
// |   same Client ID (`leaving`)           | is online as usual                                          |
// | good: key new                          | connected                                                   |
// | good: key gone                         | disconnected (endedBy `kicked` when its key is in `kicked`) |
// | good: key kept, new instance (another  | the old instance ended (endedBy `replaced`), the new one    |
// |   Client ID, or counters went back)    | started                                                     |
// | good: same user ended and started in   | one reconnected event instead of a disconnect + connect     |
// |   the same read (not UNDEF)            |                                                             |
// | good: key kept, same instance          | same session; counters and addresses refreshed              |
//
// One rule is applied elsewhere, and why: a disconnect and a connect of the same user in DIFFERENT
// reads within FLAP_WINDOW become one "reconnected" line in src/notify/flaps.ts, when notices are
// sent: whether to edit a posted message or fold two pending events depends on what was posted.
import { isOnline, sessionKey, userName, type ServerRead, type SessionEnd, type VpnEvent, type VpnSession } from '../domain.ts';

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

/** A session known to be ending though OpenVPN still lists it (see `leaving` in the table). */
export interface LeavingMark {
  /** The instance that is leaving; null when its Client ID is unknown (any instance at the key). */
  clientId: number | null;
}

export interface DiffOptions {
  /** Consecutive bad reads before server-down. */
  downAfter: number;
  /** A status text whose TIME is older than this (ms) is stale. */
  staleAfterMs: number;
  /** The first read of this server since the process started: stored, not announced. */
  firstSinceStart?: boolean;
  /** Sessions known to be leaving, by session key. */
  leaving?: ReadonlyMap<string, LeavingMark>;
  /** Keys of sessions ended by a kick. */
  kicked?: ReadonlySet<string>;
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
  /** How ended sessions ended where it is not a plain disconnect ('kicked', 'replaced'), by key. */
  endedBy: ReadonlyMap<string, SessionEnd>;
  /** false: the events are stored but not announced. */
  announce: boolean;
}

export function emptyBaseline(): ServerBaseline {
  return { sessions: null, consecutiveFailures: 0, down: false, lastGoodAt: null, statusUpdatedAt: null };
}

/** Whether a listed session is marked as leaving (the same instance that was marked). */
function isLeaving(s: VpnSession, leaving: ReadonlyMap<string, LeavingMark> | undefined): boolean {
  const mark = leaving?.get(sessionKey(s));
  return mark !== undefined && (mark.clientId === null || s.clientId === null || mark.clientId === s.clientId);
}

/** The same client instance at one address and port: its Client ID kept and its counters not gone back. */
export function sameInstance(before: VpnSession, now: VpnSession): boolean {
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
      baseline: prev, events: [], ended: [], started: [], endedBy: new Map(), announce: false,
      rejected: { reason: 'superseded', message: `status written ${updatedAt} is older than the ${prev.statusUpdatedAt} already applied` },
    };
  }
  const rejected = rejection(read, opts);
  if (rejected) {
    const failures = prev.consecutiveFailures + 1;
    const goesDown = !prev.down && failures >= opts.downAfter;
    return {
      baseline: { ...prev, consecutiveFailures: failures, down: prev.down || goesDown },
      events: goesDown ? [{ type: 'server-down', server, at, error: rejected.message, since: prev.lastGoodAt }] : [],
      rejected,
      ended: [],
      started: [],
      endedBy: new Map(),
      // A failure is news whenever it happens (server-down), even right after a start.
      announce: true,
    };
  }

  const online: Record<string, VpnSession> = {};
  for (const s of (read as Extract<ServerRead, { ok: true }>).snapshot.sessions) {
    if (isOnline(s) && !isLeaving(s, opts.leaving)) online[sessionKey(s)] = s;
  }
  const baseline: ServerBaseline = { sessions: online, consecutiveFailures: 0, down: false, lastGoodAt: at, statusUpdatedAt: updatedAt };
  const events: VpnEvent[] = [];
  if (prev.down) events.push({ type: 'server-up', server, at, since: prev.lastGoodAt });
  const announce = !opts.firstSinceStart;
  // First good read ever: everyone listed is recorded as online, but nobody is announced.
  if (prev.sessions === null) return { baseline, events, rejected: null, ended: [], started: Object.values(online), endedBy: new Map(), announce };

  const ended: VpnSession[] = [];
  const started: VpnSession[] = [];
  const endedBy = new Map<string, SessionEnd>();
  for (const [key, before] of Object.entries(prev.sessions)) {
    const now = online[key];
    if (!now) {
      ended.push(before);
      if (opts.kicked?.has(key)) endedBy.set(key, 'kicked');
    } else if (!sameInstance(before, now)) {
      ended.push(before);
      started.push(now);
      endedBy.set(key, 'replaced');
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
  for (const s of ended) if (!paired.has(s)) events.push({ type: 'disconnected', server, at, session: s, endedBy: endedBy.get(sessionKey(s)) ?? 'disconnected' });
  for (const s of started) {
    const previous = reconnectedFrom.get(s);
    events.push(previous ? { type: 'reconnected', server, at, session: s, previous } : { type: 'connected', server, at, session: s });
  }
  return { baseline, events, rejected: null, ended, started, endedBy, announce };
}

/** Slack for a busy server that writes late, and for clocks a little apart (NTP keeps them within ms). */
const STALE_SLACK_SECONDS = 10;

/** The staleness bound for a server: two missed rewrites of the file, one poll interval, and slack. */
export function staleAfterMs(statusRefreshSeconds: number, pollIntervalSeconds: number): number {
  return (2 * statusRefreshSeconds + pollIntervalSeconds + STALE_SLACK_SECONDS) * 1000;
}
