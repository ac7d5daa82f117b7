// The mongoose schemas: servers (state + the online baseline), users, sessions (history, one
// document per session), events (what happened, with each delivery's record), the outbox (one
// document per delivery still to make), notice targets and posted messages, kicks (an audit log),
// and the pre-aggregated history (history_*: src/store/history.ts).
// Each index below serves a query in the store's modules; the comment names it. Time sorts end with
// _id (see store.ts), so their indexes do too: mongod then still answers them from the index.
// mongo-java-server, the offline engine, uses only unique indexes (and _id), and only for a query on
// exactly their fields: every other query scans its collection, which is why the notifier reads the
// small outbox and never the events collection except by _id.
import { Schema, type Connection, type InferRawDocTypeFromSchema } from 'mongoose';

/** Who and where a session is: the fields an event's session and a session document share. */
const sessionIdentityFields = {
  commonName: { type: String, required: true },
  username: { type: String, default: null },
  realAddress: { type: String, required: true },
  realPort: { type: Number, default: null },
  protocol: { type: String, default: null },
  virtualAddress: { type: String, default: null },
  virtualIpv6: { type: String, default: null },
  clientId: { type: Number, default: null },
  cipher: { type: String, default: null },
} as const;

/** A VpnSession inside an event (the session that connected or ended): the parse contract's fields. */
const vpnSessionSchema = new Schema({
  ...sessionIdentityFields,
  bytesReceived: { type: Number, required: true },
  bytesSent: { type: Number, required: true },
  connectedAt: { type: String, required: true },
  peerId: { type: Number, default: null },
}, { _id: false });

const READ_RESULTS = ['ok', 'error', 'incomplete', 'stale', 'future', 'never'];

/** One source of a server (domain.ts SourceState): kept whatever the server's own health. */
const sourceStateSchema = new Schema({
  result: { type: String, enum: READ_RESULTS, required: true },
  error: { type: String, default: null },
  since: { type: Date, default: null },
  lastReadAt: { type: Date, default: null },
  lastGoodAt: { type: Date, default: null },
}, { _id: false });

const serverSchema = new Schema({
  name: { type: String, required: true, unique: true },
  host: { type: String, default: null },
  lastPollAt: { type: Date, default: null },
  /** Last read that was complete and fresh. */
  lastGoodAt: { type: Date, default: null },
  lastResult: { type: String, enum: READ_RESULTS, default: 'never' },
  lastError: { type: String, default: null },
  /** The status file's own TIME/Updated line at the last good read. */
  statusUpdatedAt: { type: Date, default: null },
  pollDurationMs: { type: Number, default: null },
  consecutiveFailures: { type: Number, default: 0 },
  down: { type: Boolean, default: false },
  /** 'status-file' or 'management': where the last good read came from. */
  source: { type: String, default: null },
  /** false until the first good read: the diff baseline does not exist yet. */
  baselineSet: { type: Boolean, default: false },
  /**
   * Online sessions at the last good read (the diff baseline and the `online` answer, in one
   * write), as JSON: [{ ...VpnSession, sessionId }]. A string, not an array of subdocuments: it is
   * always read and written whole, and mongo-java-server took ~15 ms per server per write to
   * rewrite a 500-element array, against ~1 ms for the same data as one string.
   */
  onlineJson: { type: String, default: '[]' },
  onlineCount: { type: Number, default: 0 },
  /** The read whose online list (with its byte counters) was last written: the page re-reads the list when this moves. */
  onlineWrittenAt: { type: Date, default: null },
  /** The last read in which someone came or went (or the first good one): the page shows such a change at once. */
  sessionsChangedAt: { type: Date, default: null },
  /** Each source's own state: the status file may fail while the management stream serves. */
  sources: {
    'status-file': { type: sourceStateSchema, default: null },
    management: { type: sourceStateSchema, default: null },
  },
  /** Bumped by every write of the baseline: a poller that finds another value reloads it first. */
  revision: { type: Number, default: 0 },
}, { timestamps: true });

const sessionSchema = new Schema({
  server: { type: String, required: true },
  key: { type: String, required: true },
  user: { type: String, required: true },
  ...sessionIdentityFields,
  connectedAt: { type: Date, required: true },
  /** null while the session is online. */
  disconnectedAt: { type: Date, default: null },
  bytesReceived: { type: Number, default: 0 },
  bytesSent: { type: Number, default: 0 },
  endedBy: { type: String, enum: ['disconnected', 'kicked', 'replaced', null], default: null },
});
sessionSchema.index({ server: 1, key: 1, disconnectedAt: 1 }); // closing a session at its end
sessionSchema.index({ user: 1, connectedAt: -1, _id: -1 }); // /vpn user: recent sessions
sessionSchema.index({ disconnectedAt: -1, _id: -1 }); // /vpn recent
sessionSchema.index({ connectedAt: 1, _id: 1 }); // CSV report by time range

