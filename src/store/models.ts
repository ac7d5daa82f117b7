// The mongoose schemas: servers (state + the online baseline), users, sessions (history, one
// document per session), events (the outbox for notices) and kicks (an audit log).
// Each index below serves a query in store.ts; the comment names it. Time sorts end with _id (see
// store.ts), so their indexes do too: mongod then still answers them from the index.
import mongoose, { Schema, type Connection, type InferSchemaType } from 'mongoose';

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

const serverSchema = new Schema({
  name: { type: String, required: true, unique: true },
  host: { type: String, default: null },
  lastPollAt: { type: Date, default: null },
  /** Last read that was complete and fresh. */
  lastGoodAt: { type: Date, default: null },
  lastResult: { type: String, enum: ['ok', 'error', 'incomplete', 'stale', 'never'], default: 'never' },
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
  /** Bumped by every write: a poller that finds another value reloads the baseline first. */
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
  endedBy: { type: String, enum: ['disconnected', 'kicked', 'replaced', 'server-restarted', null], default: null },
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
});
userSchema.index({ online: 1, lastSeen: -1, _id: -1 }); // users not online, by last seen

const deliverySchema = new Schema({
  target: { type: String, required: true },
  state: { type: String, enum: ['pending', 'sent', 'failed', 'skipped'], required: true },
  attempts: { type: Number, default: 0 },
  nextAttemptAt: { type: Date, default: null },
  lastError: { type: String, default: null },
  sentAt: { type: Date, default: null },
  /** The chat message this event went out in (Slack channel and ts, Discord message id), to edit it later. */
  messageRef: { type: String, default: null },
}, { _id: false });

const eventSchema = new Schema({
  type: { type: String, enum: ['connected', 'disconnected', 'reconnected', 'server-down', 'server-up'], required: true },
  server: { type: String, required: true },
  at: { type: Date, required: true },
  user: { type: String, default: null },
  session: { type: vpnSessionSchema, default: null },
  previous: { type: vpnSessionSchema, default: null },
  endedBy: { type: String, default: null },
  error: { type: String, default: null },
  /** One poll of one server: the notifier groups a cycle's events into one message. */
  cycle: { type: String, required: true },
  /** true when some delivery is still pending: what the notifier's query looks for. */
  pending: { type: Boolean, default: false },
  deliveries: { type: [deliverySchema], default: [] },
});
eventSchema.index({ at: 1 }); // /api/events?since=
eventSchema.index({ pending: 1, at: 1 }); // the notifier's outbox scan
eventSchema.index({ 'deliveries.messageRef': 1 }); // the events of a posted message, to edit it

const kickSchema = new Schema({
  at: { type: Date, required: true },
  by: { platform: String, userId: String, userName: String },
  where: { type: String, default: null },
  target: { type: String, required: true },
  server: { type: String, default: null },
  clientIds: { type: [Number], default: [] },
  result: { type: String, enum: ['kicked', 'partial', 'not-found', 'failed', 'refused', 'choose'], required: true },
  verified: { type: Boolean, default: false },
  message: { type: String, default: null },
});
kickSchema.index({ target: 1, at: -1, _id: -1 }); // a user's kick history
kickSchema.index({ at: -1, _id: -1 });

export type ServerDoc = InferSchemaType<typeof serverSchema>;
export type SessionDoc = InferSchemaType<typeof sessionSchema>;
export type UserDoc = InferSchemaType<typeof userSchema>;
export type EventDoc = InferSchemaType<typeof eventSchema>;
export type KickDoc = InferSchemaType<typeof kickSchema>;

export function createModels(connection: Connection) {
  return {
    Server: connection.model('Server', serverSchema, 'servers'),
    Session: connection.model('Session', sessionSchema, 'sessions'),
    User: connection.model('User', userSchema, 'users'),
    Event: connection.model('Event', eventSchema, 'events'),
    Kick: connection.model('Kick', kickSchema, 'kicks'),
  };
}

export type Models = ReturnType<typeof createModels>;
export { mongoose };
