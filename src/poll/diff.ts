// diffSnapshots: what changed on one server between the last good read and this one. Pure: the
// poller feeds it the stored baseline and a fresh read, and stores what it returns.
//
// A session is one OpenVPN client instance: a common name at a real address and port. That key is
// the same in every status-version and in the management interface's `status 3`, so the file
// poll and the management stream agree on it. A new Client ID at the same address, or counters
// that went backwards, mean the old instance ended and a new one began.
//
// Every read also gets a verdict for its source (ok, error, incomplete, stale, future), recorded
// per source whatever the rules below do with the read: a status file that cannot be read shows
// even while the management stream keeps the server current.
//
// | read                                   | rule                                                        |
// |----------------------------------------|-------------------------------------------------------------|
// | failed, incomplete, stale or future,   | covered: only its source's state is recorded; the server   |
// |   while the other source fed a good    | stays as the other source keeps it (no failure counted)     |
// |   read within the staleness bound      |                                                             |
// | good, but its TIME is older than the   | superseded: only its source's state is recorded (the        |
// |   read the baseline came from          | management stream and the file poll feed one baseline; the  |
// |                                        | file lags behind)                                           |
// | failed, incomplete (no END), stale, or | sessions left as they were; failures + 1; at `downAfter`    |
// |   TIME more than FUTURE_ALLOWANCE ahead| consecutive failures: server-down (once)                    |
// |   of the read (`future`)               |                                                             |
// | good, no baseline yet (first ever)     | the sessions become the baseline; no events (no flood)      |
// | good, first read since this process    | what changed while vpnwatch was stopped: with a baseline at |
// |   started (`firstSinceStart`)          | most RESTART_DETAIL_MS old, every change is announced,      |
// |                                        | marked with the gap it happened in; with an older baseline, |
// |                                        | the changes are stored silently and ONE summary event per   |
// |                                        | server is announced ("while vpnwatch was stopped for 3h:    |
// |                                        | 12 connected, 9 left"): never a flood                       |
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
import { isOnline, sessionKey, userName, type ReadResult, type ServerRead, type SessionEnd, type SourceName, type SourceState, type VpnEvent, type VpnSession } from '../domain.ts';
import { formatDuration } from '../format.ts';

/** What the poller remembers per server between reads (stored with the server in MongoDB). */
export interface ServerBaseline {
  /** Online sessions by sessionKey, as of the last good read; null before the first good read. */
  sessions: Record<string, VpnSession> | null;
  consecutiveFailures: number;
  down: boolean;
  lastGoodAt: string | null;
  /** TIME/Updated of the status text the baseline came from: an older text is superseded. */
  statusUpdatedAt: string | null;
  /** Which source the last good read came from. */
  source: SourceName | null;
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
  /** The first read of this server since the process started (see the table). */
  firstSinceStart?: boolean;
  /** How old a baseline may be for its changes to be announced one by one after a start. */
  restartDetailMs?: number;
  /** Sessions known to be leaving, by session key. */
  leaving?: ReadonlyMap<string, LeavingMark>;
  /** Keys of sessions ended by a kick. */
  kicked?: ReadonlySet<string>;
}

/** What one read says about its source, whether or not the read was applied. */
export interface SourceVerdict {
  source: SourceName;
  result: Exclude<ReadResult, 'never'>;
  /** Why it is not ok (for the admin), or null. */
  message: string | null;
}

export interface Traffic {
  received: number;
  sent: number;
  /** The good read the bytes are counted from (ISO-8601), null when none. */
  since: string | null;
}

const NO_TRAFFIC: Traffic = { received: 0, sent: 0, since: null };

/**
 * Bytes since `prev`: growth of continuing instances, whole counters of new ones. `listed` is every
 * session the read lists: one still listed but no longer online (leaving: its exit notice was seen,
 * or it was kicked) counts its last growth, the end of its traffic; one listed but not online yet
 * (authenticating) counts nothing until it is online, then all of it.
 */
function trafficSince(prev: Record<string, VpnSession>, online: Record<string, VpnSession>, listed: VpnSession[], since: string | null): Traffic {
  let received = 0;
  let sent = 0;
  for (const now of listed) {
    const key = sessionKey(now);
    const before = prev[key];
    const continuing = before !== undefined && sameInstance(before, now);
    if (!continuing && online[key] !== now) continue;
    received += continuing ? Math.max(0, now.bytesReceived - before.bytesReceived) : now.bytesReceived;
    sent += continuing ? Math.max(0, now.bytesSent - before.bytesSent) : now.bytesSent;
  }
  return { received, sent, since };
}

export type RejectReason = 'error' | 'incomplete' | 'stale' | 'future';