const userSchema = new Schema({
  name: { type: String, required: true, unique: true },
  online: { type: Boolean, default: false },
  firstSeen: { type: Date, required: true },
  lastSeen: { type: Date, required: true },
  lastIp: { type: String, default: null },
  lastServer: { type: String, default: null },
  /** Traffic of ended sessions; the page adds the online sessions' counters. */
  totalBytesReceived: { type: Number, default: 0 },
  totalBytesSent: { type: Number, default: 0 },
  sessionCount: { type: Number, default: 0 },
  /**
   * Ids of the latest transitions (a session's start or end) counted into the totals above: a
   * cycle written again after a failure counts each transition once (store/cycle-writes.ts).
   */
  counted: { type: [String], default: [] },
});
userSchema.index({ online: 1, lastSeen: -1, _id: -1 }); // users not online, by last seen

const deliverySchema = new Schema({
  target: { type: String, required: true },
  state: { type: String, enum: ['pending', 'sent', 'failed', 'skipped'], required: true },
  attempts: { type: Number, default: 0 },
  nextAttemptAt: { type: Date, default: null },
  lastError: { type: String, default: null },
  sentAt: { type: Date, default: null },
  /** The chat message this event went out in (Slack channel and ts, Discord message id). */
  messageRef: { type: String, default: null },
}, { _id: false });

const eventSchema = new Schema({
  type: { type: String, enum: ['connected', 'disconnected', 'reconnected', 'server-down', 'server-up', 'summary', 'notice'], required: true },
  server: { type: String, required: true },
  at: { type: Date, required: true },
  user: { type: String, default: null },
  session: { type: vpnSessionSchema, default: null },
  previous: { type: vpnSessionSchema, default: null },
  endedBy: { type: String, default: null },
  error: { type: String, default: null },
  /** One poll of one server: the notifier groups a cycle's events into one message. */
  cycle: { type: String, required: true },
  /** Monotonic across processes (taken from the `counters` collection as events are written): a paging cursor. */
  seq: { type: Number, required: true },
  /** server-down / server-up: the last good read before the outage (what tells two outages apart); summary: before the stop. */
  since: { type: Date, default: null },
  /** Seen on the first read after a restart: it happened between these times. */
  gapFrom: { type: Date, default: null },
  gapTo: { type: Date, default: null },
  /** notice (alerts and the digest: src/notify/alerts.ts, digest.ts): its text, and the text for guests (no real IPs). */
  text: { type: String, default: null },
  guestText: { type: String, default: null },
  /** summary: sessions that came, went and came back while vpnwatch was stopped. */
  counts: { type: new Schema({ connected: Number, disconnected: Number, reconnected: Number }, { _id: false }), default: null },
  /** One per target (store/outbox.ts): the delivery's record. What is still to do is in the outbox. */
  deliveries: { type: [deliverySchema], default: [] },
});
eventSchema.index({ at: 1 }); // /api/events?since=
eventSchema.index({ seq: 1 }); // /api/events?after=

/**
 * The outbox: one document per delivery still to make (an event to a target), written with the
 * event (store/cycle-writes.ts) and removed once the delivery is sent or failed for good, so the
 * collection holds only what is pending. The id derives from the event and the target.
 */
const outboxItemSchema = new Schema({
  _id: { type: String, required: true },
  target: { type: String, required: true },
  /** The event's _id (hex). */
  event: { type: String, required: true },
  server: { type: String, required: true },
  cycle: { type: String, required: true },
  at: { type: Date, required: true },
  seq: { type: Number, required: true },
});
outboxItemSchema.index({ target: 1, at: 1, seq: 1, _id: 1 }); // a target's items, oldest first (real MongoDB)

/**
 * A notice target (`slack:C123`, `discord:456`, `log`): its delivery state, as /healthz, /vpn
 * servers and the page show it, and the lease of the notifier that sends to it.
 */
