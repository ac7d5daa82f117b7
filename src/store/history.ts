// History: online counts and traffic over time, per server and for the fleet, and per user per
// day. Pre-aggregated, so a read touches few documents and every one of them by _id (the offline
// engine ignores secondary indexes):
//
//   history_minutes    `fra-1|2026-11-30T09`  a server's hour: minute samples, and each user's traffic
//                      `*|2026-11-30T09`      the fleet's hour: minute totals
//   history_hours      `fra-1|2026-11-30`     a server's (or `*` the fleet's) day of hourly samples
//   history_user_hours `2026-11-30T09`        every user's figures in one hour (for the 24 h top)
//   history_days       `2026-11-30`           every user's figures in one day (for the 7 d/30 d top)
//   history_user_days  `alice|2026-11-30`     one user's day (the user's history)
//   history_meta       `30d|bytes`, `rollup`  precomputed top lists, the roll-up's state
//
// The poller's HistoryRecorder (src/poll/history-recorder.ts) writes history_minutes, the values
// of each minute computed in memory and `$set` (a write repeated after a failure sets the same
// values). The history job (jobs/history-rollup.ts → rollUp below) makes everything else from them
// and deletes what is past its retention. A minute nobody sampled has no slot: a gap, not a zero.
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import type { HistoryConfig } from '../config.ts';
import type { Models } from './models.ts';
import { outboxItemsOf } from './outbox.ts';

/** The fleet's series and documents use this in place of a server name. */
export const FLEET = '*';
/** The name the API gives the fleet's series. */
export const FLEET_SERIES = 'all';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** The per-hour user figures are kept this long: enough for the 24 h top list and a late roll-up. */
const USER_HOURS_KEPT_MS = 3 * DAY_MS;
/** At most this many points per series (GET /api/history). */
export const MAX_POINTS = 500;
/** A top list keeps this many users. */
export const TOP_KEPT = 100;

export type TopRange = '24h' | '7d' | '30d';
export type TopBy = 'bytes' | 'time';
export const TOP_RANGES: readonly TopRange[] = ['24h', '7d', '30d'];
export const RANGE_MS: Record<TopRange, number> = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS };

// ---- keys ---------------------------------------------------------------------------------------

export const floorTo = (t: number, step: number) => Math.floor(t / step) * step;
/** `2026-11-30T09` */
export const hourKey = (t: number) => new Date(floorTo(t, HOUR_MS)).toISOString().slice(0, 13);
/** `2026-11-30` */
export const dayKey = (t: number) => new Date(floorTo(t, DAY_MS)).toISOString().slice(0, 10);
export const minutesId = (server: string, hourStart: number) => `${server}|${hourKey(hourStart)}`;
export const hoursId = (server: string, dayStart: number) => `${server}|${dayKey(dayStart)}`;
export const userDayId = (user: string, dayStart: number) => `${user}|${dayKey(dayStart)}`;

/**
 * A user name as a field name: MongoDB field names may not contain `.` or start with `$`, and a
 * common name may be anything. Percent-encoding of those (and of `%` itself) is reversible.
 */
