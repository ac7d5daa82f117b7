// What the page, the API and /metrics read from the store, and its version: a hash of what they
// show, which changes when someone comes or goes, when a server's health or mode changes, or at
// the periodic counter refresh, and not with every read (a management stream reads every 2 s). The
// version is the ETag of every data response and what the live stream announces.
//
// Reading every online session costs tens of milliseconds of decoding at 5,000 sessions, so each
// server's list is kept and read again only when the store says it changed: at once when someone
// came or went (sessionsChangedAt), and for byte counters alone (onlineWrittenAt) at most every
// COUNTER_REFRESH_MS. Written by another process or this one, the store says so the same way.
import { createHash } from 'node:crypto';
import { fleetStats, type ChatStatus, type LiveModeInfo, type Stats } from '../domain.ts';
import type { OnlineSession, ServerRecord, SessionRecord, UserRecord } from '../store/records.ts';
import type { Queries } from '../store/queries.ts';
import type { TargetHealth } from '../store/outbox.ts';

/**
 * How often byte counters alone move the page. The poller writes a server's counters every 30 s
 * (and streams read them every 2 s): at 50 servers that was a new page every 0.6 s.
 */
export const COUNTER_REFRESH_MS = 15_000;
const RECENT_ROWS = 20;
const OFFLINE_ROWS = 50;

/** Everything the page needs from the store, read at one moment. */
export interface StoreSnapshot {
  /** When this version was first read. */
  at: Date;
  version: string;
  stats: Stats;
  servers: ServerRecord[];
  /** How each server is followed now, by name (missing: status file only). */
  modes: Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands (empty: no chat). */
  chat: ChatStatus[];
  /** Every online session, oldest connection first. */
  online: OnlineSession[];
  recent: SessionRecord[];
  offline: UserRecord[];
  /** Each notice target (a channel) and how its deliveries go (empty: not read). */
  notices?: TargetHealth[];
  /** Set while the database does not answer: this is the last snapshot vpnwatch holds. */
  databaseDown?: { since: Date };
}

interface ServerList {
  sessionsChangedAt: number | null;
  onlineWrittenAt: number | null;
  onlineCount: number;
  sessions: OnlineSession[];
}

const ms = (d: Date | null) => d?.getTime() ?? null;

/** The fields of a server the page and the API show, except its read times (which move with every read). */
const shownServer = (s: ServerRecord) => [
  s.name, s.host, s.lastResult, s.lastError, s.consecutiveFailures, s.down, s.source, s.onlineCount,
  ...(['status-file', 'management'] as const).map((source) => [s.sources[source]?.result ?? null, s.sources[source]?.error ?? null]),
];
/** A mode as the page shows it: lastReadAt moves with every read. */
const shownMode = (m: LiveModeInfo | undefined) => (m ? [m.mode, m.since, m.lastError ?? null] : null);

/**
 * What the page shows of the state kept in memory, not in the store (management modes, chat
 * connections), as one string: the live stream watches it to tell pages when it changes.
 */
export function memorySignature(modes: Record<string, LiveModeInfo>, chat: ChatStatus[]): string {
  return JSON.stringify([Object.entries(modes).map(([name, m]) => [name, shownMode(m)]).sort(), chat.map((c) => [c.platform, c.state, c.since, c.error])]);
}

/** Reads snapshots, keeping each server's online list between reads. One per web app. */
export class SnapshotReader {
  private readonly lists = new Map<string, ServerList>();
  private history: { key: string; recent: SessionRecord[]; offline: UserRecord[] } | undefined;
  /** Every server's sessions in one list, kept until a list is read again (a health change needs no new one). */
  private merged: { lists: OnlineSession[][]; online: OnlineSession[] } | undefined;
  private countersReadAt = -Infinity;

  constructor(
    private readonly queries: Pick<Queries, 'servers' | 'online' | 'recent' | 'offlineUsers'>,
    /** What is in memory, not in the store: management modes and chat connections; and each notice channel's state. */
    private readonly live: { modes: () => Record<string, LiveModeInfo>; chat: () => ChatStatus[]; notices?: () => Promise<TargetHealth[]> },
    private readonly clock: { now: () => Date; monotonic: () => number } = { now: () => new Date(), monotonic: () => performance.now() },
  ) {}

  async read(): Promise<Omit<StoreSnapshot, 'at'>> {
    const servers = await this.queries.servers();
    const counterRefresh = this.clock.monotonic() - this.countersReadAt >= COUNTER_REFRESH_MS;
    const stale = servers.filter((s) => {
      const list = this.lists.get(s.name);
      return !list || list.sessionsChangedAt !== ms(s.sessionsChangedAt) || list.onlineCount !== s.onlineCount
        || (counterRefresh && list.onlineWrittenAt !== ms(s.onlineWrittenAt));
    });
    if (counterRefresh) this.countersReadAt = this.clock.monotonic();
    if (stale.length) {
      const sessions = await this.queries.online(stale.map((s) => s.name));
      for (const s of stale) {
        this.lists.set(s.name, { sessionsChangedAt: ms(s.sessionsChangedAt), onlineWrittenAt: ms(s.onlineWrittenAt), onlineCount: s.onlineCount, sessions: [] });
      }
      for (const o of sessions) this.lists.get(o.server)!.sessions.push(o);
    }
    const names = new Set(servers.map((s) => s.name));
    for (const name of this.lists.keys()) if (!names.has(name)) this.lists.delete(name);

    // Recently disconnected and users not online change only when someone came or went.
    const historyKey = servers.map((s) => `${s.name}@${ms(s.sessionsChangedAt)}`).join('|');
    if (this.history?.key !== historyKey) {
      const [recent, offline] = await Promise.all([this.queries.recent(RECENT_ROWS), this.queries.offlineUsers(OFFLINE_ROWS)]);
      this.history = { key: historyKey, recent, offline };
    }
    const modes = this.live.modes();
    const chat = this.live.chat();
    const notices = (await this.live.notices?.()) ?? [];
    const lists = servers.map((s) => this.lists.get(s.name)!.sessions);
    if (!this.merged || lists.length !== this.merged.lists.length || lists.some((l, i) => l !== this.merged!.lists[i])) {
      this.merged = { lists, online: mergeByConnectedAt(lists) };
    }
    const { online } = this.merged;
    const version = createHash('sha256').update(JSON.stringify([
      servers.map((s) => [...shownServer(s), this.lists.get(s.name)!.onlineWrittenAt]),
      historyKey,
      memorySignature(modes, chat),
      // A channel's state as the page shows it (not its waiting count, which moves with every post).
      notices.map((t) => [t.id, t.state, t.error, ms(t.since), ms(t.nextAttemptAt)]),
    ])).digest('base64url').slice(0, 16);
    return { version, stats: fleetStats(servers, online, this.clock.now()), servers, modes, chat, notices, online, recent: this.history.recent, offline: this.history.offline };
  }
}

/** One list of every server's sessions, oldest connection first (ties by server), as Queries.online orders them. */
function mergeByConnectedAt(lists: OnlineSession[][]): OnlineSession[] {
  const all = lists.flat();
  // ISO strings of one format sort as their times; plain comparison is far cheaper than localeCompare.
  return all.sort((a, b) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
}
