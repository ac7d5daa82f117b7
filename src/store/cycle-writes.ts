// The poller's side of the store: the diff baselines it loads, and one poll cycle's writes.
// Writes per cycle grow with the number of servers and changes, not with online users: the online
// sessions and their byte counters live in one document per server, and history documents are
// written only when a session starts or ends.
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import { sessionKey, userName, type ServerRead, type SourceName, type SourceState, type VpnEvent, type VpnSession } from '../domain.ts';
import { nextSourceState, type DiffResult, type ServerBaseline } from '../poll/diff.ts';
import type { EventDoc, Models, OutboxItemDoc, ServerDoc, SessionDoc, UserDoc } from './models.ts';
import { outboxItemsOf } from './outbox.ts';
import { decodeOnline, encodeOnline, plainSession, toSourceStates } from './records.ts';

/** One server's part of a poll cycle, as the poller hands it over. */
export interface ServerCycle {
  server: string;
  host?: string;
  read: ServerRead;
  diff: DiffResult;
  cycle: string;
  /** Where each event is to be delivered: target ids (`slack:C123`, `discord:456`, `log`; notify/targets.ts). */
  targets: string[];
  /**
   * Session document ids by session key: of the sessions that ended, and of every session online
   * after this cycle (started ones included). Ending a session is then an update by _id, which
   * every engine answers from its primary index (mongo-java-server ignores secondary indexes).
   */
  sessionIds: { ended: Map<string, string>; current: Map<string, string> };
  /** The state of the read's source after it (default: from the diff's verdict, as of this read). */
  sourceState?: SourceState;
  /**
   * false: nobody came or went and the online list was written recently, so only the server's
   * state is written and the byte counters wait for the next write (the list, rewritten with every
   * read, made writes grow with online users × reads). Default true.
   */
  writeOnline?: boolean;
}

export interface StoredBaseline extends ServerBaseline {
  revision: number;
  /** The state of each source, as last recorded. */
  sources: Partial<Record<SourceName, SourceState>>;
  /** Session document id of each online session, by session key. */
  ids: Map<string, string>;
}

export interface CycleWriteStats {
  /** MongoDB write operations sent for this cycle (inside its bulk writes). */
  operations: number;
  bulkWrites: number;
}

/** The writes of a cycle, in order: a test can fail any of them (beforeWrite). */
export type CycleStage = 'events' | 'outbox' | 'sessions' | 'users' | 'servers';

export class CycleWrites {
  /** Called before each write of a cycle; a test injects failures here. */
  beforeWrite: ((stage: CycleStage) => void | Promise<void>) | undefined;

  constructor(private readonly models: Models) {}