const noticeTargetSchema = new Schema({
  _id: { type: String, required: true },
  state: { type: String, enum: ['ok', 'retrying', 'failing'], required: true },
  error: { type: String, default: null },
  /** When the current state began (null: ok since the target was first used). */
  since: { type: Date, default: null },
  /** retrying: when the next attempt is due. */
  nextAttemptAt: { type: Date, default: null },
  /** Attempts that failed since the last success (the backoff grows with them). */
  failures: { type: Number, default: 0 },
  /** The notifier sending to this target, until leaseUntil (then anyone may take over). */
  holder: { type: String, default: null },
  leaseUntil: { type: Date, default: null },
  /** The last post or edit (pacing carries over to the next holder). */
  lastPostAt: { type: Date, default: null },
  /** The message being posted: the outbox items it carries and its nonce, written before the post. */
  inFlight: { type: new Schema({ items: { type: [String], default: [] }, nonce: { type: String, required: true } }, { _id: false }), default: null },
});

/** An event as a posted message remembers it: enough to decide whether a reconnect folds into it. */
const messageEventSchema = new Schema({
  id: { type: String, required: true },
  type: { type: String, required: true },
  server: { type: String, required: true },
  user: { type: String, default: null },
  at: { type: Date, required: true },
  endedBy: { type: String, default: null },
}, { _id: false });

/**
 * A message posted to a target, kept while a reconnect may still be folded into it (the flap
 * window, and some margin): which events it carries, in which sections, to edit it.
 */
const noticeMessageSchema = new Schema({
  _id: { type: String, required: true },
  target: { type: String, required: true },
  ref: { type: String, required: true },
  postedAt: { type: Date, required: true },
  keepUntil: { type: Date, required: true },
  /** Each section: its server and cycle, and how many lines it showed (the rest summarised). */
  sections: { type: [new Schema({ server: { type: String, required: true }, cycle: { type: String, required: true }, lines: { type: Number, required: true } }, { _id: false })], default: [] },
  events: { type: [messageEventSchema], default: [] },
});

const kickSchema = new Schema({
  at: { type: Date, required: true },
  by: { platform: String, userId: String, userName: String },
  where: { type: String, default: null },
  target: { type: String, required: true },
  server: { type: String, default: null },
  clientIds: { type: [Number], default: [] },
  result: { type: String, enum: ['kicked', 'partial', 'not-found', 'failed', 'refused', 'choose', 'invalid'], required: true },
  verified: { type: Boolean, default: false },
  message: { type: String, default: null },
});
kickSchema.index({ target: 1, at: -1, _id: -1 }); // a user's kick history
kickSchema.index({ at: -1, _id: -1 });

/**
 * A browser's sign-in to the page (the login form, or a trusted proxy's header), by the SHA-256 of
 * the cookie's random value: the store never holds a usable cookie. Kept here, not in the cookie,
 * so that signing out ends it for every vpnwatch process behind a load balancer.
 */
const webSessionSchema = new Schema({
  _id: { type: String, required: true },
  role: { type: String, enum: ['admin', 'viewer'], required: true },
  /** Who signed in, where known (the proxy's user header); null for a token sign-in. */
  user: { type: String, default: null },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, required: true },
  /** Set by signing out: the cookie stops working at once. */
  revokedAt: { type: Date, default: null },
});
webSessionSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 }); // MongoDB deletes ended sign-ins (the check does not rely on it)

/** Failed sign-ins and wrong bearer tokens per client network, in fixed windows: shared by every process. */
const webLimitSchema = new Schema({
  _id: { type: String, required: true },
  failures: { type: Number, required: true },
  /** When this window ends and the count starts again. */
  resetAt: { type: Date, required: true },
});
webLimitSchema.index({ resetAt: 1 }, { expireAfterSeconds: 3600 }); // old windows go away (on MongoDB; harmless elsewhere)

/** Named sequences (`events`): findOneAndUpdate with $inc hands out blocks of numbers. */
const counterSchema = new Schema({
  _id: { type: String, required: true },
  seq: { type: Number, required: true },
});

/** A request from one process to another (store/requests.ts). Arguments and result are JSON. */
const requestSchema = new Schema({
  _id: { type: String, required: true },
  kind: { type: String, enum: ['poll', 'kick'], required: true },
  server: { type: String, default: null },
  argsJson: { type: String, required: true },
  state: { type: String, enum: ['pending', 'running', 'done', 'failed'], required: true },
  requestedBy: { type: String, required: true },
  requestedAt: { type: Date, required: true },
  deadline: { type: Date, required: true },
  claimedBy: { type: String, default: null },
  leaseUntil: { type: Date, default: null },
  resultJson: { type: String, default: null },
  error: { type: String, default: null },
});
requestSchema.index({ state: 1, requestedAt: 1 }); // the claim
requestSchema.index({ requestedAt: 1 }, { expireAfterSeconds: 7 * 86_400 }); // old requests (real MongoDB only)

