// How replicas learn of each other's changes: each replica records what its poller stored (one
// small document per stored batch, src/store/changes.ts) and reads the others' every second into
// its own LiveFeed, where the page's Server-Sent Events and the notifier's wake-ups take them as
// if they were local. The lag is the read interval plus one query: about a second. Only a hint:
// a change whose record is lost (the database was away at that moment) still reaches the page at
// its next refresh and the outbox at the notifier's next tick.
import { errorMessage, type Logger } from '../log.ts';
import type { Changes } from '../store/changes.ts';
import type { LiveFeed, LiveUpdate } from './live-feed.ts';

export interface ChangeFeedOptions {
  changes: Changes;
  live: LiveFeed;
  replicaId: string;
  log: Logger;
  /** How often the others' changes are read (default 1000 ms). */
  everyMs?: number;
}

/**
 * A number skipped while reading (taken by a replica that had not written its change yet) is
 * asked for again for this long; after that it is given up (its replica died in between).
 */
const MISSING_FOR_MS = 30_000;
/** At most this many skipped numbers are remembered. */
const MISSING_MAX = 1000;

export class ChangeFeed {
  readonly #opts: ChangeFeedOptions;
  /** The highest number read. */
  #after = 0;
  /** Numbers skipped, with when they were first missed. */
  readonly #missing = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #recording = Promise.resolve();
  #lastError: string | null = null;

  constructor(opts: ChangeFeedOptions) {
    this.#opts = opts;
  }

  async start(): Promise<void> {
    this.#after = await this.#opts.changes.latest();
    // Records local changes in order; others' changes (with an origin) are not recorded again.
    this.#unsubscribe = this.#opts.live.subscribe((update) => {
      if (update.origin) return;
      this.#recording = this.#recording.then(() => this.#record(update));
    });
    this.#timer = setInterval(() => { this.#reading ??= this.read().finally(() => { this.#reading = undefined; }); }, this.#opts.everyMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    await Promise.all([this.#reading, this.#recording]);
  }

  async #record(update: LiveUpdate): Promise<void> {
    try {
      await this.#opts.changes.record({ at: new Date(update.at), replica: this.#opts.replicaId, update });
    } catch (err) {
      this.#opts.log.debug({ err }, 'change not recorded for the other replicas');
    }
  }

  /** Reads the changes stored since the last read and publishes the other replicas' ones. */
  async read(): Promise<void> {
    const { changes, live, replicaId, log } = this.#opts;
    try {
      const now = Date.now();
      for (const [seq, since] of this.#missing) if (now - since > MISSING_FOR_MS) this.#missing.delete(seq);
      const found = await changes.since(this.#after, [...this.#missing.keys()]);
      for (const change of found) {
        this.#missing.delete(change.seq);
        for (let seq = this.#after + 1; seq < change.seq && this.#missing.size < MISSING_MAX; seq++) this.#missing.set(seq, now);
        if (change.seq > this.#after) this.#after = change.seq;
        if (change.replica === replicaId) continue;
        live.publish({ ...(change.update as LiveUpdate), origin: change.replica });
      }
      this.#lastError = null;
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this.#lastError) log.debug({ err }, 'could not read the other replicas\' changes');
      this.#lastError = message;
    }
  }
}
