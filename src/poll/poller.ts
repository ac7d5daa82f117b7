// The main thread's half of polling: takes the reads a worker (or the management stream) produced,
// diffs each against its server's baseline, stores the cycle, and tells the notifier and the page.
// Baselines live in memory and in MongoDB; memory is only advanced once the store has the cycle,
// so a failed write is retried by the next read instead of losing its events.
//
// The poller keeps order (reads apply one batch at a time, in arrival order) and state (baselines,
// sessions marked leaving or kicked, which servers have had their first read since the start);
// every rule that turns a read into events is in the diff (src/poll/diff.ts) and its table.
import { sessionKey, userName, type ServerConfig, type ServerRead, type SourceName, type SourceState, type VpnEvent, type VpnSession } from '../domain.ts';
import { diffSnapshots, emptyBaseline, nextSourceState, staleAfterMs, type DiffResult, type LeavingMark, type ServerBaseline } from './diff.ts';
import type { HistoryRecorder } from './history-recorder.ts';
import { liveUpdateOf, type LiveFeed } from './live-feed.ts';
import { errorMessage, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { sessionDocId, type CycleWriteStats, type ServerCycle } from '../store/cycle-writes.ts';
import type { Store } from '../store/store.ts';

/** Distinct parser warnings logged per server before it stays quiet (a process's lifetime). */
const WARNINGS_REMEMBERED = 100;

/** Byte counters of an unchanged online list reach the store at least this often. */
const COUNTER_FLUSH_MS = 30_000;

export interface ServerCycleReport {
  server: string;
  ok: boolean;
  /** Why the read was not used, when it was not. */
  error: string | null;
  online: number;
  events: VpnEvent[];
}

export interface CycleReport {
  servers: ServerCycleReport[];
  writes: CycleWriteStats;
}

export interface PollerDeps {
  /** The poller writes cycles and reads baselines, nothing else. */
  store: Pick<Store, 'cycles'>;
  servers: ServerConfig[];
  pollIntervalSeconds: number;
  downAfter: number;
  /** Where a server's events are to be delivered (notifier.noticeTargets). */
  targets: (server: string) => string[];
  log: Logger;
  metrics?: Metrics;
  live?: LiveFeed;
  /**
   * Announce what the first read of each server finds against the stored baseline. A service
   * starting up does not (no flood); `vpnwatch poll` does: it was asked to find changes.
   */
  announceFirstRead?: boolean;
  /** How much is held in memory while the database takes no writes (default: HOLD_LIMIT). */
  holdLimit?: { events: number; batches: number };
  /** Samples every applied read into history (online per minute, traffic, users' figures). */
  history?: HistoryRecorder;
}

export class Poller {
  private baselines = new Map<string, ServerBaseline>();
  /** The store revision each baseline corresponds to (see Store.revisions). */
  private revisions = new Map<string, number>();
  /** Session document ids of the online sessions, by server and session key. */
  private sessionIds = new Map<string, Map<string, string>>();
  /** When each server's online list (with its byte counters) was last written to the store. */
  private readonly onlineWrittenAt = new Map<string, number>();
  /** Online sessions per user across all servers (users with none are absent). */
  private userSessions = new Map<string, number>();
  /**
   * Sessions known to be ending though OpenVPN still lists them: a UDP client that sent its exit
   * notice, or one we kicked, stays in the status for ~5 s ("Delayed exit in 5 seconds"). By
   * server, then session key; each mark expires.
   */
  private readonly leaving = new Map<string, Map<string, LeavingMark & { until: number }>>();
  /** The state of each source of each server, as last stored. */
  private readonly sourceStates = new Map<string, Partial<Record<SourceName, SourceState>>>();
  /** Parser warnings already logged, by server (see logWarnings). */
  private readonly warned = new Map<string, Set<string>>();
  /** Servers whose first good read since this process started is still to come. */
  private readonly quiet = new Set<string>();
  /** Keys of sessions ended by a kick, by server, until a read sees them end. */
  private readonly kicked = new Map<string, Set<string>>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Diffed batches not yet written (writes failed), oldest first: written in order by flush(). */
  private held: HeldBatch[] = [];
  /** What each held cycle changed from, for the page's live update once it is written. */
  private readonly changedFrom = new WeakMap<ServerCycle, { before: ServerBaseline; sourceChanged: boolean }>();
  private readonly byName: Map<string, ServerConfig>;
  /**
   * The servers this process works on: every configured one after start(); with replicas, those
   * whose leases it holds (adopt, forget). Reads of any other server are dropped.
   */
  private readonly working = new Set<string>();

  constructor(private readonly deps: PollerDeps) {
    this.byName = new Map(deps.servers.map((s) => [s.name, s]));
    if (!deps.announceFirstRead) for (const s of deps.servers) this.quiet.add(s.name);
  }

  /** Loads the stored baselines: a restart compares against the last good read, not against nothing. */
  async start(): Promise<void> {
    for (const s of this.deps.servers) this.working.add(s.name);
    await this.reload();
  }

  /**
   * Starts work on servers whose leases this replica took: loads their stored baselines, so the
   * first read compares against the last one any replica stored (no false disconnect). With
   * `handover`, the replica that handed it over read it until a moment ago and the first read
   * here simply continues; otherwise (it stopped or died, or nobody held it) that read is a start
   * for the server, as after a restart (the diff's firstSinceStart). After the batch in progress.
   */
  adopt(servers: { name: string; handover: boolean }[]): Promise<void> {
    const run = this.queue.then(async () => {
      const names = servers.map((s) => s.name).filter((n) => this.byName.has(n));
      await this.reload(names);
      for (const { name, handover } of servers) {
        if (!this.byName.has(name)) continue;
        this.working.add(name);
        if (handover || this.deps.announceFirstRead) this.quiet.delete(name);
        else this.quiet.add(name);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Ends work on servers whose leases went to another replica, after the batch in progress (so
   * the next holder loads what this one stored): their online lists are written with the latest
   * byte counters (batched until now), then their state is dropped here; changes held for them
   * (the database was away) are still written, in order.
   */
  forget(names: string[]): Promise<void> {
    const run = this.queue.then(async () => {
      for (const name of names) {
        const sessions = this.baselines.get(name)?.sessions;
        const revision = this.revisions.get(name);
        if (!sessions || revision === undefined || this.held.length) continue;
        await this.deps.store.cycles.writeOnlineList(name, sessions, this.sessionIds.get(name) ?? new Map(), revision)
          .catch((err: unknown) => this.deps.log.warn({ err, server: name }, `${name}: could not store its latest byte counters before handing it over; the next holder may count up to ${COUNTER_FLUSH_MS / 1000} s of its traffic again`));
      }
      for (const name of names) {
        this.working.delete(name);
        for (const map of [this.baselines, this.revisions, this.sessionIds, this.onlineWrittenAt, this.leaving, this.sourceStates, this.kicked]) map.delete(name);
        this.quiet.delete(name);
      }
      this.countUsers();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reload(names?: string[]): Promise<void> {
    const loaded = await this.deps.store.cycles.loadBaselines(names);
    for (const [name, { revision, ids, sources, ...baseline }] of loaded) {
      this.baselines.set(name, baseline);
      this.revisions.set(name, revision);
      this.sessionIds.set(name, ids);
      this.sourceStates.set(name, sources);
    }
    this.countUsers();
  }

  /** Online sessions per user over the baselines loaded here. */
  private countUsers(): void {
    this.userSessions.clear();
    for (const b of this.baselines.values()) {
      for (const s of Object.values(b.sessions ?? {})) this.userSessions.set(userName(s), (this.userSessions.get(userName(s)) ?? 0) + 1);
    }
  }

  /** The current online sessions of a server as the poller knows them. */
  online(server: string): VpnSession[] {
    return Object.values(this.baselines.get(server)?.sessions ?? {});
  }

  /**
   * The online list is written when someone came or went, and otherwise at most every
   * COUNTER_FLUSH_MS: byte counters are batched (a management stream reads every 2 s).
   */
  private mustWriteOnline(server: string, prev: ServerBaseline, diff: DiffResult): boolean {
    if (diff.rejected) return false;
    if (prev.sessions === null || diff.started.length > 0 || diff.ended.length > 0) return true;
    return Date.now() - (this.onlineWrittenAt.get(server) ?? 0) >= COUNTER_FLUSH_MS;
  }

  /** Ids of the sessions that ended, and of every session online after this diff (new ones get new ids). */
  private nextSessionIds(server: string, diff: DiffResult): ServerCycle['sessionIds'] {
    const previous = this.sessionIds.get(server) ?? new Map<string, string>();
    if (diff.rejected) return { ended: new Map(), current: previous };
    const ended = new Map<string, string>();
    for (const s of diff.ended) {
      const id = previous.get(sessionKey(s));
      if (id) ended.set(sessionKey(s), id);
    }
    const startedKeys = new Set(diff.started.map(sessionKey));
    const current = new Map<string, string>();
    for (const [key, session] of Object.entries(diff.baseline.sessions ?? {})) {
      current.set(key, (!startedKeys.has(key) && previous.get(key)) || sessionDocId(server, session));
    }
    return { ended, current };
  }

  noteKicked(server: string, sessions: VpnSession[]): void {
    const keys = this.kicked.get(server) ?? new Set<string>();
    for (const s of sessions) {
      keys.add(sessionKey(s));
      this.noteLeaving(server, s);
    }
    this.kicked.set(server, keys);
  }

  /**
   * Marks an online session as leaving: reads in the next `ttlMs` do not count it as online even
   * while OpenVPN still lists it. False when no such session is online (nothing to mark).
   */
  noteLeaving(server: string, who: Pick<VpnSession, 'commonName' | 'realAddress' | 'realPort'>, ttlMs = 30_000): boolean {
    const key = sessionKey(who);
    const current = this.baselines.get(server)?.sessions?.[key];
    if (!current) return false;
    const marks = this.leaving.get(server) ?? new Map<string, LeavingMark & { until: number }>();
    marks.set(key, { clientId: current.clientId, until: Date.now() + ttlMs });
    this.leaving.set(server, marks);
    return true;
  }

  /**
   * The parser's warnings (an ambiguous local time, a duplicate name without a port, an address
   * kept as written), each logged once per server: a file rewritten every few seconds repeats them.
   */
  private logWarnings(server: string, warnings: string[]): void {
    if (warnings.length === 0) return;
    const seen = this.warned.get(server) ?? new Set<string>();
    for (const w of warnings) {
      if (seen.has(w) || seen.size >= WARNINGS_REMEMBERED) continue;
      seen.add(w);
      this.deps.log.warn({ server }, `${server}: ${w}`);
    }
    this.warned.set(server, seen);
  }

  /** One log line per change of a source's state (not one per failed read). */
  private logSourceChange(read: ServerRead, prev: SourceState | undefined, next: SourceState): void {
    const what = read.source === 'management' ? 'management interface' : 'status file';
    const fields = { server: read.server, source: read.source, result: next.result };
    if (next.result !== 'ok') this.deps.log.warn(fields, `${read.server}: ${what}: ${next.error}`);
    else if (prev) this.deps.log.info(fields, `${read.server}: ${what} is read again (was ${prev.result} since ${prev.since?.toISOString() ?? '?'})`);
  }

  /** The unexpired leaving marks of a server. */
  private leavingMarks(server: string): ReadonlyMap<string, LeavingMark> | undefined {
    const marks = this.leaving.get(server);
    if (!marks?.size) return undefined;
    const now = Date.now();
    for (const [key, mark] of marks) if (mark.until < now) marks.delete(key);
    return marks;
  }

  /** Diffs and stores one batch of reads. Calls are serialised: reads apply in arrival order. */
  apply(reads: ServerRead[]): Promise<CycleReport> {
    const run = this.queue.then(() => this.applyNow(reads));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Batches diffed but not yet written (the database is unreachable), oldest first. */
  get heldBatches(): number {
    return this.held.length;
  }

  /**
   * For a stop: waits for the batch being written, then tries once to write what is held. What
   * cannot be written is found again by the next start (it diffs against the stored baseline).
   */
  async drain(): Promise<void> {
    await this.queue;
    if (this.held.length) await this.flushHeld().catch((err: unknown) => this.deps.log.warn({ err }, 'stopping with changes the database did not take; the next start finds them again'));
  }

  /** Writes what is held, if anything (the database came back). Serialised with apply(). */
  flushHeld(): Promise<number> {
    const run = this.queue.then(() => this.flush());
    this.queue = run.catch(() => undefined);
    return run.then((written) => written.length);
  }

  private async applyNow(reads: ServerRead[]): Promise<CycleReport> {
    const limit = this.deps.holdLimit ?? HOLD_LIMIT;
    if (this.heldEvents() >= limit.events || this.held.length >= limit.batches) {
      // Full: stop diffing, so the baselines stay where the held changes end; once they are
      // written, the next read finds everything since (stamped with that read's time).
      await this.flush();
    }
    const cycles = await this.diffReads(reads);
    if (cycles.length === 0) return { servers: [], writes: { operations: 0, bulkWrites: 0 } };
    const written = await this.flush();
    return {
      writes: written.reduce((sum, w) => ({ operations: sum.operations + w.operations, bulkWrites: sum.bulkWrites + w.bulkWrites }), { operations: 0, bulkWrites: 0 }),
      servers: cycles.map((c) => ({
        server: c.server,
        ok: c.diff.verdict.result === 'ok',
        error: c.diff.verdict.message,
        online: Object.keys(c.diff.baseline.sessions ?? {}).length,
        events: c.diff.events,
      })),
    };
  }

  /**
   * Diffs the reads against the baselines and advances them in memory; the cycles are held until
   * flush() has written them. Memory runs ahead of the store only while writes fail.
   */
  private async diffReads(reads: ServerRead[]): Promise<ServerCycle[]> {
    const { store, metrics } = this.deps;
    // Another process (`vpnwatch poll` run beside `start`) may have stored newer reads: catch up,
    // except for servers whose changes are held here (memory is ahead of the store on purpose),
    // and not at all while the store cannot be asked.
    // A read of a server whose lease went elsewhere while it was read: the new holder reads it.
    reads = reads.filter((r) => this.working.has(r.server));
    const heldServers = new Set(this.held.flatMap((b) => b.cycles.map((c) => c.server)));
    const names = reads.map((r) => r.server).filter((n) => !heldServers.has(n));
    const stored = names.length ? await store.cycles.revisions(names).catch(() => null) : null;
    const behind = stored ? names.filter((n) => (stored.get(n) ?? 0) !== (this.revisions.get(n) ?? 0)) : [];
    if (behind.length) await this.reload(behind);

    const cycles: ServerCycle[] = [];
    for (const read of reads) {
      const server = this.byName.get(read.server);
      if (!server) continue; // removed from the config since the read started
      const prev = this.baselines.get(read.server) ?? emptyBaseline();
      const diff = diffSnapshots(prev, read, {
        downAfter: this.deps.downAfter,
        staleAfterMs: staleAfterMs(server.statusRefreshSeconds, this.deps.pollIntervalSeconds),
        firstSinceStart: this.quiet.has(read.server),
        leaving: this.leavingMarks(read.server),
        kicked: this.kicked.get(read.server),
      });
      metrics?.pollDuration.observe({ server: read.server, source: read.source }, read.durationMs / 1000);
      // Traffic as counters that only go up: the diff's bytes since the last good read, counted once
      // (a read is diffed once; a write that fails is held and written later, not diffed again).
      metrics?.trafficReceived.inc({ server: read.server }, diff.traffic.received);
      metrics?.trafficSent.inc({ server: read.server }, diff.traffic.sent);
      if (diff.rejected?.reason === 'superseded') metrics?.readsSuperseded.inc({ server: read.server, source: read.source });
      if (diff.verdict.result !== 'ok') metrics?.pollFailures.inc({ server: read.server, reason: diff.verdict.result });
      if (read.ok) this.logWarnings(read.server, read.snapshot.warnings);
      const prevSource = this.sourceStates.get(read.server)?.[read.source];
      const sourceState = nextSourceState(prevSource, diff.verdict, read.readAt);
      if (prevSource?.result !== sourceState.result) this.logSourceChange(read, prevSource, sourceState);
      // A read that changes nothing about the server is stored only for its source, and only when
      // that source's state changed or was last written a while ago (the file lags the stream
      // on every read).
      if (!diff.affectsServer && prevSource?.result === sourceState.result
        && Date.parse(read.readAt) - (prevSource.lastReadAt?.getTime() ?? 0) < COUNTER_FLUSH_MS) continue;
      const cycle: ServerCycle = {
        server: read.server, host: server.host, read, diff, sourceState,
        // One read of one server (its source and time tell it from any other): the notifier groups by it.
        cycle: `${read.server}:${read.source}:${read.readAt}`,
        targets: this.deps.targets(read.server),
        sessionIds: this.nextSessionIds(read.server, diff),
        writeOnline: this.mustWriteOnline(read.server, prev, diff),
      };
      cycles.push(cycle);
      this.changedFrom.set(cycle, { before: prev, sourceChanged: prevSource?.result !== sourceState.result || (prevSource?.error ?? null) !== sourceState.error });
      // History has its own writes (and retries): it follows memory, as the baselines do.
      this.deps.history?.record(read.server, prev, diff, read.readAt);
      this.sourceStates.set(read.server, { ...this.sourceStates.get(read.server), [read.source]: sourceState });
      if (!diff.affectsServer) continue;
      this.baselines.set(read.server, diff.baseline);
      if (!diff.rejected) {
        this.sessionIds.set(read.server, cycle.sessionIds.current);
        this.quiet.delete(read.server);
      }
      for (const s of diff.ended) this.kicked.get(read.server)?.delete(sessionKey(s));
      // The online list is as good as written once held: held batches are written in order.
      if (cycle.writeOnline) this.onlineWrittenAt.set(read.server, Date.now());
    }
    if (cycles.length === 0) return cycles;
    this.deps.history?.maybeFlush(cycles.at(-1)!.read.readAt);

    // Who is online anywhere after this cycle, for the users these changes touch: their session
    // counts plus this cycle's changes (counting, not rescanning every server's sessions).
    const delta = new Map<string, number>();
    for (const c of cycles) {
      for (const s of c.diff.ended) delta.set(userName(s), (delta.get(userName(s)) ?? 0) - 1);
      for (const s of c.diff.started) delta.set(userName(s), (delta.get(userName(s)) ?? 0) + 1);
    }
    const usersOnline = new Map<string, boolean>();
    for (const [name, d] of delta) {
      const n = (this.userSessions.get(name) ?? 0) + d;
      usersOnline.set(name, n > 0);
      if (n > 0) this.userSessions.set(name, n); else this.userSessions.delete(name);
    }
    this.hold({ cycles, usersOnline, events: cycles.reduce((n, c) => n + c.diff.events.length, 0) });
    return cycles;
  }

  /**
   * Holds a batch until it is written. A batch that only refreshes server state (no session came
   * or went) replaces the state of the same servers in a held batch of the same kind just before
   * it: the newest state is what gets written, so a long outage holds changes, not every read.
   */
  private hold(batch: HeldBatch): void {
    const stateOnly = (b: HeldBatch) => b.usersOnline.size === 0 && b.events === 0;
    const last = this.held.at(-1);
    if (last && stateOnly(last) && stateOnly(batch)) {
      const slot = (c: ServerCycle) => `${c.server}\n${c.read.source}`;
      const replaced = new Set(batch.cycles.map(slot));
      const kept = last.cycles.filter((c) => !replaced.has(slot(c)));
      // If any replaced cycle was to write the online list, the newest one must write it.
      const listDue = new Set(last.cycles.filter((c) => replaced.has(slot(c)) && c.writeOnline).map((c) => c.server));
      for (const c of batch.cycles) if (listDue.has(c.server) && c.diff.affectsServer && !c.diff.rejected) c.writeOnline = true;
      last.cycles = [...kept, ...batch.cycles];
      return;
    }
    this.held.push(batch);
  }

  private heldEvents(): number {
    return this.held.reduce((n, b) => n + b.events, 0);
  }

  /** Writes the held batches in order; returns their write stats. Throws (keeping the rest held) when a write fails. */
  private async flush(): Promise<CycleWriteStats[]> {
    const { store, log } = this.deps;
    const written: CycleWriteStats[] = [];
    while (this.held.length) {
      const batch = this.held[0]!;
      let stats: CycleWriteStats;
      try {
        stats = await store.cycles.applyCycle(batch.cycles, batch.usersOnline);
      } catch (err) {
        throw new HeldError(this.held.length, this.heldEvents(), err);
      }
      this.held.shift();
      written.push(stats);
      this.deps.metrics?.pollWrites.inc(stats.operations);
      for (const c of batch.cycles) if (c.diff.affectsServer) this.revisions.set(c.server, (this.revisions.get(c.server) ?? 0) + 1);
      const events = batch.cycles.flatMap((c) => c.diff.events);
      // A session's connect or disconnect is stored, announced (to the log when no chat is set up)
      // and in /api/events: at info it would also be a log line each (~150 MB a day at 2 % churn of
      // 20,000 sessions every 30 s). A server's own events (down, up) are what an operator reads.
      for (const e of events) log[e.session ? 'debug' : 'info']({ server: e.server, user: e.session ? userName(e.session) : undefined }, `event ${e.type}`);
      // The page hears only of what it shows: someone came or went, health, the periodic counter write.
      const update = liveUpdateOf(batch.cycles.map((c) => ({
        server: c.server, diff: c.diff, ...(this.changedFrom.get(c) ?? { before: c.diff.baseline, sourceChanged: false }),
        onlineWritten: c.writeOnline !== false && c.diff.affectsServer && !c.diff.rejected,
      })), new Date().toISOString());
      if (update) this.deps.live?.publish(update);
    }
    return written;
  }
}

interface HeldBatch {
  cycles: ServerCycle[];
  usersOnline: Map<string, boolean>;
  events: number;
}

/**
 * Changes held in memory while the database does not take writes, at most: past that the poller
 * stops diffing (the baselines stay where the held changes end) and the next read after the
 * database returns finds everything since, stamped with that read's time. ~20,000 events is about
 * 20 MB; a fleet of 200 servers at 2 % churn makes that in about ten minutes.
 */
const HOLD_LIMIT = { events: 20_000, batches: 5_000 };

/** A write failed; the batch and those after it are held and written, in order, by a later flush. */
export class HeldError extends Error {
  override readonly name = 'HeldError';
  constructor(readonly batches: number, readonly events: number, cause: unknown) {
    super(`the database did not take the poll's writes (${errorMessage(cause)}); ${batches} batch(es) with ${events} event(s) are held and will be written when it does`, { cause });
  }
}