/** A running service: refreshed every few seconds (store/replicas.ts). */
const replicaSchema = new Schema({
  _id: { type: String, required: true },
  host: { type: String, required: true },
  pid: { type: Number, required: true },
  startedAt: { type: Date, required: true },
  seenAt: { type: Date, required: true },
});

/**
 * A lease (store/leases.ts): one VPN server's poller and management connection (`server:NAME`), or
 * a connection only one replica may keep (`discord-gateway`, `slack-socket`). Free when expired.
 */
const leaseSchema = new Schema({
  _id: { type: String, required: true },
  holder: { type: String, default: null },
  expiresAt: { type: Date, required: true },
  acquiredAt: { type: Date, default: null },
  /** How the last holder let go: 'handover' (to balance the load) or 'stop'; null while held or when it expired. */
  released: { type: String, default: null },
  /** What the holder says about it (a server's management mode), as JSON. */
  infoJson: { type: String, default: null },
});

/** One stored batch of changes, for the other replicas' pages and notifiers (store/changes.ts). */
const changeSchema = new Schema({
  _id: { type: Number, required: true },
  at: { type: Date, required: true },
  replica: { type: String, required: true },
  /** What changed, as the page's stream and the notifier take it (no addresses), as JSON. */
  updateJson: { type: String, required: true },
});
changeSchema.index({ at: 1 }, { expireAfterSeconds: 3600 }); // old changes (real MongoDB only; store/changes.ts also prunes)
// ---- history (src/store/history.ts): pre-aggregated, every document addressed by a derived _id ----
// The offline engine ignores secondary indexes, so every read of history is by _id (`$in` lists of
// ids it derives from the time range). Slots are keyed by minute or hour number, so one read's
// values are `$set` (idempotent) without reading the document first. `expireAt` carries a TTL
// index for real MongoDB; the history job deletes by date as well (the offline engine ignores TTL).

/** One server's hour (`fra-1|2026-11-30T09`; the fleet's is `*|…`): minute samples and its users' traffic. */
const historyMinutesSchema = new Schema({
  _id: { type: String, required: true },
  server: { type: String, required: true },
  hour: { type: Date, required: true },
  /** "0".."59" → [peak online, bytes received, bytes sent] in that minute. */
  m: { type: Schema.Types.Mixed, default: {} },
  /** Encoded user name → [bytes received, bytes sent, seconds online, sessions started] in this hour (servers only). */
  u: { type: Schema.Types.Mixed, default: {} },
  expireAt: { type: Date, required: true },
}, { minimize: false, versionKey: false });
historyMinutesSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 }); // retention (real MongoDB only)

/** One server's day (`fra-1|2026-11-30`; the fleet's is `*|…`) of hourly samples, rolled up from minutes. */
const historyHoursSchema = new Schema({
  _id: { type: String, required: true },
  server: { type: String, required: true },
  day: { type: Date, required: true },
  /** "0".."23" → [peak online, mean online, bytes received, bytes sent, minutes sampled]. */
  h: { type: Schema.Types.Mixed, default: {} },
  expireAt: { type: Date, required: true },
}, { minimize: false, versionKey: false });
historyHoursSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });

/** The fleet's users in one hour (`2026-11-30T09`): encoded user → [received, sent, seconds, sessions, ...servers]. */
const historyUserHoursSchema = new Schema({
  _id: { type: String, required: true },
  hour: { type: Date, required: true },
  u: { type: Schema.Types.Mixed, default: {} },
  expireAt: { type: Date, required: true },
}, { minimize: false, versionKey: false });
historyUserHoursSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });

/** The fleet's users in one UTC day (`2026-11-30`), same entries: what the top lists are made of. */
const historyDaysSchema = new Schema({
  _id: { type: String, required: true },
  day: { type: Date, required: true },
  u: { type: Schema.Types.Mixed, default: {} },
  expireAt: { type: Date, required: true },
}, { minimize: false, versionKey: false });
historyDaysSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });

