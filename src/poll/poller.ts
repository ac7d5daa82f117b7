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
import type { LiveFeed } from './live-feed.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { sessionDocId, type CycleWriteStats, type ServerCycle } from '../store/cycle-writes.ts';
import type { Store } from '../store/store.ts';

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
  /** Samples every stored read into history (online per minute, traffic, users' figures). */
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
  /** Servers whose first good read since this process started is still to come. */
  private readonly quiet = new Set<string>();
  /** Keys of sessions ended by a kick, by server, until a read sees them end. */
  private readonly kicked = new Map<string, Set<string>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly byName: Map<string, ServerConfig>;

  constructor(private readonly deps: PollerDeps) {
    this.byName = new Map(deps.servers.map((s) => [s.name, s]));
    if (!deps.announceFirstRead) for (const s of deps.servers) this.quiet.add(s.name);
  }

  /** Loads the stored baselines: a restart compares against the last good read, not against nothing. */
  async start(): Promise<void> {
    await this.reload();
  }

  private async reload(names?: string[]): Promise<void> {
    const loaded = await this.deps.store.cycles.loadBaselines(names);
    for (const [name, { revision, ids, sources, ...baseline }] of loaded) {
      this.baselines.set(name, baseline);
      this.revisions.set(name, revision);
      this.sessionIds.set(name, ids);
      this.sourceStates.set(name, sources);
    }
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

  private async applyNow(reads: ServerRead[]): Promise<CycleReport> {
    const { store, log, metrics } = this.deps;
    // Another process (`vpnwatch poll` run beside `start`) may have stored newer reads: catch up.
    const names = reads.map((r) => r.server);
    const stored = await store.cycles.revisions(names);
    const behind = names.filter((n) => (stored.get(n) ?? 0) !== (this.revisions.get(n) ?? 0));
    if (behind.length) await this.reload(behind);
    const cycles: ServerCycle[] = [];
    const next = new Map<string, ServerBaseline>();
    /** The baseline each cycle was diffed against (history counts users' bytes from it). */
    const diffedAgainst = new Map<ServerCycle, ServerBaseline>();
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
      if (diff.rejected?.reason === 'superseded') metrics?.readsSuperseded.inc({ server: read.server, source: read.source });
      if (diff.verdict.result !== 'ok') metrics?.pollFailures.inc({ server: read.server, reason: diff.verdict.result });
      const prevSource = this.sourceStates.get(read.server)?.[read.source];
      const sourceState = nextSourceState(prevSource, diff.verdict, read.readAt);
      if (prevSource?.result !== sourceState.result) this.logSourceChange(read, prevSource, sourceState);
      // A read that changes nothing about the server is stored only for its source, and only when
      // that source's state changed or was last written a while ago (the file lags the stream
      // on every read).
      if (!diff.affectsServer && prevSource?.result === sourceState.result
        && Date.parse(read.readAt) - (prevSource.lastReadAt?.getTime() ?? 0) < COUNTER_FLUSH_MS) continue;
      if (diff.affectsServer) next.set(read.server, diff.baseline);
      const cycle: ServerCycle = {
        server: read.server, host: server.host, read, diff, sourceState,
        // One read of one server (its source and time tell it from any other): the notifier groups by it.
        cycle: `${read.server}:${read.source}:${read.readAt}`,
        targets: this.deps.targets(read.server),
        sessionIds: this.nextSessionIds(read.server, diff),
        writeOnline: this.mustWriteOnline(read.server, prev, diff),
      };
      cycles.push(cycle);
      diffedAgainst.set(cycle, prev);
    }
    if (cycles.length === 0) return { servers: [], writes: { operations: 0, bulkWrites: 0 } };

    // Who is online anywhere after this cycle, for the users these changes touch: their session
    // counts plus this cycle's changes (counting, not rescanning every server's sessions).
    const delta = new Map<string, number>();
    for (const c of cycles) {
      for (const s of c.diff.ended) delta.set(userName(s), (delta.get(userName(s)) ?? 0) - 1);
      for (const s of c.diff.started) delta.set(userName(s), (delta.get(userName(s)) ?? 0) + 1);
    }
    const usersOnline = new Map([...delta].map(([name, d]) => [name, (this.userSessions.get(name) ?? 0) + d > 0]));

    const writes = await store.cycles.applyCycle(cycles, usersOnline);
    for (const [name, d] of delta) {
      const n = (this.userSessions.get(name) ?? 0) + d;
      if (n > 0) this.userSessions.set(name, n); else this.userSessions.delete(name);
    }
    for (const [name, baseline] of next) this.baselines.set(name, baseline);
    for (const c of cycles) {
      this.sourceStates.set(c.server, { ...this.sourceStates.get(c.server), [c.read.source]: c.sourceState });
      if (!c.diff.affectsServer) continue;
      this.revisions.set(c.server, (this.revisions.get(c.server) ?? 0) + 1);
      if (!c.diff.rejected) this.sessionIds.set(c.server, c.sessionIds.current);
      if (c.writeOnline) this.onlineWrittenAt.set(c.server, Date.now());
    }
    for (const c of cycles) {
      if (!c.diff.rejected) this.quiet.delete(c.server);
      for (const s of c.diff.ended) this.kicked.get(c.server)?.delete(sessionKey(s));
    }
    for (const c of cycles) this.deps.history?.record(c.server, diffedAgainst.get(c)!, c.diff, c.read.readAt);
    this.deps.history?.maybeFlush(cycles.at(-1)!.read.readAt);
    const events = cycles.flatMap((c) => c.diff.events);
    for (const e of events) log.info({ server: e.server, user: e.session ? userName(e.session) : undefined }, `event ${e.type}`);
    this.deps.live?.publish({ events, servers: cycles.map((c) => c.server), at: new Date().toISOString() });
    return {
      writes,
      servers: cycles.map((c) => ({
        server: c.server,
        ok: c.diff.verdict.result === 'ok',
        error: c.diff.verdict.message,
        online: Object.keys(c.diff.baseline.sessions ?? {}).length,
        events: c.diff.events,
      })),
    };
  }
}