export interface DiffResult {
  baseline: ServerBaseline;
  verdict: SourceVerdict;
  /**
   * false: the read changes nothing about the server (superseded, or a failure covered by the
   * other source); only its source's state is recorded.
   */
  affectsServer: boolean;
  events: VpnEvent[];
  /**
   * Why this read was not used, with a message; null when it was. 'superseded' is not a failure
   * (nothing is wrong with the server): the poller drops such reads without storing anything.
   */
  rejected: { reason: RejectReason | 'superseded' | 'covered'; message: string } | null;
  /** Sessions that ended (key gone), and new ones, for the store. */
  ended: VpnSession[];
  started: VpnSession[];
  /** How ended sessions ended where it is not a plain disconnect ('kicked', 'replaced'), by key. */
  endedBy: ReadonlyMap<string, SessionEnd>;
  /** Events stored but not announced (the details behind a restart summary). */
  silent: ReadonlySet<VpnEvent>;
  /**
   * Bytes moved since the previous good read (`since`), summed over the server's sessions:
   * counters that grew (also of a session still listed while it leaves: its last growth), and the
   * whole counters of sessions that started since (a new instance at an old address, or after a
   * server restart, counts from zero: never negative). Zero for a read that was not applied, and
   * for the first read ever (nothing to compare with).
   */
  traffic: Traffic;
}

export function emptyBaseline(): ServerBaseline {
  return { sessions: null, consecutiveFailures: 0, down: false, lastGoodAt: null, statusUpdatedAt: null, source: null };
}

const NONE: ReadonlySet<VpnEvent> = new Set();

/** After a start, changes against a baseline at most this old are announced one by one (else summarised). */
export const RESTART_DETAIL_MS = 3600_000;

/**
 * How far ahead of vpnwatch's clock a status time may be: clocks kept by NTP agree within
 * milliseconds, and OpenVPN writes whole seconds. More is a wrong `timezone` or a wrong clock.
 */
export const FUTURE_ALLOWANCE_MS = 60_000;

/** Whether a listed session is marked as leaving (the same instance that was marked). */
function isLeaving(s: VpnSession, leaving: ReadonlyMap<string, LeavingMark> | undefined): boolean {
  const mark = leaving?.get(sessionKey(s));
  return mark !== undefined && (mark.clientId === null || s.clientId === null || mark.clientId === s.clientId);
}

function sameInstance(before: VpnSession, now: VpnSession): boolean {
  if (before.clientId !== null && now.clientId !== null && before.clientId !== now.clientId) return false;
  return now.bytesReceived + now.bytesSent >= before.bytesReceived + before.bytesSent;
}

/** Why a read cannot be trusted for disconnects, or null. */
function rejection(read: ServerRead, opts: DiffOptions): { reason: RejectReason; message: string } | null {
  if (!read.ok) return { reason: 'error', message: read.error };
  const what = read.source === 'management' ? 'management status' : 'status file';
  if (!read.snapshot.complete) {
    const why = read.snapshot.warnings.find((w) => /changed while|during the read/i.test(w)) ?? 'it has no END line (caught mid-rewrite, or cut off)';
    return { reason: 'incomplete', message: `${what} is incomplete: ${why}` };
  }
  const updated = read.snapshot.updatedAt;
  if (updated !== null) {
    const ageMs = Date.parse(read.readAt) - Date.parse(updated);
    // The file's modification time is a second clock, the SFTP server's: a file OpenVPN keeps
    // rewriting whose own time is far off was written in another zone than `timezone` says.
    const modifiedMs = read.fileModifiedAt ? Date.parse(read.readAt) - Date.parse(read.fileModifiedAt) : null;
    const beingWritten = modifiedMs !== null && modifiedMs <= opts.staleAfterMs;
    const zoneHint = beingWritten
      ? `; the file itself was modified ${formatDuration(Math.max(0, modifiedMs) / 1000)} before the read, so OpenVPN is writing it: its times are read in the wrong zone; set \`timezone\` to the server's zone`
      : null;
    if (-ageMs > FUTURE_ALLOWANCE_MS) {
      return {
        reason: 'future',
        message: `${what} time is ${formatDuration(-ageMs / 1000)} ahead of vpnwatch's clock (written ${updated}, read ${read.readAt})${zoneHint ?? ': is `timezone` right for this server, and is its clock right?'}`,
      };
    }
    if (ageMs > opts.staleAfterMs) {
      const modified = modifiedMs !== null && !beingWritten ? `; the file was last modified ${read.fileModifiedAt}` : '';
      return {
        reason: 'stale',
        message: `${what} is stale: written ${updated}, ${Math.round(ageMs / 1000)} s before it was read (limit ${Math.round(opts.staleAfterMs / 1000)} s)${zoneHint ?? `${modified}; is OpenVPN running, and are the server's clock and timezone right?`}`,
      };
    }
  }
  return null;
}

