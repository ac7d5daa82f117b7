// Turns each stored read into history: per server and minute the peak online count and the bytes
// moved, per server and hour each user's bytes, time online and sessions started. The values are
// kept in memory and written as whole values (`$set`) at most every FLUSH_MS and whenever a
// minute ends, so writes grow with servers and minutes, never with sessions, and a write repeated
// after a failure sets the same values again. A minute without a good read has no sample.
//
// Where the bytes of a read go: the diff counts them since the previous good read (`traffic`).
// When that was at most `maxSpanMs` ago (normal polling, a missed read or two) they belong to the
// read's minute. When it was longer ago (vpnwatch was stopped, or the server could not be read)
// nobody knows in which minute they moved: they stay out of the minute series (those minutes
// are gaps) and count only in the users' figures, in the hour of the read.
import { sessionKey, userName } from '../domain.ts';
import type { Logger } from '../log.ts';
import { encodeKey, floorTo, FLEET, HOUR_MS, MINUTE_MS, minutesId, type HistoryStore, type MinuteSlot, type UserFigures } from '../store/history.ts';
import type { LiveAlerts } from '../notify/alerts.ts';
import type { DiffResult, ServerBaseline } from './diff.ts';

/** Minute slots and user figures reach the store at least this often. */
export const FLUSH_MS = 15_000;

type Figures = [number, number, number, number];

interface Bucket {
  server: string;
  hourStart: number;
  minutes: Map<number, MinuteSlot>;
  users: Map<string, Figures>;
  dirtyMinutes: Set<number>;
  dirtyUsers: Set<string>;
  /** false until the stored values of this hour (from before a restart) are merged in. */
  seeded: boolean;
}

export interface HistoryRecorderDeps {
  history: Pick<HistoryStore, 'loadMinutes' | 'writeMinutes' | 'sumMinutes'>;
  /** The longest gap between good reads whose bytes are placed in the read's minute. */
  maxSpanMs: number;
  /** How long minute documents are kept (HISTORY_MINUTES_DAYS). */
  minutesRetainMs: number;
  log: Logger;
  /** Alerts that follow the reads (online drops, shared accounts): observed here, stored at each flush. */
  alerts?: LiveAlerts;
  /**
   * Every server of the fleet (with replicas, other processes poll some of them): when set, the
   * fleet's minutes are summed from every server's stored minutes after this process's are written,
   * not from the servers this process holds in memory.
   */
  fleetServers?: () => string[];
}

