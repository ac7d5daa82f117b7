// Whether the database answers, checked every few seconds with a ping that cannot hang (a paused
// server keeps its TCP connections open and answers nothing). Parts that use the database ask it
// before trying, so an outage is one log line at each change of state (and a metric), not an
// error per read, per notice run and per request; /healthz and the page say since when.
import type { Gauge } from 'prom-client';
import { errorMessage, type Logger } from '../log.ts';
import type { Store } from './store.ts';

export interface DatabaseState {
  up: boolean;
  /** When it entered this state. */
  since: Date;
  /** Why the last check failed, while down. */
  error: string | null;
}

export class DatabaseWatch {
  #state: DatabaseState = { up: true, since: new Date(), error: null };
  readonly #listeners = new Set<(state: DatabaseState) => void>();
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Store, 'ping'>,
    private readonly log: Logger,
    private readonly opts: { everyMs?: number; timeoutMs?: number; gauge?: Gauge } = {},
  ) {
    opts.gauge?.set(1);
  }

  get state(): DatabaseState {
    return this.#state;
  }

  get up(): boolean {
    return this.#state.up;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.opts.everyMs ?? 2000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Called on every change of state (the poller flushes what it held when the database is back). */
  onChange(fn: (state: DatabaseState) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Checks now (one check at a time). */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => { this.#checking = undefined; });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 1500;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs); });
    const ping = this.store.ping().then((ok) => (ok ? null : 'ping failed'), (err: unknown) => errorMessage(err));
    const error = await Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
    this.#set(error === null, error);
  }

  #set(up: boolean, error: string | null): void {
    if (up === this.#state.up) {
      if (!up) this.#state = { ...this.#state, error };
      return;
    }
    const previous = this.#state;
    this.#state = { up, since: new Date(), error: up ? null : error };
    this.opts.gauge?.set(up ? 1 : 0);
    if (up) this.log.info({ downSeconds: Math.round((Date.now() - previous.since.getTime()) / 1000) }, 'the database answers again');
    else this.log.error({ error }, `the database does not answer (${error}): polling goes on and holds its changes; the page shows the last data`);
    for (const fn of this.#listeners) {
      try { fn(this.#state); } catch { /* one listener must not stop the others */ }
    }
  }
}