  /**
   * The diff baselines of the given servers (all when omitted), with the revision each was read
   * at, so a restart compares against the last good read and not against nothing.
   */
  async loadBaselines(names?: string[]): Promise<Map<string, StoredBaseline>> {
    const docs = await this.models.Server.find(names ? { name: { $in: names } } : {}, { name: 1, onlineJson: 1, baselineSet: 1, consecutiveFailures: 1, down: 1, lastGoodAt: 1, statusUpdatedAt: 1, source: 1, sources: 1, revision: 1 }).lean();
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
      source: (d.source ?? null) as SourceName | null,
      sources: toSourceStates(d.sources),
    }];
    }));
  }

  /** Each server's write counter: another process (`vpnwatch poll` beside `start`) may have moved it. */
  async revisions(names: string[]): Promise<Map<string, number>> {
    const docs = await this.models.Server.find({ name: { $in: names } }, { name: 1, revision: 1 }).lean();
    return new Map(docs.map((d) => [d.name, d.revision]));
  }

  /**
   * Stores one poll cycle: events, sessions started and ended, users touched, server states (the
   * commit point: the baseline and its revision). `usersOnline` says, for each user touched,
   * whether any server still lists them.
   *
   * Idempotent: applying the same changes again (a write failed half-way, so the baseline did not
   * advance and the next read repeats the diff) stores them once. Event and session documents have
   * ids derived from what they record (eventId, sessionDocId) and are upserted; user totals are
   * incremented once per transition, guarded by the transition's id in the user's `counted` list:
   * the lists of the users a cycle counts for are read first, and only transitions not in them are
   * incremented (with the id pushed in the same update). Not a `counted: { $ne }` filter on each
   * update: the offline engine (mongo-java-server) serves only single-field equality filters from
   * an index, so each such update scanned the users collection (160 s a cycle at 100,000 users).
   */
  async applyCycle(cycles: ServerCycle[], usersOnline: Map<string, boolean>): Promise<CycleWriteStats> {
    const plan = planCycle(cycles, usersOnline);
    const stats: CycleWriteStats = { operations: 0, bulkWrites: 0 };
    // The driver's collection, not the model: these documents are built field by field (typed by
    // the schemas' inferred types), and mongoose's casting of every online session (100,000 at
    // 200 servers) cost seconds a cycle.
    const run = async <T extends mongoose.mongo.Document>(stage: CycleStage, model: { collection: mongoose.Collection }, ops: Op<T>[]) => {
      if (ops.length === 0) return;
      await this.beforeWrite?.(stage);
      // mongoose types its collection for any document; the ops are typed by this collection's.
      await (model.collection as unknown as mongoose.mongo.Collection<T>).bulkWrite(ops, { ordered: true });
      stats.operations += ops.length;
      stats.bulkWrites += 1;
    };
    // Events first: they are the record of what happened, and the notifier's outbox. Their
    // sequence numbers are taken just before they are written, so seq order is write order.
    if (plan.events.length) {
      const last = await this.takeSequence('events', plan.events.length);
      plan.events.forEach((e, n) => { e.seq = last - plan.events.length + 1 + n; });
    }
    await run<EventDocument>('events', this.models.Event, plan.events.map(({ _id, ...doc }) => ({ updateOne: { filter: { _id }, update: { $setOnInsert: doc }, upsert: true } })));
    // Each pending delivery's outbox item, after its event (the notifier reads the event by id).
    await run<OutboxItemDoc>('outbox', this.models.Outbox, outboxItemsOf(plan.events));
    // Closing before opening: an address can end one instance and start the next in one cycle.
    await run<SessionDoc>('sessions', this.models.Session, plan.sessions);
    await run<UserDoc>('users', this.models.User, [...plan.users, ...await this.uncountedIncrements(plan.counts)]);
    await run<ServerDoc>('servers', this.models.Server, plan.servers);
    return stats;
  }

  /**
   * Writes a server's online list as the poller holds it (its byte counters are batched, so the
   * stored list can be up to COUNTER_FLUSH_MS behind), when its lease goes to another replica, so
   * the next holder's first read does not count those bytes again. Only while the stored revision
   * is still the one this list belongs to: a newer baseline is never overwritten.
   */
  async writeOnlineList(server: string, sessions: Record<string, VpnSession>, ids: Map<string, string>, revision: number): Promise<boolean> {
    const online = encodeOnline(sessions, ids);
    const result = await this.models.Server.collection.updateOne({ name: server, revision }, { $set: { onlineJson: online.json, onlineCount: online.count, onlineWrittenAt: new Date() } });
    return result.modifiedCount === 1;
  }

  /** The guarded increments whose transition the user's `counted` list does not hold yet, as updates by name. */
  private async uncountedIncrements(counts: UserCount[]): Promise<Op<UserDoc>[]> {
    const names = [...new Set(counts.map((c) => c.name))];
    const counted = new Map<string, Set<string>>();
    // In chunks: the offline engine checks `$in` against each document in turn.
    for (let i = 0; i < names.length; i += COUNTED_READ_CHUNK) {
      const docs = await this.models.User.collection
        .find<{ name: string; counted?: string[] }>({ name: { $in: names.slice(i, i + COUNTED_READ_CHUNK) } }, { projection: { _id: 0, name: 1, counted: 1 } }).toArray();
      for (const d of docs) counted.set(d.name, new Set(d.counted ?? []));
    }
    return counts.filter((c) => !counted.get(c.name)?.has(c.transition)).map((c) => ({ updateOne: {
      filter: { name: c.name },
      update: { $inc: c.inc, $push: { counted: { $each: [c.transition], $slice: -COUNTED_KEPT } } },
    } }));
  }

  /** Reserves `count` numbers of the named sequence; returns the last one. */
  private async takeSequence(name: string, count: number): Promise<number> {
    const doc = await this.models.Counter.findOneAndUpdate({ _id: name }, { $inc: { seq: count } }, { upsert: true, returnDocument: 'after' }).lean();
    return doc!.seq;
  }

}

// ---- ids ------------------------------------------------------------------------------------------

/** A document id derived from what the document records: the same parts always give the same id. */
function derivedId(...parts: (string | number | null)[]): mongoose.Types.ObjectId {
  const digest = createHash('sha256').update(parts.map((p) => (p === null ? '\u0000' : String(p))).join('\n')).digest();
  return new mongoose.Types.ObjectId(digest.subarray(0, 12));
}

/**
 * The session document of one client instance: server, session key, and when and as which Client
 * ID it started, so a reconnect at the same address and port is another document.
 */
export function sessionDocId(server: string, s: VpnSession): string {
  return derivedId('session', server, sessionKey(s), s.connectedAt, s.clientId).toHexString();
}

