// The readers' side of the store: what the commands, the page, the API and the CLI ask. Only
// operations that mongod and the offline mongo-java-server both support.
import { fleetStats, userName, type Stats } from '../domain.ts';
import type { Models } from './models.ts';
import {
  decodeOnline, plainSession, toServerRecord, toSessionRecord, toStoredEvent, toUserRecord,
  type OnlineSession, type ServerRecord, type SessionRecord, type StoredEvent, type UserRecord, type UserReport,
} from './records.ts';

export class Queries {
  constructor(private readonly models: Models) {}

  async servers(): Promise<ServerRecord[]> {
    const docs = await this.models.Server.find({}, { onlineJson: 0 }).sort({ name: 1 }).lean();
    return docs.map(toServerRecord);
  }

  /** Online sessions, from the servers' last good reads (of one server or some: all when omitted), oldest connection first. */
  async online(servers?: string | string[]): Promise<OnlineSession[]> {
    const filter = servers === undefined ? {} : { name: typeof servers === 'string' ? servers : { $in: servers } };
    const docs = await this.models.Server.find(filter, { name: 1, onlineJson: 1 }).sort({ name: 1 }).lean();
    const sessions = docs.flatMap((d) => decodeOnline(d.onlineJson).map((s) => ({ ...plainSession(s), server: d.name })));
    // ISO strings of one format sort as their times; plain comparison is far cheaper than localeCompare.
    return sessions.sort((a, b) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  }

  async userReport(name: string, recentLimit = 10): Promise<UserReport | null> {
    const history = await this.userHistory(name, recentLimit);
    return history && userReportOf(history.user, (await this.online()).filter((s) => userName(s) === name), history.recent);
  }

  /** User records by name, for several names at once. */
  async usersByName(names: string[]): Promise<Map<string, UserRecord>> {
    const docs = await this.models.User.find({ name: { $in: names } }).lean();
    return new Map(docs.map((d) => [d.name, toUserRecord(d)]));
  }

  /**
   * A user's record and latest sessions, without their online sessions: the page has those in
   * memory already (decoding every server's list per request cost tens of milliseconds).
   */
  async userHistory(name: string, recentLimit = 10): Promise<{ user: UserRecord; recent: SessionRecord[] } | null> {
    const [user, recent] = await Promise.all([
      this.models.User.findOne({ name }).lean(),
      this.models.Session.find({ user: name }).sort({ connectedAt: -1, _id: -1 }).limit(recentLimit).lean(),
    ]);
    return user ? { user: toUserRecord(user), recent: recent.map(toSessionRecord) } : null;
  }

  /** Users whose name starts like `prefix` (case-insensitive), for suggestions. */
  async userNames(prefix: string, limit = 10): Promise<string[]> {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const docs = await this.models.User.find({ name: { $regex: `^${escaped}`, $options: 'i' } }, { name: 1 }).sort({ name: 1 }).limit(limit).lean();
    return docs.map((d) => d.name);
  }

  /** Recently ended sessions, newest first. */
  async recent(limit = 10, server?: string): Promise<SessionRecord[]> {
    const docs = await this.models.Session.find({ disconnectedAt: { $ne: null }, ...(server ? { server } : {}) }).sort({ disconnectedAt: -1, _id: -1 }).limit(limit).lean();
    return docs.map(toSessionRecord);
  }

  /** Users not online now, most recently seen first. */
  async offlineUsers(limit = 50): Promise<UserRecord[]> {
    const docs = await this.models.User.find({ online: false }).sort({ lastSeen: -1, _id: -1 }).limit(limit).lean();
    return docs.map(toUserRecord);
  }

  async stats(now = new Date()): Promise<Stats> {
    return fleetStats(await this.servers(), await this.online(), now);
  }

  async eventsSince(since: Date, limit = 500): Promise<StoredEvent[]> {
    const docs = await this.models.Event.find({ at: { $gt: since } }).sort({ at: 1, seq: 1 }).limit(limit).lean();
    return docs.map(toStoredEvent);
  }

  /**
   * Events in write order (their monotonic seq), after `after` and newer than `since` where given:
   * the cursor of /api/events. The events of one read share one `at`, so paging by time would
   * skip the rest of a read cut at a page's end; seq tells each event from every other.
   */
  async eventsAfter(opts: { after?: number; since?: Date }, limit = 500): Promise<StoredEvent[]> {
    const filter = { ...(opts.after !== undefined ? { seq: { $gt: opts.after } } : {}), ...(opts.since ? { at: { $gt: opts.since } } : {}) };
    const docs = await this.models.Event.find(filter).sort({ seq: 1 }).limit(limit).lean();
    return docs.map(toStoredEvent);
  }

  /** Sessions that overlap [from, to), for the connection report. */
  async sessionsBetween(from: Date, to: Date, limit = 100_000): Promise<SessionRecord[]> {
    const docs = await this.models.Session.find({ connectedAt: { $lt: to }, $or: [{ disconnectedAt: null }, { disconnectedAt: { $gte: from } }] })
      .sort({ connectedAt: 1, _id: 1 }).limit(limit).lean();
    return docs.map(toSessionRecord);
  }
}

/** A user's report: the stored totals of ended sessions plus the online sessions' counters so far. */
export function userReportOf(user: UserRecord, online: OnlineSession[], recent: SessionRecord[]): UserReport {
  return {
    user, online, recent,
    totalBytesReceived: user.totalBytesReceived + online.reduce((n, s) => n + s.bytesReceived, 0),
    totalBytesSent: user.totalBytesSent + online.reduce((n, s) => n + s.bytesSent, 0),
  };
}
