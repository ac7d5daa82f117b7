// Every read and write vpnwatch makes to MongoDB. Writes per poll cycle grow with the number of
// servers and changes, not with the number of online users: the online sessions and their byte
// counters live in one document per server, and history documents are written only when a session
// starts or ends. Only operations that mongod and the offline mongo-java-server both support.
// Every sort on a time ends with _id: documents with the same time would otherwise come back in
// each engine's own order (mongo-java-server's memory backend: insertion; its H2 backend: _id;
// mongod: unspecified), and a limit would cut through them differently.
import mongoose from 'mongoose';
import { fleetStats, sessionKey, userName, type ReadResult, type ServerRead, type SessionEnd, type Stats, type VpnEvent, type VpnSession } from '../domain.ts';
import { type DiffResult, type ServerBaseline } from '../poll/diff.ts';
import { createModels, type Models } from './models.ts';

export interface OnlineSession extends VpnSession {
  server: string;
}

export interface ServerState {
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
  result: 'kicked' | 'partial' | 'not-found' | 'failed' | 'refused' | 'choose';
  verified: boolean;
  message: string | null;
}

/** One server's part of a poll cycle, as the poller hands it over. */
export interface ServerCycle {
  server: string;
  host?: string;
  read: ServerRead;
  diff: DiffResult;
  cycle: string;
  /** false for reads whose changes are recorded but not announced (the first read after a start). */
  announce: boolean;
  /** Where each event is to be delivered ('slack', 'discord' or 'log'). */
  targets: string[];
  /** How ended sessions ended, where known better than 'disconnected' (a kick), by session key. */
  endedBy?: Map<string, SessionEnd>;
  /**
   * Session document ids by session key: of the sessions that ended, and of every session online
   * after this cycle (started ones included). Ending a session is then an update by _id, which
   * every engine answers from its primary index (mongo-java-server ignores secondary indexes).
   */
  sessionIds: { ended: Map<string, string>; current: Map<string, string> };
  /**
   * false: nobody came or went and the online list was written recently, so only the server's
   * state is written and the byte counters wait for the next write (the list, rewritten with every
   * read, made writes grow with online users × reads). Default true.
   */
  writeOnline?: boolean;
}

export interface StoredBaseline extends ServerBaseline {
  revision: number;
  /** Session document id of each online session, by session key. */
  ids: Map<string, string>;
}

export interface CycleWriteStats {
  /** MongoDB write operations sent for this cycle (inside its bulk writes). */
  operations: number;
  bulkWrites: number;
}

interface OnlineEntry extends VpnSession {
  sessionId: string | null;
}

function decodeOnline(json: string | null | undefined): OnlineEntry[] {
  return json ? (JSON.parse(json) as OnlineEntry[]) : [];
}

/** A VpnSession with exactly the contract's fields (no mongoose extras; missing values as null). */
const plainSession = (s: VpnSession): VpnSession => ({
  commonName: s.commonName, username: s.username ?? null, realAddress: s.realAddress, realPort: s.realPort ?? null, protocol: s.protocol ?? null,
  virtualAddress: s.virtualAddress ?? null, virtualIpv6: s.virtualIpv6 ?? null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent,
  connectedAt: s.connectedAt, clientId: s.clientId ?? null, peerId: s.peerId ?? null, cipher: s.cipher ?? null,
});

export class Store {
  readonly models: Models;

  private constructor(readonly connection: mongoose.Connection) {
    this.models = createModels(connection);
  }