/**
 * An event's id: its server, its type, and what it is about (the session's document; for a
 * server going down or up, the last good read before the outage, so a second outage is another).
 */
function eventId(server: string, e: VpnEvent, sessionId: (s: VpnSession) => string): mongoose.Types.ObjectId {
  if (e.session) return derivedId('event', server, e.type, sessionId(e.session));
  return derivedId('event', server, e.type, e.since ?? null);
}

// ---- the plan: every document and operation of a cycle, built before anything is written --------

type Op<T extends mongoose.mongo.Document> = mongoose.mongo.AnyBulkWriteOperation<T>;
/** An event as written: its seq is filled in just before the write. */
type EventDocument = Omit<EventDoc, '_id' | 'seq'> & { _id: mongoose.Types.ObjectId; seq?: number };

interface CyclePlan {
  events: EventDocument[];
  sessions: Op<SessionDoc>[];
  /** Each touched user's state (an upsert, so the increments find the user). */
  users: Op<UserDoc>[];
  /** Increments of user totals, each once per transition (applyCycle leaves out those already counted). */
  counts: UserCount[];
  servers: Op<ServerDoc>[];
}

/** One transition's increment of a user's totals: a session started (its count) or ended (its bytes). */
interface UserCount {
  name: string;
  transition: string;
  inc: Record<string, number>;
}

/** How many transition ids a user document keeps to guard its totals: far more than one cycle adds. */
const COUNTED_KEPT = 500;
/** Users whose `counted` lists are read in one query. */
const COUNTED_READ_CHUNK = 500;

function planCycle(cycles: ServerCycle[], usersOnline: Map<string, boolean>): CyclePlan {
  const plan: CyclePlan = { events: [], sessions: [], users: [], counts: [], servers: [] };
  const sessionCloses: Op<SessionDoc>[] = [];
  const sessionOpens: Op<SessionDoc>[] = [];
  const userState = new Map<string, { lastSeen: Date; firstSeen?: Date; lastIp?: string; lastServer?: string }>();

  const seen = (name: string, at: Date) => {
    const u = userState.get(name) ?? { lastSeen: at };
    if (at > u.lastSeen) u.lastSeen = at;
    userState.set(name, u);
    return u;
  };
  const count = (name: string, transition: string, inc: Record<string, number>) => { plan.counts.push({ name, transition, inc }); };

  for (const c of cycles) {
    const at = new Date(c.read.readAt);
    plan.servers.push(serverUpdate(c, at));
    const idOf = (s: VpnSession) => c.sessionIds.current.get(sessionKey(s)) ?? c.sessionIds.ended.get(sessionKey(s)) ?? sessionDocId(c.server, s);
    const endedIdOf = (s: VpnSession) => c.sessionIds.ended.get(sessionKey(s)) ?? sessionDocId(c.server, s);

    for (const s of c.diff.ended) {
      const id = endedIdOf(s);
      const endedBy = c.diff.endedBy.get(sessionKey(s)) ?? 'disconnected';
      // An upsert: the close stands even if the session's start was never stored.
      sessionCloses.push({ updateOne: {
        filter: { _id: new mongoose.Types.ObjectId(id) },
        update: { $set: { disconnectedAt: at, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, endedBy }, $setOnInsert: sessionIdentity(c.server, s) },
        upsert: true,
      } });
      seen(userName(s), at);
      count(userName(s), `${id}:end`, { totalBytesReceived: s.bytesReceived, totalBytesSent: s.bytesSent });
    }
    for (const s of c.diff.started) {
      const id = c.sessionIds.current.get(sessionKey(s)) ?? sessionDocId(c.server, s);
      const connectedAt = new Date(s.connectedAt);
      const doc: Omit<SessionDoc, '_id' | 'disconnectedAt' | 'bytesReceived' | 'bytesSent' | 'endedBy'> = sessionIdentity(c.server, s);
      sessionOpens.push({ updateOne: {
        filter: { _id: new mongoose.Types.ObjectId(id) },
        update: { $setOnInsert: { ...doc, disconnectedAt: null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, endedBy: null } },
        upsert: true,
      } });
      const u = seen(userName(s), at);
      u.lastIp = s.realAddress;
      u.lastServer = c.server;
      if (!u.firstSeen || connectedAt < u.firstSeen) u.firstSeen = connectedAt;
      count(userName(s), `${id}:start`, { sessionCount: 1 });
    }
    for (const e of c.diff.events) {
      const doc: EventDocument = {
        _id: eventId(c.server, e, e.type === 'disconnected' ? endedIdOf : idOf),
        type: e.type, server: e.server, at: new Date(e.at), user: e.session ? userName(e.session) : null,
        session: e.session ? plainSession(e.session) : null, previous: e.previous ? plainSession(e.previous) : null,
        endedBy: e.type === 'disconnected' ? e.endedBy ?? null : null,
        error: e.error ?? null, cycle: c.cycle,
        since: e.since ? new Date(e.since) : null, gapFrom: e.gap ? new Date(e.gap.from) : null, gapTo: e.gap ? new Date(e.gap.to) : null,
        counts: e.counts ?? null,
        deliveries: c.targets.map((target) => ({ target, state: c.diff.silent.has(e) ? 'skipped' : 'pending', attempts: 0, nextAttemptAt: null, lastError: null, sentAt: null, messageRef: null })),
      };
      plan.events.push(doc);
    }
  }

  plan.sessions = [...sessionCloses, ...sessionOpens];
  // Per user: its state (set, idempotent by nature); its guarded increments follow in the same
  // ordered write. The state's upsert creates a new user, so the increments find it.
  for (const [name, u] of userState) {
    plan.users.push({ updateOne: {
      filter: { name },
      update: {
        $set: { online: usersOnline.get(name) ?? false, ...(u.lastIp ? { lastIp: u.lastIp, lastServer: u.lastServer } : {}) },
        $max: { lastSeen: u.lastSeen },
        $min: { firstSeen: u.firstSeen ?? u.lastSeen },
        // The driver's bulkWrite applies no schema defaults; the totals are incremented by the
        // guarded operations that follow, never here.
        $setOnInsert: { totalBytesReceived: 0, totalBytesSent: 0, sessionCount: 0, counted: [] },
      },
      upsert: true,
    } });
  }
  return plan;
}