export function diffSnapshots(prev: ServerBaseline, read: ServerRead, opts: DiffOptions): DiffResult {
  const at = read.readAt;
  const server = read.server;
  const updatedAt = read.ok ? read.snapshot.updatedAt : null;
  const rejected = rejection(read, opts);
  const verdict: SourceVerdict = { source: read.source, result: rejected?.reason ?? 'ok', message: rejected?.message ?? null };
  const unchanged = { baseline: prev, verdict, affectsServer: false, events: [], ended: [], started: [], endedBy: new Map(), silent: NONE, traffic: NO_TRAFFIC };
  const otherSourceFresh = prev.source !== null && prev.source !== read.source && prev.lastGoodAt !== null
    && Date.parse(at) - Date.parse(prev.lastGoodAt) <= opts.staleAfterMs;
  if (rejected && otherSourceFresh) {
    return { ...unchanged, rejected: { reason: 'covered', message: `${rejected.message} (the ${prev.source} keeps the server current)` } };
  }
  if (!rejected && updatedAt !== null && prev.statusUpdatedAt !== null && Date.parse(updatedAt) < Date.parse(prev.statusUpdatedAt)) {
    return { ...unchanged, rejected: { reason: 'superseded', message: `status written ${updatedAt} is older than the ${prev.statusUpdatedAt} already applied` } };
  }
  if (rejected) {
    const failures = prev.consecutiveFailures + 1;
    const goesDown = !prev.down && failures >= opts.downAfter;
    return {
      baseline: { ...prev, consecutiveFailures: failures, down: prev.down || goesDown },
      verdict,
      affectsServer: true,
      events: goesDown ? [{ type: 'server-down', server, at, error: rejected.message, since: prev.lastGoodAt }] : [],
      rejected,
      ended: [],
      started: [],
      endedBy: new Map(),
      // A failure is news whenever it happens (server-down), even right after a start.
      silent: NONE,
      traffic: NO_TRAFFIC,
    };
  }

  const online: Record<string, VpnSession> = {};
  for (const s of (read as Extract<ServerRead, { ok: true }>).snapshot.sessions) {
    if (isOnline(s) && !isLeaving(s, opts.leaving)) online[sessionKey(s)] = s;
  }
  const baseline: ServerBaseline = { sessions: online, consecutiveFailures: 0, down: false, lastGoodAt: at, statusUpdatedAt: updatedAt, source: read.source };
  const events: VpnEvent[] = [];
  if (prev.down) events.push({ type: 'server-up', server, at, since: prev.lastGoodAt });
  // First good read ever: everyone listed is recorded as online, but nobody is announced.
  if (prev.sessions === null) return { baseline, verdict, affectsServer: true, events, rejected: null, ended: [], started: Object.values(online), endedBy: new Map(), silent: NONE, traffic: NO_TRAFFIC };
  const traffic = trafficSince(prev.sessions, online, (read as Extract<ServerRead, { ok: true }>).snapshot.sessions, prev.lastGoodAt);

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
  if (!opts.firstSinceStart) return { baseline, verdict, affectsServer: true, events, rejected: null, ended, started, endedBy, silent: NONE, traffic };
  return { baseline, verdict, affectsServer: true, rejected: null, ended, started, endedBy, traffic, ...afterRestart(prev, events, at, opts.restartDetailMs ?? RESTART_DETAIL_MS) };
}

/**
 * The first read after a start: the changes happened while vpnwatch was stopped, some time between
 * the baseline's last good read and now. Recent enough to matter one by one: each is announced,
 * marked with that interval. Older: each is stored silently, and one summary is announced.
 */
function afterRestart(prev: ServerBaseline, events: VpnEvent[], at: string, detailMs: number): Pick<DiffResult, 'events' | 'silent'> {
  const from = prev.lastGoodAt;
  const sessionEvents = events.filter((e) => e.session);
  if (sessionEvents.length === 0) return { events, silent: NONE };
  if (from !== null && Date.parse(at) - Date.parse(from) <= detailMs) {
    return { events: events.map((e) => (e.session ? { ...e, gap: { from, to: at } } : e)), silent: NONE };
  }
  const count = (type: VpnEvent['type']) => sessionEvents.filter((e) => e.type === type).length;
  const summary: VpnEvent = {
    type: 'summary', server: sessionEvents[0]!.server, at, since: from,
    counts: { connected: count('connected'), disconnected: count('disconnected'), reconnected: count('reconnected') },
  };
  return { events: [...events, summary], silent: new Set(sessionEvents) };
}

/** A source's state after a read with this verdict: `since` moves only when the result changes. */
export function nextSourceState(prev: SourceState | undefined, verdict: SourceVerdict, readAt: string): SourceState {
  const at = new Date(readAt);
  const ok = verdict.result === 'ok';
  return {
    result: verdict.result,
    error: verdict.message,
    since: prev && prev.result === verdict.result && prev.since ? prev.since : at,
    lastReadAt: at,
    lastGoodAt: ok ? at : prev?.lastGoodAt ?? null,
  };
}

/** Slack for a busy server that writes late, and for clocks a little apart (NTP keeps them within ms). */
const STALE_SLACK_SECONDS = 10;

/** The staleness bound for a server: two missed rewrites of the file, one poll interval, and slack. */
export function staleAfterMs(statusRefreshSeconds: number, pollIntervalSeconds: number): number {
  return (2 * statusRefreshSeconds + pollIntervalSeconds + STALE_SLACK_SECONDS) * 1000;
}