/** One user's UTC day (`alice|2026-11-30`): what /api/users/:name/history and /vpn user read. */
const historyUserDaysSchema = new Schema({
  _id: { type: String, required: true },
  user: { type: String, required: true },
  day: { type: Date, required: true },
  bytesReceived: { type: Number, required: true },
  bytesSent: { type: Number, required: true },
  onlineSeconds: { type: Number, required: true },
  sessions: { type: Number, required: true },
  servers: { type: [String], default: [] },
  expireAt: { type: Date, required: true },
}, { versionKey: false });
historyUserDaysSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });

/** A precomputed top list (`30d|bytes`), and the roll-up's own bookkeeping (`rollup`). */
const historyMetaSchema = new Schema({
  _id: { type: String, required: true },
  at: { type: Date, required: true },
  /** JSON: a top list's users, or the roll-up's state. */
  json: { type: String, required: true },
}, { versionKey: false });

// The documents as stored (plain objects with _id, as lean queries return them and as the cycle
// writes build them).
export type ServerDoc = InferRawDocTypeFromSchema<typeof serverSchema>;
export type SessionDoc = InferRawDocTypeFromSchema<typeof sessionSchema>;
export type UserDoc = InferRawDocTypeFromSchema<typeof userSchema>;
export type EventDoc = InferRawDocTypeFromSchema<typeof eventSchema>;
export type KickDoc = InferRawDocTypeFromSchema<typeof kickSchema>;
export type WebSessionDoc = InferRawDocTypeFromSchema<typeof webSessionSchema>;
export type RequestDoc = InferRawDocTypeFromSchema<typeof requestSchema>;
export type LeaseDoc = InferRawDocTypeFromSchema<typeof leaseSchema>;
export type OutboxItemDoc = InferRawDocTypeFromSchema<typeof outboxItemSchema>;
export type NoticeTargetDoc = InferRawDocTypeFromSchema<typeof noticeTargetSchema>;
export type NoticeMessageDoc = InferRawDocTypeFromSchema<typeof noticeMessageSchema>;
export type HistoryMinutesDoc = InferRawDocTypeFromSchema<typeof historyMinutesSchema>;
export type HistoryHoursDoc = InferRawDocTypeFromSchema<typeof historyHoursSchema>;
export type HistoryUserHoursDoc = InferRawDocTypeFromSchema<typeof historyUserHoursSchema>;
export type HistoryDaysDoc = InferRawDocTypeFromSchema<typeof historyDaysSchema>;
export type HistoryUserDaysDoc = InferRawDocTypeFromSchema<typeof historyUserDaysSchema>;
export type HistoryMetaDoc = InferRawDocTypeFromSchema<typeof historyMetaSchema>;

export function createModels(connection: Connection) {
  return {
    Server: connection.model('Server', serverSchema, 'servers'),
    Session: connection.model('Session', sessionSchema, 'sessions'),
    User: connection.model('User', userSchema, 'users'),
    Event: connection.model('Event', eventSchema, 'events'),
    Outbox: connection.model('Outbox', outboxItemSchema, 'outbox'),
    NoticeTarget: connection.model('NoticeTarget', noticeTargetSchema, 'notice_targets'),
    NoticeMessage: connection.model('NoticeMessage', noticeMessageSchema, 'notice_messages'),
    Kick: connection.model('Kick', kickSchema, 'kicks'),
    Counter: connection.model('Counter', counterSchema, 'counters'),
    WebSession: connection.model('WebSession', webSessionSchema, 'web_sessions'),
    WebLimit: connection.model('WebLimit', webLimitSchema, 'web_limits'),
    Request: connection.model('Request', requestSchema, 'requests'),
    Replica: connection.model('Replica', replicaSchema, 'replicas'),
    Lease: connection.model('Lease', leaseSchema, 'leases'),
    Change: connection.model('Change', changeSchema, 'changes'),
    HistoryMinutes: connection.model('HistoryMinutes', historyMinutesSchema, 'history_minutes'),
    HistoryHours: connection.model('HistoryHours', historyHoursSchema, 'history_hours'),
    HistoryUserHours: connection.model('HistoryUserHours', historyUserHoursSchema, 'history_user_hours'),
    HistoryDays: connection.model('HistoryDays', historyDaysSchema, 'history_days'),
    HistoryUserDays: connection.model('HistoryUserDays', historyUserDaysSchema, 'history_user_days'),
    HistoryMeta: connection.model('HistoryMeta', historyMetaSchema, 'history_meta'),
  };
}

export type Models = ReturnType<typeof createModels>;