export const encodeKey = (name: string) => name.replace(/[%.$]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
export const decodeKey = (key: string) => key.replace(/%(25|2E|24)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

// ---- values -------------------------------------------------------------------------------------

/** A minute: [peak online, bytes received, bytes sent]. */
export type MinuteSlot = [number, number, number];
/** An hour: [peak online, mean online, bytes received, bytes sent, minutes sampled]. */
export type HourSlot = [number, number, number, number, number];
/** A user in an hour or a day: [bytes received, bytes sent, seconds online, sessions started, ...servers used]. */
export type UserFigures = [number, number, number, number, ...string[]];

export function addUserFigures(into: UserFigures | undefined, add: UserFigures): UserFigures {
  if (!into) return [...add];
  const servers = [...new Set([...(into.slice(4) as string[]), ...(add.slice(4) as string[])])].sort();
  return [into[0] + add[0], into[1] + add[1], into[2] + add[2], into[3] + add[3], ...servers];
}

export interface HistoryPoint {
  at: string;
  /** The peak within the step (an integer). */
  online: number;
  /** The mean within the step, over the minutes sampled. */
  avgOnline: number;
  bytesReceived: number;
  bytesSent: number;
}

export interface HistorySeries {
  server: string;
  points: HistoryPoint[];
}

export interface HistoryAnswer {
  from: string;
  to: string;
  stepSeconds: number;
  series: HistorySeries[];
}

export interface UserDay {
  day: string;
  bytesReceived: number;
  bytesSent: number;
  onlineSeconds: number;
  sessions: number;
  servers: string[];
}

export interface TopUser {
  user: string;
  bytesReceived: number;
  bytesSent: number;
  onlineSeconds: number;
  sessions: number;
}

export interface TopList {
  range: TopRange;
  by: TopBy;
  /** When the list was computed (the history job recomputes it every run), null when never. */
  computedAt: string | null;
  users: TopUser[];
}

/** A period of the fleet in one line: `/vpn stats 24h`, the digest. */
export interface PeriodSummary {
  from: string;
  to: string;
  /** null when nothing was sampled in the period. */
  peak: { online: number; at: string } | null;
  avgOnline: number | null;
  bytesReceived: number;
  bytesSent: number;
  /** Minutes with a sample (the rest are gaps: vpnwatch did not run, or no server could be read). */
  minutesSampled: number;
}

/**
 * The step that fits `rangeMs` into at most MAX_POINTS points: whole minutes up to an hour, then
 * whole hours (24 h → 3 min, 7 d → 21 min, 30 d → 2 h).
 */
export function stepFor(rangeMs: number): number {
  const raw = rangeMs / MAX_POINTS;
  if (raw <= HOUR_MS) return Math.max(1, Math.ceil(raw / MINUTE_MS)) * MINUTE_MS;
  return Math.ceil(raw / HOUR_MS) * HOUR_MS;
}

/** What one sample adds to a point: minute samples weigh 1, an hour's `minutes`. */
interface Sample { at: number; peak: number; meanTimesMinutes: number; minutes: number; received: number; sent: number }

function toPoints(samples: Sample[], from: number, step: number): HistoryPoint[] {
  const points = new Map<number, { peak: number; mean: number; minutes: number; received: number; sent: number }>();
  for (const s of samples) {
    const at = from + floorTo(s.at - from, step);
    const p = points.get(at) ?? { peak: 0, mean: 0, minutes: 0, received: 0, sent: 0 };
    p.peak = Math.max(p.peak, s.peak);
    p.mean += s.meanTimesMinutes;
    p.minutes += s.minutes;
    p.received += s.received;
    p.sent += s.sent;
    points.set(at, p);
  }
  return [...points.entries()].sort((a, b) => a[0] - b[0]).map(([at, p]) => ({
    at: new Date(at).toISOString(), online: p.peak, avgOnline: p.minutes ? Math.round((p.mean / p.minutes) * 100) / 100 : 0,
    bytesReceived: p.received, bytesSent: p.sent,
  }));
}

type Slots<T> = Record<string, T>;
interface MinutesDocLean { _id: string; m?: Slots<MinuteSlot> }
interface HoursDocLean { _id: string; h?: Slots<HourSlot> }

/** A notice to store in the outbox (src/notify/alerts.ts, digest.ts). */
export interface HistoryNotice {
  /** Derived from the condition: the same condition always gives the same id. */
  id: string;
  server: string;
  user?: string;
  at: string;
  text: string;
  /** For a channel's guests: no real IPs. */
  guestText: string;
  targets: string[];
}

export interface RollUpResult {
  hours: number;
  users: number;
  deleted: Record<string, number>;
  ms: number;
}

export class HistoryStore {
  constructor(private readonly models: Models) {}

  // ---- the recorder's writes ------------------------------------------------------------------

  /** The stored minute slots and user figures of these server-hours (to continue them after a restart). */
  async loadMinutes(ids: string[]): Promise<Map<string, { m: Slots<MinuteSlot>; u: Slots<UserFigures> }>> {
    if (ids.length === 0) return new Map();
    const docs = await this.models.HistoryMinutes.collection.find<{ _id: string; m?: Slots<MinuteSlot>; u?: Slots<UserFigures> }>({ _id: { $in: ids } } as object).toArray();
    return new Map(docs.map((d) => [d._id, { m: d.m ?? {}, u: d.u ?? {} }]));
  }

  /**
   * Sets minute slots and user figures of server-hours (and the fleet's minute slots): each value
   * is the whole minute (or hour) as computed so far, so writing it twice is harmless.
   */
  async writeMinutes(writes: { server: string; hourStart: number; minutes: Slots<MinuteSlot>; users: Slots<UserFigures> }[], retainMs: number): Promise<number> {
    const ops = writes.map((w) => {
      const set: Record<string, unknown> = { server: w.server, hour: new Date(w.hourStart), expireAt: new Date(w.hourStart + HOUR_MS + retainMs) };
      for (const [minute, slot] of Object.entries(w.minutes)) set[`m.${minute}`] = slot;
      for (const [user, figures] of Object.entries(w.users)) set[`u.${user}`] = figures;
      return { updateOne: { filter: { _id: minutesId(w.server, w.hourStart) }, update: { $set: set }, upsert: true } };
    });
    if (ops.length) await this.models.HistoryMinutes.collection.bulkWrite(ops as never, { ordered: false });
    return ops.length;
  }

  /** The sum over `servers` of their stored minute slots `minutes` of one hour (peaks added: the fleet's online count). */
  async sumMinutes(servers: string[], hourStart: number, minutes: string[]): Promise<Slots<MinuteSlot>> {
    const projection = Object.fromEntries(minutes.map((m) => [`m.${m}`, 1]));
    const docs = await this.models.HistoryMinutes.collection
      .find<{ _id: string; m?: Slots<MinuteSlot> }>({ _id: { $in: servers.map((s) => minutesId(s, hourStart)) } } as object, { projection }).toArray();
    const sum: Slots<MinuteSlot> = {};
    for (const m of minutes) {
      let total: MinuteSlot = [0, 0, 0];
      for (const d of docs) {
        const slot = d.m?.[m];
        if (slot) total = [total[0] + slot[0], total[1] + slot[1], total[2] + slot[2]];
      }
      sum[m] = total;
    }
    return sum;
  }

  // ---- reads ------------------------------------------------------------------------------------

  /**
   * The samples of `server` (or FLEET) in [from, to): minute samples where the minute documents
   * are still kept, else the hour's roll-up. `hourly` reads hour documents only, except for the
   * last two hours (the roll-up runs every few minutes; the minutes are current).
   */
  private async samples(servers: string[], from: number, to: number, hourly: boolean): Promise<Map<string, Sample[]>> {
    const out = new Map<string, Sample[]>(servers.map((s) => [s, []]));
    const firstHour = floorTo(from, HOUR_MS);
    const hours: number[] = [];
    for (let h = firstHour; h < to; h += HOUR_MS) hours.push(h);
    const recentFrom = floorTo(to - 1, HOUR_MS) - HOUR_MS;
    const minuteHours = hourly ? hours.filter((h) => h >= recentFrom) : hours;
    const minuteDocs = await this.models.HistoryMinutes.collection
      .find<MinutesDocLean>({ _id: { $in: servers.flatMap((s) => minuteHours.map((h) => minutesId(s, h))) } } as object, { projection: { m: 1 } }).toArray();
    const covered = new Set<string>();
    for (const d of minuteDocs) {
      const [server, key] = d._id.split(/\|(?=[^|]*$)/) as [string, string];
      const hourStart = Date.parse(`${key}:00:00.000Z`);
      covered.add(`${server}|${hourStart}`);
      const list = out.get(server)!;
      for (const [minute, [peak, received, sent]] of Object.entries(d.m ?? {})) {
        const at = hourStart + Number(minute) * MINUTE_MS;
        if (at >= from && at < to) list.push({ at, peak, meanTimesMinutes: peak, minutes: 1, received, sent });
      }
    }
    const hourHours = hours.filter((h) => servers.some((s) => !covered.has(`${s}|${h}`)));
    if (hourHours.length === 0) return out;
    const days = [...new Set(hourHours.map((h) => floorTo(h, DAY_MS)))];
    const hourDocs = await this.models.HistoryHours.collection
      .find<HoursDocLean>({ _id: { $in: servers.flatMap((s) => days.map((d) => hoursId(s, d))) } } as object, { projection: { h: 1 } }).toArray();
    for (const d of hourDocs) {
      const [server, key] = d._id.split(/\|(?=[^|]*$)/) as [string, string];
      const dayStart = Date.parse(`${key}T00:00:00.000Z`);
      const list = out.get(server)!;
      for (const [hour, [peak, mean, received, sent, minutes]] of Object.entries(d.h ?? {})) {
        const at = dayStart + Number(hour) * HOUR_MS;
        if (at >= from && at < to && !covered.has(`${server}|${at}`)) list.push({ at, peak, meanTimesMinutes: mean * minutes, minutes, received, sent });
      }
    }
    return out;
  }

  /**
   * GET /api/history: per series, points oldest first, a point per step that has samples (steps
   * without any are gaps, left out). `servers` empty: the fleet plus each of `allServers` when
   * there are at most `perServerMax` of them.
   */
  async series(from: Date, to: Date, servers: string[]): Promise<HistoryAnswer> {
    const step = stepFor(to.getTime() - from.getTime());
    // Points start at whole steps (UTC), so the same step always means the same time.
    const start = floorTo(from.getTime(), step);
    const names = servers.map((s) => (s === FLEET_SERIES ? FLEET : s));
    const samples = await this.samples(names, start, to.getTime(), step >= HOUR_MS);
    return {
      from: new Date(start).toISOString(), to: to.toISOString(), stepSeconds: step / 1000,
      series: names.map((s) => ({ server: s === FLEET ? FLEET_SERIES : s, points: toPoints(samples.get(s)!, start, step) })),
    };
  }

  /** The fleet over [from, to): peak and when, mean online, traffic (minutes for up to 2 days, else hours). */
  async summary(from: Date, to: Date): Promise<PeriodSummary> {
    const hourly = to.getTime() - from.getTime() > 2 * DAY_MS;
    const samples = (await this.samples([FLEET], from.getTime(), to.getTime(), hourly)).get(FLEET)!;
    let peak: PeriodSummary['peak'] = null;
    let mean = 0;
    let minutes = 0;
    let received = 0;
    let sent = 0;
    for (const s of samples.sort((a, b) => a.at - b.at)) {
      if (!peak || s.peak > peak.online) peak = { online: s.peak, at: new Date(s.at).toISOString() };
      mean += s.meanTimesMinutes;
      minutes += s.minutes;
      received += s.received;
      sent += s.sent;
    }
    return {
      from: from.toISOString(), to: to.toISOString(), peak, avgOnline: minutes ? Math.round((mean / minutes) * 10) / 10 : null,
      bytesReceived: received, bytesSent: sent, minutesSampled: minutes,
    };
  }

  /** One user's days in [now - days, now], oldest first; days without activity are left out. */
  async userDays(user: string, days: number, now: Date): Promise<UserDay[]> {
    const today = floorTo(now.getTime(), DAY_MS);
    const ids = Array.from({ length: days }, (_, i) => userDayId(user, today - (days - 1 - i) * DAY_MS));
    const docs = await this.models.HistoryUserDays.collection.find<{ _id: string; day: Date; bytesReceived: number; bytesSent: number; onlineSeconds: number; sessions: number; servers: string[] }>({ _id: { $in: ids } } as object).toArray();
    return docs.sort((a, b) => a.day.getTime() - b.day.getTime()).map((d) => ({
      day: dayKey(d.day.getTime()), bytesReceived: d.bytesReceived, bytesSent: d.bytesSent, onlineSeconds: d.onlineSeconds, sessions: d.sessions, servers: d.servers,
    }));
  }

  /** A top list as the history job last computed it (one document). */
  async top(range: TopRange, by: TopBy): Promise<TopList> {
    const doc = await this.models.HistoryMeta.collection.findOne<{ at: Date; json: string }>({ _id: `top|${range}|${by}` } as object);
    return { range, by, computedAt: doc ? doc.at.toISOString() : null, users: doc ? (JSON.parse(doc.json) as TopUser[]) : [] };
  }

  // ---- notices: alerts and the digest ----------------------------------------------------------

  /**
   * Stores notices (alerts, their resolved lines, the digest) as events in the notifier's outbox.
   * Each id is derived from its condition, and the write is an insert-if-absent: a notice written
   * twice, by a retry or by a second vpnwatch seeing the same condition, is stored and sent once.
   * Returns the ids that were new.
   */
  async writeNotices(notices: HistoryNotice[]): Promise<string[]> {
    if (notices.length === 0) return [];
    const ids = notices.map((n) => noticeEventId(n.id));
    const existing = new Set((await this.models.Event.collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id.toHexString()));
    const fresh = notices.filter((n) => !existing.has(noticeEventId(n.id).toHexString()));
    if (fresh.length === 0) return [];
    const counter = await this.models.Counter.findOneAndUpdate({ _id: 'events' }, { $inc: { seq: fresh.length } }, { upsert: true, returnDocument: 'after' }).lean();
    const first = counter!.seq - fresh.length + 1;
    const deliveries = (n: HistoryNotice) => n.targets.map((target) => ({ target, state: 'pending', attempts: 0, nextAttemptAt: null, lastError: null, sentAt: null, messageRef: null }));
    await this.models.Event.collection.bulkWrite(fresh.map((n, i) => ({ updateOne: { filter: { _id: noticeEventId(n.id) }, upsert: true, update: { $setOnInsert: {
      type: 'notice', server: n.server, at: new Date(n.at), user: n.user ?? null, session: null, previous: null, endedBy: null, error: null,
      cycle: `notice:${n.id}`, seq: first + i, since: null, gapFrom: null, gapTo: null, counts: null, text: n.text, guestText: n.guestText,
      deliveries: deliveries(n),
    } } } })) as never, { ordered: false });
    // Each delivery's outbox item (src/store/outbox.ts): what the notifier reads.
    const items = outboxItemsOf(fresh.map((n, i) => ({ _id: noticeEventId(n.id), server: n.server, cycle: `notice:${n.id}`, at: new Date(n.at), seq: first + i, deliveries: deliveries(n) })));
    if (items.length) await this.models.Outbox.collection.bulkWrite(items as never, { ordered: false });
    return fresh.map((n) => n.id);
  }

  /** The state an alert kind keeps between runs (which conditions are raised), by name. */
  async alertState<T>(name: string): Promise<T | null> {
    const doc = await this.models.HistoryMeta.collection.findOne<{ json: string }>({ _id: `alerts|${name}` } as object);
    return doc ? (JSON.parse(doc.json) as T) : null;
  }

  async setAlertState(name: string, state: unknown, at: Date): Promise<void> {
    await this.models.HistoryMeta.collection.updateOne({ _id: `alerts|${name}` } as object, { $set: { at, json: JSON.stringify(state) } }, { upsert: true });
  }

  /** Ended sessions, server-down/up events and kicks between `from` and `to`: the digest's raw facts (a scan; the job only). */
  async dayFacts(from: Date, to: Date): Promise<{ outages: { server: string; type: string; at: Date }[]; kicks: number }> {
    const outages = await this.models.Event.find({ at: { $gte: from, $lt: to }, type: { $in: ['server-down', 'server-up'] } }, { server: 1, type: 1, at: 1 }).sort({ at: 1, _id: 1 }).lean();
    const kicks = await this.models.Kick.countDocuments({ at: { $gte: from, $lt: to }, result: { $in: ['kicked', 'partial'] } });
    return { outages: outages.map((o) => ({ server: o.server, type: o.type, at: o.at })), kicks };
  }

  /** Every user's figures over [from, to), from the user hours (kept three days): the digest's users. */
  async usersBetween(from: number, to: number): Promise<Map<string, UserFigures>> {
    const ids: string[] = [];
    for (let h = floorTo(from, HOUR_MS); h < to; h += HOUR_MS) ids.push(hourKey(h));
    const docs = await this.models.HistoryUserHours.collection.find<{ u?: Slots<UserFigures> }>({ _id: { $in: ids } } as object).toArray();
    const users = new Map<string, UserFigures>();
    for (const d of docs) for (const [k, f] of Object.entries(d.u ?? {})) users.set(decodeKey(k), addUserFigures(users.get(decodeKey(k)), f));
    return users;
  }

  /** Every user's figures in one UTC day (the day document), decoded. */
  async dayUsers(dayStart: number): Promise<Map<string, UserFigures>> {
    const doc = await this.models.HistoryDays.collection.findOne<{ u?: Slots<UserFigures> }>({ _id: dayKey(dayStart) } as object);
    return new Map(Object.entries(doc?.u ?? {}).map(([k, f]) => [decodeKey(k), f]));
  }

  // ---- the history job -------------------------------------------------------------------------

  /**
   * Rolls minutes up into hours and users into days and top lists, then deletes what is past its
   * retention. Idempotent: every value is recomputed from its sources and `$set`. Rolls the hours
   * since the last run's final one (on the first run, all of them), and always the current and
   * previous hour.
   */
  async rollUp(now: Date, history: HistoryConfig): Promise<RollUpResult> {
    const started = performance.now();
    const nowMs = now.getTime();
    const currentHour = floorTo(nowMs, HOUR_MS);
    const state = await this.models.HistoryMeta.collection.findOne<{ json: string }>({ _id: 'rollup' } as object);
    // The first run rolls every minute document there is.
    const rolledThrough = state ? (JSON.parse(state.json) as { rolledThrough: number }).rolledThrough : nowMs - history.minutesDays * DAY_MS;
    const firstHour = Math.max(rolledThrough - HOUR_MS, nowMs - history.minutesDays * DAY_MS, currentHour - 40 * DAY_MS);
    const servers = [...(await this.models.Server.find({}, { name: 1 }).lean()).map((s) => s.name)];
    let users = 0;
    /** Per day, the users whose figures this run rolled (only their own day documents change). */
    const touched = new Map<number, Set<string>>();
    let hours = 0;
    for (let h = floorTo(firstHour, HOUR_MS); h <= currentHour; h += HOUR_MS) {
      const seen = await this.rollHour(h, servers, history);
      users += seen.length;
      const day = floorTo(h, DAY_MS);
      touched.set(day, new Set([...(touched.get(day) ?? []), ...seen]));
      hours += 1;
    }
    for (const [day, seen] of touched) await this.rollDay(day, seen, history);
    await this.computeTops(nowMs);
    // An hour is final once the poller's last flush for it is surely in (a minute after it ended).
    const final = floorTo(nowMs - 2 * MINUTE_MS, HOUR_MS) - HOUR_MS;
    await this.models.HistoryMeta.collection.updateOne({ _id: 'rollup' } as object, { $set: { at: now, json: JSON.stringify({ rolledThrough: Math.max(final, rolledThrough) }) } }, { upsert: true });
    const deleted = await this.deleteExpired(now, history);
    return { hours, users, deleted, ms: Math.round(performance.now() - started) };
  }

  /** One hour: each server's and the fleet's hour sample, the fleet's minutes, and the users' hour. Returns the users seen (encoded). */
  private async rollHour(hourStart: number, servers: string[], history: HistoryConfig): Promise<string[]> {
    const docs = await this.models.HistoryMinutes.collection
      .find<{ _id: string; server: string; m?: Slots<MinuteSlot>; u?: Slots<UserFigures> }>({ _id: { $in: servers.map((s) => minutesId(s, hourStart)) } } as object).toArray();
    if (docs.length === 0) return [];
    const dayStart = floorTo(hourStart, DAY_MS);
    const hourOfDay = String((hourStart - dayStart) / HOUR_MS);
    const hoursExpire = new Date(dayStart + DAY_MS + history.hoursDays * DAY_MS);
    const fleet: Slots<MinuteSlot> = {};
    const userFigures: Slots<UserFigures> = {};
    const ops: object[] = [];
    for (const d of docs) {
      const slots = Object.entries(d.m ?? {});
      for (const [minute, [peak, r, s]] of slots) {
        const f = fleet[minute] ?? [0, 0, 0];
        fleet[minute] = [f[0] + peak, f[1] + r, f[2] + s];
      }
      if (slots.length) ops.push({ updateOne: { filter: { _id: hoursId(d.server, dayStart) }, update: { $set: { server: d.server, day: new Date(dayStart), expireAt: hoursExpire, [`h.${hourOfDay}`]: hourSlot(slots.map(([, v]) => v)) } }, upsert: true } });
      for (const [user, figures] of Object.entries(d.u ?? {})) userFigures[user] = addUserFigures(userFigures[user], [figures[0], figures[1], figures[2], figures[3], d.server]);
    }
    const fleetSlots = Object.values(fleet);
    if (fleetSlots.length) {
      ops.push({ updateOne: { filter: { _id: hoursId(FLEET, dayStart) }, update: { $set: { server: FLEET, day: new Date(dayStart), expireAt: hoursExpire, [`h.${hourOfDay}`]: hourSlot(fleetSlots) } }, upsert: true } });
    }
    if (ops.length) await this.models.HistoryHours.collection.bulkWrite(ops as never, { ordered: false });
    // The fleet's minutes as the sum of every server's (whoever polled them).
    if (fleetSlots.length) {
      await this.models.HistoryMinutes.collection.updateOne({ _id: minutesId(FLEET, hourStart) } as object, {
        $set: { server: FLEET, hour: new Date(hourStart), m: fleet, expireAt: new Date(hourStart + HOUR_MS + history.minutesDays * DAY_MS) },
      }, { upsert: true });
    }
    await this.models.HistoryUserHours.collection.updateOne({ _id: hourKey(hourStart) } as object, {
      $set: { hour: new Date(hourStart), u: userFigures, expireAt: new Date(hourStart + USER_HOURS_KEPT_MS) },
    }, { upsert: true });
    return Object.keys(userFigures);
  }

  /** One day's users: the fleet's day document, and the day of each user in `touched`, from the day's user hours. */
  private async rollDay(dayStart: number, touched: Set<string>, history: HistoryConfig): Promise<void> {
    const ids = Array.from({ length: 24 }, (_, i) => hourKey(dayStart + i * HOUR_MS));
    const hourDocs = await this.models.HistoryUserHours.collection.find<{ u?: Slots<UserFigures> }>({ _id: { $in: ids } } as object).toArray();
    if (hourDocs.length === 0) return;
    const day: Slots<UserFigures> = {};
    for (const d of hourDocs) for (const [user, figures] of Object.entries(d.u ?? {})) day[user] = addUserFigures(day[user], figures);
    const expireAt = new Date(dayStart + DAY_MS + history.hoursDays * DAY_MS);
    await this.models.HistoryDays.collection.updateOne({ _id: dayKey(dayStart) } as object, { $set: { day: new Date(dayStart), u: day, expireAt } }, { upsert: true });
    const ops = Object.entries(day).filter(([key]) => touched.has(key)).map(([key, [received, sent, seconds, sessions, ...servers]]) => {
      const user = decodeKey(key);
      return { updateOne: { filter: { _id: userDayId(user, dayStart) }, upsert: true, update: { $set: {
        user, day: new Date(dayStart), bytesReceived: received, bytesSent: sent, onlineSeconds: seconds, sessions, servers, expireAt,
      } } } };
    });
    for (let i = 0; i < ops.length; i += 5000) await this.models.HistoryUserDays.collection.bulkWrite(ops.slice(i, i + 5000) as never, { ordered: false });
  }

  /** The top lists of every range, by bytes and by time: the last 24 user hours, the last 7 or 30 days. */
  async computeTops(nowMs: number): Promise<void> {
    const currentHour = floorTo(nowMs, HOUR_MS);
    const hourIds = Array.from({ length: 24 }, (_, i) => hourKey(currentHour - (23 - i) * HOUR_MS));
    const today = floorTo(nowMs, DAY_MS);
    const dayIds = Array.from({ length: 30 }, (_, i) => dayKey(today - (29 - i) * DAY_MS));
    const hourDocs = await this.models.HistoryUserHours.collection.find<{ u?: Slots<UserFigures> }>({ _id: { $in: hourIds } } as object).toArray();
    const dayDocs = await this.models.HistoryDays.collection.find<{ _id: string; u?: Slots<UserFigures> }>({ _id: { $in: dayIds } } as object).toArray();
    const sum = (docs: { u?: Slots<UserFigures> }[]) => {
      const totals = new Map<string, UserFigures>();
      for (const d of docs) for (const [user, f] of Object.entries(d.u ?? {})) {
        const t = totals.get(user);
        totals.set(user, t ? [t[0] + f[0], t[1] + f[1], t[2] + f[2], t[3] + f[3]] : [f[0], f[1], f[2], f[3]]);
      }
      return totals;
    };
    const last7 = new Set(dayIds.slice(-7));
    const ranges: Record<TopRange, Map<string, UserFigures>> = {
      '24h': sum(hourDocs), '7d': sum(dayDocs.filter((d) => last7.has(d._id))), '30d': sum(dayDocs),
    };
    const at = new Date(nowMs);
    const ops = TOP_RANGES.flatMap((range) => (['bytes', 'time'] as const).map((by) => {
      const key = by === 'bytes' ? (f: UserFigures) => f[0] + f[1] : (f: UserFigures) => f[2];
      const users = [...ranges[range]].sort((a, b) => key(b[1]) - key(a[1]) || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_KEPT)
        .map(([user, f]): TopUser => ({ user: decodeKey(user), bytesReceived: f[0], bytesSent: f[1], onlineSeconds: f[2], sessions: f[3] }));
      return { updateOne: { filter: { _id: `top|${range}|${by}` }, update: { $set: { at, json: JSON.stringify(users) } }, upsert: true } };
    }));
    await this.models.HistoryMeta.collection.bulkWrite(ops as never, { ordered: false });
  }

  /**
   * Deletes what is past its retention: minutes after HISTORY_MINUTES_DAYS, hours and user days
   * after HISTORY_HOURS_DAYS, ended sessions, events and kicks after RETENTION_DAYS. By date
   * fields, so the offline engine scans: this job is the only caller, every few minutes.
   */
  async deleteExpired(now: Date, history: HistoryConfig): Promise<Record<string, number>> {
    const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const m = this.models;
    const raw = ago(history.retentionDays);
    const results = await Promise.all([
      m.HistoryMinutes.deleteMany({ expireAt: { $lte: now } }),
      m.HistoryHours.deleteMany({ expireAt: { $lte: now } }),
      m.HistoryUserHours.deleteMany({ expireAt: { $lte: now } }),
      m.HistoryDays.deleteMany({ expireAt: { $lte: now } }),
      m.HistoryUserDays.deleteMany({ expireAt: { $lte: now } }),
      // Expiry dates are set when a document is written: a shorter retention set since applies too.
      m.HistoryMinutes.deleteMany({ hour: { $lt: ago(history.minutesDays + 1 / 24) } }),
      m.HistoryHours.deleteMany({ day: { $lt: ago(history.hoursDays + 1) } }),
      m.HistoryUserDays.deleteMany({ day: { $lt: ago(history.hoursDays + 1) } }),
      m.HistoryDays.deleteMany({ day: { $lt: ago(history.hoursDays + 1) } }),
      m.Session.deleteMany({ disconnectedAt: { $ne: null, $lt: raw } }),
      m.Event.deleteMany({ at: { $lt: raw } }),
      m.Kick.deleteMany({ at: { $lt: raw } }),
    ]);
    const n = (i: number) => results[i]!.deletedCount;
    return {
      minutes: n(0) + n(5), hours: n(1) + n(6), userHours: n(2), days: n(3) + n(8), userDays: n(4) + n(7),
      sessions: n(9), events: n(10), kicks: n(11),
    };
  }

  /**
   * TTL indexes on the raw records for a real MongoDB (the job deletes them as well: the offline
   * engine accepts TTL indexes but never expires anything). The key patterns differ from the
   * query indexes in models.ts so both can exist; a changed RETENTION_DAYS is applied by collMod.
   */
  async ensureRetentionIndexes(history: HistoryConfig): Promise<void> {
    const seconds = history.retentionDays * 86_400;
    const wanted: { model: Models['Session'] | Models['Event'] | Models['Kick']; key: Record<string, 1 | -1> }[] = [
      { model: this.models.Session, key: { disconnectedAt: 1 } },
      { model: this.models.Event, key: { at: -1 } },
      { model: this.models.Kick, key: { at: 1 } },
    ];
    for (const { model, key } of wanted) {
      const name = `retention_${Object.keys(key)[0]}`;
      const existing = (await model.collection.indexes()).find((i) => i.name === name);
      if (existing?.expireAfterSeconds === seconds) continue;
      // An index's options cannot be changed in place on every engine: replace it.
      if (existing) await model.collection.dropIndex(name);
      await model.collection.createIndex(key, { expireAfterSeconds: seconds, name });
    }
  }
}

/** The event id of a notice: an ObjectId (as every event's) derived from the condition's id. */
function noticeEventId(id: string): mongoose.Types.ObjectId {
  return new mongoose.Types.ObjectId(createHash('sha256').update(`notice\n${id}`).digest().subarray(0, 12));
}

/** An hour's sample from its minute samples. */
function hourSlot(minutes: MinuteSlot[]): HourSlot {
  let peak = 0;
  let sum = 0;
  let received = 0;
  let sent = 0;
  for (const [p, r, s] of minutes) {
    peak = Math.max(peak, p);
    sum += p;
    received += r;
    sent += s;
  }
  return [peak, Math.round((sum / minutes.length) * 100) / 100, received, sent, minutes.length];
}