export class HistoryRecorder {
  private readonly buckets = new Map<string, Bucket>();
  private lastFlushAt = 0;
  private latestReadAt: string | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: HistoryRecorderDeps) {}

  private bucket(server: string, at: number): Bucket {
    const hourStart = floorTo(at, HOUR_MS);
    const id = minutesId(server, hourStart);
    let b = this.buckets.get(id);
    if (!b) {
      b = { server, hourStart, minutes: new Map(), users: new Map(), dirtyMinutes: new Set(), dirtyUsers: new Set(), seeded: false };
      this.buckets.set(id, b);
    }
    return b;
  }

  /** One stored read of `server`: `prev` is the baseline it was diffed against. Rejected reads add nothing. */
  record(server: string, prev: ServerBaseline, diff: DiffResult, readAt: string): void {
    if (diff.rejected || !diff.affectsServer) return;
    this.deps.alerts?.observe(server, prev, diff, readAt);
    this.latestReadAt = readAt;
    const at = Date.parse(readAt);
    const online = diff.baseline.sessions ?? {};
    const b = this.bucket(server, at);
    const minute = Math.floor((at - b.hourStart) / MINUTE_MS);
    const since = diff.traffic.since === null ? null : Date.parse(diff.traffic.since);
    const placed = since !== null && at - since <= this.deps.maxSpanMs;
    const slot = b.minutes.get(minute) ?? [0, 0, 0];
    b.minutes.set(minute, [Math.max(slot[0], Object.keys(online).length), slot[1] + (placed ? diff.traffic.received : 0), slot[2] + (placed ? diff.traffic.sent : 0)]);
    b.dirtyMinutes.add(minute);

    // Each user's part: the same rule as the diff's traffic (growth of a continuing instance, the
    // whole counters of one that started), plus time online since the previous good read.
    const started = new Set(diff.started.map(sessionKey));
    const firstRead = prev.sessions === null;
    for (const [key, s] of Object.entries(online)) {
      const user = encodeKey(userName(s));
      const before = prev.sessions?.[key];
      const figures = b.users.get(user) ?? [0, 0, 0, 0];
      if (firstRead) {
        // Nothing to compare with: the session is seen, its past is not counted.
        figures[3] += 1;
      } else if (before && !started.has(key)) {
        figures[0] += Math.max(0, s.bytesReceived - before.bytesReceived);
        figures[1] += Math.max(0, s.bytesSent - before.bytesSent);
        figures[2] += since === null ? 0 : (at - since) / 1000;
      } else {
        figures[0] += s.bytesReceived;
        figures[1] += s.bytesSent;
        figures[2] += Math.max(0, at - Math.max(Date.parse(s.connectedAt), since ?? at)) / 1000;
        figures[3] += 1;
      }
      b.users.set(user, figures);
      b.dirtyUsers.add(user);
    }
  }

  /** Flushes when a minute has ended since the last flush, or FLUSH_MS passed (read time). */
  maybeFlush(readAt: string): void {
    const at = Date.parse(readAt);
    if (floorTo(at, MINUTE_MS) === floorTo(this.lastFlushAt, MINUTE_MS) && at - this.lastFlushAt < FLUSH_MS) return;
    this.lastFlushAt = at;
    void this.flush().catch((err: unknown) => this.deps.log.warn({ err }, 'history: could not write the minute samples; the next flush retries'));
  }

  /** Writes every changed minute and user figure (one flush at a time). Rejects when the write failed. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushNow());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** With replicas: the fleet's touched minutes as the sum of every server's stored minutes (whoever wrote them). */
  private async writeFleetFromStore(writes: { hourStart: number; minutes: Record<string, MinuteSlot> }[], servers: string[]): Promise<void> {
    const touched = new Map<number, Set<string>>();
    for (const w of writes) for (const m of Object.keys(w.minutes)) touched.set(w.hourStart, (touched.get(w.hourStart) ?? new Set()).add(m));
    const fleetWrites = [];
    for (const [hourStart, minutes] of touched) {
      fleetWrites.push({ server: FLEET, hourStart, minutes: await this.deps.history.sumMinutes(servers, hourStart, [...minutes]), users: {} });
    }
    if (fleetWrites.length) await this.deps.history.writeMinutes(fleetWrites, this.deps.minutesRetainMs);
  }

  /**
   * Servers this process no longer polls (their leases went to other replicas): what it has of
   * them is written, then dropped, so the new holder continues their hours from the store and a
   * later return here starts from the store again, not from stale totals.
   */
  async forget(servers: string[]): Promise<void> {
    await this.flush().catch((err: unknown) => this.deps.log.warn({ err }, 'history: could not write the samples of servers handed over'));
    for (const [id, b] of this.buckets) if (servers.includes(b.server)) this.buckets.delete(id);
  }

  private async flushNow(): Promise<void> {
    // Alerts have their own retry (what is due stays due): they must not hold up the samples.
    if (this.latestReadAt) await this.deps.alerts?.flush(this.latestReadAt).catch((err: unknown) => this.deps.log.warn({ err }, 'alerts: could not store the notices; the next flush retries'));
    const dirty = [...this.buckets.values()].filter((b) => b.dirtyMinutes.size || b.dirtyUsers.size);
    if (dirty.length === 0) return;
    const unseeded = dirty.filter((b) => !b.seeded);
    if (unseeded.length) {
      const stored = await this.deps.history.loadMinutes(unseeded.map((b) => minutesId(b.server, b.hourStart)));
      for (const b of unseeded) {
        const doc = stored.get(minutesId(b.server, b.hourStart));
        for (const [minute, [peak, r, s]] of Object.entries(doc?.m ?? {})) {
          const mine = b.minutes.get(Number(minute));
          b.minutes.set(Number(minute), mine ? [Math.max(mine[0], peak), mine[1] + r, mine[2] + s] : [peak, r, s]);
        }
        for (const [user, f] of Object.entries(doc?.u ?? {})) {
          const mine = b.users.get(user);
          b.users.set(user, mine ? [mine[0] + f[0], mine[1] + f[1], mine[2] + f[2], mine[3] + f[3]] : [f[0], f[1], f[2], f[3]]);
        }
        b.seeded = true;
      }
    }
    // Taken now: values recorded while the write is under way stay dirty for the next flush.
    const writes = dirty.map((b) => {
      const w = {
        server: b.server, hourStart: b.hourStart,
        minutes: Object.fromEntries([...b.dirtyMinutes].map((m) => [String(m), [...b.minutes.get(m)!] as MinuteSlot])),
        users: Object.fromEntries([...b.dirtyUsers].map((u) => [u, [...b.users.get(u)!] as UserFigures])),
      };
      b.dirtyMinutes.clear();
      b.dirtyUsers.clear();
      return w;
    });
    // The fleet's minutes: the sum over the servers this process has in memory for that minute
    // (the history job recomputes them from every server's documents).
    const fleet = new Map<number, Record<string, MinuteSlot>>();
    if (!this.deps.fleetServers) {
      for (const w of writes) {
        for (const minute of Object.keys(w.minutes)) {
          let sum: MinuteSlot = [0, 0, 0];
          for (const b of this.buckets.values()) {
            const slot = b.hourStart === w.hourStart ? b.minutes.get(Number(minute)) : undefined;
            if (slot) sum = [sum[0] + slot[0], sum[1] + slot[1], sum[2] + slot[2]];
          }
          fleet.set(w.hourStart, { ...fleet.get(w.hourStart), [minute]: sum });
        }
      }
    }
    const fleetWrites = [...fleet].map(([hourStart, minutes]) => ({ server: FLEET, hourStart, minutes, users: {} }));
    try {
      await this.deps.history.writeMinutes([...writes, ...fleetWrites], this.deps.minutesRetainMs);
    } catch (err) {
      // Dirty again: the next flush writes the (by then larger) values.
      for (const w of writes) {
        const b = this.buckets.get(minutesId(w.server, w.hourStart));
        for (const m of Object.keys(w.minutes)) b?.dirtyMinutes.add(Number(m));
        for (const u of Object.keys(w.users)) b?.dirtyUsers.add(u);
      }
      throw err;
    }
    if (this.deps.fleetServers) await this.writeFleetFromStore(writes, this.deps.fleetServers());
    // Hours before the previous one are complete: drop them from memory once written.
    const newest = Math.max(...[...this.buckets.values()].map((b) => b.hourStart));
    for (const [id, b] of this.buckets) {
      if (b.hourStart < newest - HOUR_MS && !b.dirtyMinutes.size && !b.dirtyUsers.size) this.buckets.delete(id);
    }
  }
}
