// An in-process feed of changes for the page's live stream (GET /api/stream) and the notifier: the
// poller publishes after it has stored a read that changed something the page shows, and only then
// (a management stream reads every 2 s; most reads change nothing but byte counters). What changed
// is said per kind, so the page can tell news from the periodic counter refresh.
import type { VpnEvent } from '../domain.ts';
import type { DiffResult, ServerBaseline } from './diff.ts';

export interface LiveUpdate {
  /** Events just stored (connects, disconnects, servers down and up). */
  events: VpnEvent[];
  /** Every server in this update: sessions ∪ health ∪ counters. */
  servers: string[];
  /** Servers where someone came or went (or the first good read listed who is on). */
  sessions: string[];
  /** Servers whose health changed: ok, failing, down, the number of failures in a row, never read before, or one source's state. */
  health: string[];
  /** Servers whose byte counters were written with nobody coming or going: the periodic counter refresh. */
  counters: string[];
  at: string;
}

/** One stored read, as the poller saw it: the baseline before, the diff, and what else was written. */
export interface StoredRead {
  server: string;
  before: ServerBaseline;
  diff: DiffResult;
  /** The online list (with its byte counters) was written. */
  onlineWritten: boolean;
  /** The read's source changed state (the status file failing while the management stream serves, and back). */
  sourceChanged: boolean;
}

/** What the page shows of a server's health: the health rule's inputs that a read can move. */
const healthOf = (b: ServerBaseline) => `${b.consecutiveFailures}|${b.down}|${b.sessions === null && b.lastGoodAt === null}`;

/** What a batch of stored reads changed, or null when nothing the page shows did (counters between refreshes). */
export function liveUpdateOf(reads: StoredRead[], at: string): LiveUpdate | null {
  const sessions: string[] = [];
  const health: string[] = [];
  const counters: string[] = [];
  for (const r of reads) {
    const cameOrWent = !r.diff.rejected && (r.diff.started.length > 0 || r.diff.ended.length > 0 || r.before.sessions === null);
    if (cameOrWent) sessions.push(r.server);
    else if (r.onlineWritten && !r.diff.rejected) counters.push(r.server);
    if (healthOf(r.before) !== healthOf(r.diff.baseline) || r.sourceChanged) health.push(r.server);
  }
  const events = reads.flatMap((r) => r.diff.events);
  const servers = [...new Set([...sessions, ...health, ...counters])];
  if (servers.length === 0 && events.length === 0) return null;
  return { events, servers, sessions, health, counters, at };
}

export class LiveFeed {
  private readonly listeners = new Set<(u: LiveUpdate) => void>();

  publish(update: LiveUpdate): void {
    for (const fn of this.listeners) {
      try { fn(update); } catch { /* one broken subscriber must not stop the others */ }
    }
  }

  subscribe(fn: (u: LiveUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
