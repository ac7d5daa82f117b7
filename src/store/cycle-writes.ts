// The poller's side of the store: the diff baselines it loads, and one poll cycle's writes.
// Writes per cycle grow with the number of servers and changes, not with online users: the online
// sessions and their byte counters live in one document per server, and history documents are
// written only when a session starts or ends.
import mongoose from 'mongoose';
import { sessionKey, userName, type ServerRead } from '../domain.ts';
import type { DiffResult, ServerBaseline } from '../poll/diff.ts';
import type { Models } from './models.ts';
import { decodeOnline, plainSession, type OnlineEntry } from './records.ts';

/** One server's part of a poll cycle, as the poller hands it over. */
export interface ServerCycle {
  server: string;
  host?: string;
  read: ServerRead;
  diff: DiffResult;
  cycle: string;
  /** Where each event is to be delivered ('slack', 'discord' or 'log'). */
  targets: string[];
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

export class CycleWrites {
  constructor(private readonly models: Models) {}

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
    const serverOps: mongoose.mongo.AnyBulkWriteOperation[] = [];
    const sessionCloses: mongoose.mongo.AnyBulkWriteOperation[] = [];
    const sessionOpens: mongoose.mongo.AnyBulkWriteOperation[] = [];
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
        const endedBy = c.diff.endedBy.get(key) ?? 'disconnected';
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
          endedBy: e.type === 'disconnected' ? e.endedBy ?? null : null,
          error: e.error ?? null, cycle: c.cycle, pending: c.diff.announce && c.targets.length > 0,
          deliveries: c.targets.map((target) => ({ target, state: c.diff.announce ? 'pending' : 'skipped', attempts: 0, nextAttemptAt: null, lastError: null, sentAt: null })),
        });
      }
    }

    const userOps: mongoose.mongo.AnyBulkWriteOperation[] = [...userChanges].map(([name, change]) => ({ updateOne: {
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
    const run = async (model: { collection: mongoose.Collection }, ops: mongoose.mongo.AnyBulkWriteOperation[]) => {
      if (ops.length === 0) return;
      await model.collection.bulkWrite(ops, { ordered: true });
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
}