/** The fields of a session document that say who and where it is (written once, when it starts). */
function sessionIdentity(server: string, s: VpnSession) {
  return {
    server, key: sessionKey(s), user: userName(s), commonName: s.commonName, username: s.username,
    realAddress: s.realAddress, realPort: s.realPort, protocol: s.protocol, virtualAddress: s.virtualAddress, virtualIpv6: s.virtualIpv6,
    clientId: s.clientId, cipher: s.cipher, connectedAt: new Date(s.connectedAt),
  };
}

/** The server's state after this read: the last write of a cycle, and the one that moves its revision. */
function serverUpdate(c: ServerCycle, at: Date): Op<ServerDoc> {
  const source = { [`sources.${c.read.source}`]: c.sourceState ?? nextSourceState(undefined, c.diff.verdict, c.read.readAt) };
  // A read that changes nothing about the server (superseded, or covered by the other source):
  // only its source's state, and no new revision (the baseline is as it was).
  if (!c.diff.affectsServer) return { updateOne: { filter: { name: c.server }, update: { $set: source } } };
  const common = { ...source, lastPollAt: at, pollDurationMs: c.read.durationMs, consecutiveFailures: c.diff.baseline.consecutiveFailures, down: c.diff.baseline.down, ...(c.host ? { host: c.host } : {}) };
  if (c.diff.rejected) {
    const { reason, message } = c.diff.rejected;
    if (reason === 'superseded' || reason === 'covered') throw new Error(`${c.server}: a ${reason} read changes only its source`);
    return { updateOne: { filter: { name: c.server }, upsert: true, update: {
      $set: { ...common, lastResult: reason, lastError: message },
      $inc: { revision: 1 },
      // A server whose first read ever fails: the driver applies no schema defaults.
      $setOnInsert: { baselineSet: false, onlineJson: '[]', onlineCount: 0, lastGoodAt: null, statusUpdatedAt: null, source: null },
    } } };
  }
  const updatedAt = c.read.ok ? c.read.snapshot.updatedAt : null;
  const state = {
    ...common, lastResult: 'ok' as const, lastError: null, lastGoodAt: at, statusUpdatedAt: updatedAt ? new Date(updatedAt) : null,
    source: c.read.source, baselineSet: true,
  };
  if (c.writeOnline === false) return { updateOne: { filter: { name: c.server }, update: { $set: state, $inc: { revision: 1 } } } };
  const online = encodeOnline(c.diff.baseline.sessions ?? {}, c.sessionIds.current);
  return { updateOne: { filter: { name: c.server }, upsert: true, update: {
    $set: {
      ...state, onlineJson: online.json, onlineCount: online.count, onlineWrittenAt: at,
      // The page re-reads a server's list at once when someone came or went, and the counters only periodically.
      ...(c.diff.started.length || c.diff.ended.length ? { sessionsChangedAt: at } : {}),
    },
    $inc: { revision: 1 },
  } } };
}