  /** Connects and makes sure every collection and index exists. */
  static async open(uri: string, dbName?: string): Promise<Store> {
    const connection = mongoose.createConnection(uri, { ...(dbName ? { dbName } : {}), serverSelectionTimeoutMS: 10_000 });
    await connection.asPromise();
    const store = new Store(connection);
    await Promise.all(Object.values(store.models).map((m) => m.init()));
    return store;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  async ping(): Promise<boolean> {
    try {
      await this.connection.db!.admin().command({ ping: 1 });
      return true;
    } catch {
      return false;
    }
  }

  // ---- the poller's side ----------------------------------------------------------------------

  /**
   * The diff baselines of the given servers (all when omitted), with the revision each was read
   * at, so a restart compares against the last good read and not against nothing.
   */
  async loadBaselines(names?: string[]): Promise<Map<string, StoredBaseline>> {
    const docs = await this.models.Server.find(names ? { name: { $in: names } } : {}, { name: 1, onlineJson: 1, baselineSet: 1, consecutiveFailures: 1, down: 1, lastGoodAt: 1, statusUpdatedAt: 1, revision: 1 }).lean();
    return new Map(docs.map((d) => {
      const online = decodeOnline(d.onlineJson);
      return [d.name, {
      revision: d.revision,
      ids: new Map(online.flatMap((s) => (s.sessionId ? [[sessionKey(s), s.sessionId] as const] : []))),
      sessions: d.baselineSet ? Object.fromEntries(online.map((s) => {
        const session = plainSession(s);
        return [sessionKey(session), session];
      })) : null,
      consecutiveFailures: d.consecutiveFailures,
      down: d.down,
      lastGoodAt: d.lastGoodAt ? d.lastGoodAt.toISOString() : null,
      statusUpdatedAt: d.statusUpdatedAt ? d.statusUpdatedAt.toISOString() : null,
    }];
    }));
  }

  /** Each server's write counter: another process (`vpnwatch poll` beside `start`) may have moved it. */
  async revisions(names: string[]): Promise<Map<string, number>> {
    const docs = await this.models.Server.find({ name: { $in: names } }, { name: 1, revision: 1 }).lean();
    return new Map(docs.map((d) => [d.name, d.revision]));
  }

  /**
   * Stores one poll cycle: server states, sessions started and ended, users touched, events.
   * `usersOnline` says, for each user touched, whether any server still lists them.
   */
  async applyCycle(cycles: ServerCycle[], usersOnline: Map<string, boolean>): Promise<CycleWriteStats> {
    const serverOps: mongoose.AnyBulkWriteOperation[] = [];
    const sessionCloses: mongoose.AnyBulkWriteOperation[] = [];
    const sessionOpens: mongoose.AnyBulkWriteOperation[] = [];
    const userChanges = new Map<string, { set: Record<string, unknown>; inc: Record<string, number>; firstSeen?: Date }>();
    const events: Record<string, unknown>[] = [];

    const touchUser = (name: string) => {
      let change = userChanges.get(name);
      if (!change) userChanges.set(name, (change = { set: {}, inc: {} }));
      return change;
    };

    for (const c of cycles) {
      const at = new Date(c.read.readAt);
      const common = { lastPollAt: at, pollDurationMs: c.read.durationMs, consecutiveFailures: c.diff.baseline.consecutiveFailures, down: c.diff.baseline.down, ...(c.host ? { host: c.host } : {}) };
      if (c.diff.rejected) {
        serverOps.push({ updateOne: { filter: { name: c.server }, upsert: true, update: {
          $set: { ...common, lastResult: c.diff.rejected.reason, lastError: c.diff.rejected.message },
          $inc: { revision: 1 },
          // A server whose first read ever fails: the driver applies no schema defaults.
          $setOnInsert: { baselineSet: false, onlineJson: '[]', onlineCount: 0, lastGoodAt: null, statusUpdatedAt: null, source: null },
        } } });
      } else {
        const updatedAt = c.read.ok ? c.read.snapshot.updatedAt : null;
        const state = {
          ...common, lastResult: 'ok', lastError: null, lastGoodAt: at, statusUpdatedAt: updatedAt ? new Date(updatedAt) : null,
          source: c.read.source, baselineSet: true,
        };
        if (c.writeOnline === false) {
          serverOps.push({ updateOne: { filter: { name: c.server }, update: { $set: state, $inc: { revision: 1 } } } });
        } else {
          const online: OnlineEntry[] = Object.entries(c.diff.baseline.sessions ?? {}).map(([key, session]) => ({ ...plainSession(session), sessionId: c.sessionIds.current.get(key) ?? null }));
          serverOps.push({ updateOne: { filter: { name: c.server }, upsert: true, update: {
            $set: { ...state, onlineJson: JSON.stringify(online), onlineCount: online.length }, $inc: { revision: 1 },
          } } });
        }
      }
      for (const s of c.diff.ended) {
        const key = sessionKey(s);
        const endedBy = c.endedBy?.get(key) ?? 'disconnected';
        const id = c.sessionIds.ended.get(key);
        sessionCloses.push({ updateOne: {
          filter: id ? { _id: new mongoose.Types.ObjectId(id) } : { server: c.server, key, disconnectedAt: null },
          update: { $set: { disconnectedAt: at, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, endedBy } },
        } });
        const u = touchUser(userName(s));
        u.set.lastSeen = at;
        u.inc.totalBytesReceived = (u.inc.totalBytesReceived ?? 0) + s.bytesReceived;
        u.inc.totalBytesSent = (u.inc.totalBytesSent ?? 0) + s.bytesSent;
      }
      for (const s of c.diff.started) {
        const connectedAt = new Date(s.connectedAt);
        const id = c.sessionIds.current.get(sessionKey(s));
        sessionOpens.push({ insertOne: { document: {
          ...(id ? { _id: new mongoose.Types.ObjectId(id) } : {}),
          server: c.server, key: sessionKey(s), user: userName(s), commonName: s.commonName, username: s.username,
          realAddress: s.realAddress, realPort: s.realPort, protocol: s.protocol, virtualAddress: s.virtualAddress, virtualIpv6: s.virtualIpv6,
          clientId: s.clientId, cipher: s.cipher, connectedAt, disconnectedAt: null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, endedBy: null,
        } } });
        const u = touchUser(userName(s));
        u.set.lastSeen = at;
        u.set.lastIp = s.realAddress;
        u.set.lastServer = c.server;
        u.inc.sessionCount = (u.inc.sessionCount ?? 0) + 1;
        if (!u.firstSeen || connectedAt < u.firstSeen) u.firstSeen = connectedAt;
      }
      for (const e of c.diff.events) {
        events.push({
          type: e.type, server: e.server, at: new Date(e.at), user: e.session ? userName(e.session) : null,
          session: e.session ? plainSession(e.session) : null, previous: e.previous ? plainSession(e.previous) : null,
          endedBy: e.type === 'disconnected' && e.session ? c.endedBy?.get(sessionKey(e.session)) ?? e.endedBy ?? null : null,
          error: e.error ?? null, cycle: c.cycle, pending: c.announce && c.targets.length > 0,
          deliveries: c.targets.map((target) => ({ target, state: c.announce ? 'pending' : 'skipped', attempts: 0, nextAttemptAt: null, lastError: null, sentAt: null })),
        });
      }
    }

    const userOps: mongoose.AnyBulkWriteOperation[] = [...userChanges].map(([name, change]) => ({ updateOne: {
      filter: { name },
      upsert: true,
      update: {
        $set: { ...change.set, online: usersOnline.get(name) ?? false },
        ...(Object.keys(change.inc).length ? { $inc: change.inc } : {}),
        // Defaults for a new user (the driver's bulkWrite applies no schema defaults), except
        // what $inc sets: one field may not be in both.
        $setOnInsert: Object.fromEntries(Object.entries({ firstSeen: change.firstSeen ?? change.set.lastSeen, totalBytesReceived: 0, totalBytesSent: 0, sessionCount: 0 })
          .filter(([field]) => !(field in change.inc))),
      },
    } }));

    const stats: CycleWriteStats = { operations: 0, bulkWrites: 0 };
    // The driver's collection, not the model: these documents are built field by field above,
    // and mongoose's casting of every online session (100,000 at 200 servers) cost seconds a cycle.
    const run = async (model: mongoose.Model<any>, ops: mongoose.AnyBulkWriteOperation[]) => {
      if (ops.length === 0) return;
      await model.collection.bulkWrite(ops as never[], { ordered: true });
      stats.operations += ops.length;
      stats.bulkWrites += 1;
    };
    // Events first: they are the record of what happened, and the notifier's outbox.
    await run(this.models.Event, events.map((document) => ({ insertOne: { document } })));
    // Closing before opening: an address can end one instance and start the next in one cycle.
    await run(this.models.Session, [...sessionCloses, ...sessionOpens]);
    await run(this.models.User, userOps);
    await run(this.models.Server, serverOps);
    return stats;
  }

  /** A fresh id for a session document (the poller assigns it before the insert; see ServerCycle). */
  static newSessionId(): string {
    return new mongoose.Types.ObjectId().toHexString();
  }

  // ---- queries --------------------------------------------------------------------------------

  async servers(): Promise<ServerState[]> {
    const docs = await this.models.Server.find({}, { onlineJson: 0 }).sort({ name: 1 }).lean();
    return docs.map((d) => ({
      name: d.name, host: d.host ?? null, lastPollAt: d.lastPollAt ?? null, lastGoodAt: d.lastGoodAt ?? null,
      lastResult: d.lastResult as ServerState['lastResult'], lastError: d.lastError ?? null, statusUpdatedAt: d.statusUpdatedAt ?? null,
      pollDurationMs: d.pollDurationMs ?? null, consecutiveFailures: d.consecutiveFailures, down: d.down, source: d.source ?? null,
      onlineCount: d.onlineCount ?? 0,
    }));
  }

  /** Online sessions, from the servers' last good reads, oldest connection first. */
  async online(server?: string): Promise<OnlineSession[]> {
    const docs = await this.models.Server.find(server ? { name: server } : {}, { name: 1, onlineJson: 1 }).sort({ name: 1 }).lean();
    const sessions = docs.flatMap((d) => decodeOnline(d.onlineJson).map((s) => ({ ...plainSession(s), server: d.name })));
    // ISO strings of one format sort as their times; plain comparison is far cheaper than localeCompare.
    return sessions.sort((a, b) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  }

  async userReport(name: string, recentLimit = 10): Promise<UserReport | null> {
    const user = await this.models.User.findOne({ name }).lean();
    if (!user) return null;
    const online = (await this.online()).filter((s) => userName(s) === name);
    const recent = await this.models.Session.find({ user: name }).sort({ connectedAt: -1, _id: -1 }).limit(recentLimit).lean();
    return {
      user: toUserRecord(user),
      online,
      recent: recent.map(toSessionRecord),
      totalBytesReceived: (user.totalBytesReceived ?? 0) + online.reduce((n, s) => n + s.bytesReceived, 0),
      totalBytesSent: (user.totalBytesSent ?? 0) + online.reduce((n, s) => n + s.bytesSent, 0),
    };
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
    const docs = await this.models.Event.find({ at: { $gt: since } }).sort({ at: 1, _id: 1 }).limit(limit).lean();
    return docs.map(toStoredEvent);
  }

  /** Sessions that overlap [from, to), for the connection report. */
  async sessionsBetween(from: Date, to: Date, limit = 100_000): Promise<SessionRecord[]> {
    const docs = await this.models.Session.find({ connectedAt: { $lt: to }, $or: [{ disconnectedAt: null }, { disconnectedAt: { $gte: from } }] })
      .sort({ connectedAt: 1, _id: 1 }).limit(limit).lean();
    return docs.map(toSessionRecord);
  }

  // ---- the notifier's outbox ------------------------------------------------------------------

  /** Events with a delivery still pending, oldest first. */
  async pendingEvents(limit = 200): Promise<StoredEvent[]> {
    const docs = await this.models.Event.find({ pending: true }).sort({ at: 1, _id: 1 }).limit(limit).lean();
    return docs.map(toStoredEvent);
  }

  /** The events delivered to `target` in the message `messageRef` (what the notifier re-renders to edit it), oldest first. */
  async eventsOfMessage(target: string, messageRef: string): Promise<StoredEvent[]> {
    const docs = await this.models.Event.find({ deliveries: { $elemMatch: { target, messageRef } } }).sort({ at: 1, _id: 1 }).lean();
    return docs.map(toStoredEvent);
  }

  /** Replaces an event's delivery list (the notifier owns it) and recomputes its pending flag. */
  async saveDeliveries(eventId: string, deliveries: Delivery[]): Promise<void> {
    await this.models.Event.updateOne({ _id: eventId }, { $set: { deliveries, pending: deliveries.some((d) => d.state === 'pending') } });
  }

  /** The latest delivery failure per target that did not recover: shown by /vpn servers and /healthz. */
  async deliveryProblems(): Promise<{ target: string; error: string; at: Date }[]> {
    const failed = await this.models.Event.find({ 'deliveries.state': 'failed' }).sort({ at: -1, _id: -1 }).limit(50).lean();
    const latestSent = await this.models.Event.find({ 'deliveries.state': 'sent' }).sort({ at: -1, _id: -1 }).limit(50).lean();
    const problems = new Map<string, { target: string; error: string; at: Date }>();
    for (const e of failed) {
      for (const d of e.deliveries) {
        if (d.state !== 'failed' || problems.has(d.target)) continue;
        const recovered = latestSent.some((s) => s.at > e.at && s.deliveries.some((x) => x.target === d.target && x.state === 'sent'));
        if (!recovered) problems.set(d.target, { target: d.target, error: d.lastError ?? 'failed', at: e.at });
      }
    }
    return [...problems.values()];
  }

  // ---- kicks ----------------------------------------------------------------------------------

  async recordKick(kick: KickRecord): Promise<void> {
    await this.models.Kick.create(kick);
  }

  async kicks(target?: string, limit = 20): Promise<KickRecord[]> {
    const docs = await this.models.Kick.find(target ? { target } : {}).sort({ at: -1, _id: -1 }).limit(limit).lean();
    return docs.map((d) => ({
      at: d.at, by: { platform: d.by?.platform ?? '', userId: d.by?.userId ?? '', userName: d.by?.userName ?? '' }, where: d.where ?? null,
      target: d.target, server: d.server ?? null, clientIds: d.clientIds, result: d.result, verified: d.verified, message: d.message ?? null,
    }));
  }
}

function toSessionRecord(d: any): SessionRecord {
  return {
    id: String(d._id), server: d.server, user: d.user, commonName: d.commonName, username: d.username ?? null,
    realAddress: d.realAddress, realPort: d.realPort ?? null, virtualAddress: d.virtualAddress ?? null, virtualIpv6: d.virtualIpv6 ?? null,
    connectedAt: d.connectedAt, disconnectedAt: d.disconnectedAt ?? null, bytesReceived: d.bytesReceived, bytesSent: d.bytesSent, endedBy: d.endedBy ?? null,
  };
}

function toUserRecord(d: any): UserRecord {
  return {
    name: d.name, online: d.online, firstSeen: d.firstSeen, lastSeen: d.lastSeen, lastIp: d.lastIp ?? null, lastServer: d.lastServer ?? null,
    totalBytesReceived: d.totalBytesReceived ?? 0, totalBytesSent: d.totalBytesSent ?? 0, sessionCount: d.sessionCount ?? 0,
  };
}

function toStoredEvent(d: any): StoredEvent {
  const e: StoredEvent = {
    id: String(d._id), type: d.type, server: d.server, at: d.at.toISOString(), user: d.user ?? null, cycle: d.cycle,
    deliveries: (d.deliveries ?? []).map((x: any) => ({ target: x.target, state: x.state, attempts: x.attempts, nextAttemptAt: x.nextAttemptAt ?? null, lastError: x.lastError ?? null, sentAt: x.sentAt ?? null, messageRef: x.messageRef ?? null })),
  };
  if (d.session) e.session = plainSession(d.session);
  if (d.previous) e.previous = plainSession(d.previous);
  if (d.endedBy) e.endedBy = d.endedBy;
  if (d.error) e.error = d.error;
  return e;
}
