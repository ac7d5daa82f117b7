// Which replica does what: every `vpnwatch start` sharing a database competes for leases
// (src/store/leases.ts): one per VPN server (its poller and its management connection: OpenVPN
// serves one management client, so exactly one replica may hold it), and one per connection only
// one replica may keep (the Discord gateway, Slack's Socket Mode).
//
// Every tick (a third of POLL_INTERVAL, at most 10 s), each replica:
//   1. renews the leases it holds (one update for all of them); one that another replica holds
//      now is lost: this replica stops acting for it;
//   2. reads the leases and the live replicas (the registry, refreshed every 5 s);
//   3. balances (server leases): its fair share is the number of leases divided by the live
//      replicas, the remainder going to the first replicas by id. Above it, it lets the excess go
//      (handover: it stops first, then releases); below it, it takes free leases. A lease released
//      by a replica that stopped, or free for longer than two ticks (its holder died, and the
//      registry still lists it), is taken by any replica, whatever its share: every server must be
//      polled. Single leases are not balanced: whoever holds one keeps it.
//
// Timing (README "Running replicas"): a lease lasts 2 × POLL_INTERVAL; the holder renews it every
// tick and stops acting for it one tick before it would expire unrenewed, so it can miss five
// renewals in a row (CPU starvation, a slow database) and keep it, and replicas' clocks may be a
// tick apart. A holder killed right after a renewal is taken over after at most the lease length,
// plus a tick to notice, plus the first read: under 3 × POLL_INTERVAL.
//
// While the database does not answer, a replica keeps acting for what it holds: nobody can take
// a lease over without the database. When it answers again, leases are renewed, or given up if
// another replica (that could reach it) took them meanwhile.
import { errorMessage, type Logger } from '../log.ts';
import type { LeaseRecord } from '../store/leases.ts';
import type { Store } from '../store/store.ts';

export interface TakenLease {
  name: string;
  /**
   * true: a live replica handed it over (it polled until a moment ago); false: the previous holder
   * stopped or died, or nobody held it: the first read is a start for this server.
   */
  handover: boolean;
}

export interface LeaseKeeperOptions {
  store: Pick<Store, 'leases' | 'replicas'>;
  replicaId: string;
  /** The leases competed for. */
  names: string[];
  /** Spread the leases evenly over the live replicas (servers); false: whoever holds one keeps it. */
  balance: boolean;
  leaseMs: number;
  tickMs: number;
  /** A replica counts as live while its registry entry is this fresh. */
  liveWithinMs: number;
  /** Start acting for these leases (called before the next tick). */
  onTaken: (taken: TakenLease[]) => Promise<void>;
  /** Stop acting for these leases; a handover releases them only after this resolves. */
  onLost: (names: string[]) => Promise<void>;
  /** What to publish about a held lease for the other replicas (written when it changes). */
  info?: (name: string) => unknown;
  /** false while the database does not answer (see the header). */
  databaseUp?: () => boolean;
  log: Logger;
  now?: () => Date;
}

/** A replica's fair share of `count` leases: the remainder goes to the first replicas by id. */
export function fairShare(count: number, live: string[], me: string): number {
  const replicas = [...new Set([...live, me])].sort();
  const rank = replicas.indexOf(me);
  return Math.floor(count / replicas.length) + (rank < count % replicas.length ? 1 : 0);
}

function shuffled<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export class LeaseKeeper {
  readonly #opts: LeaseKeeperOptions;
  readonly #now: () => Date;
  /**
   * Held leases: when this replica took each (the newest are handed over first), and until when it
   * acts for it without another renewal (a tick before the lease would expire at the database).
   */
  readonly #held = new Map<string, { since: Date; until: number }>();
  /** The leases as last read. */
  #view = new Map<string, LeaseRecord>();
  readonly #published = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #tickStarted = 0;
  #stopped = false;
  #lastError: string | null = null;

  constructor(opts: LeaseKeeperOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => new Date());
  }

  /** Runs the first tick (so the caller knows what it holds), then ticks on a timer. */
  async start(): Promise<void> {
    await this.tick();
    this.#timer = setInterval(() => {
      // A tick stuck on a database that takes but does not answer: the leases lapse here in time.
      if (this.#ticking && Date.now() - this.#tickStarted > this.#opts.tickMs) void this.#expireUnrenewed();
      void this.tick();
    }, this.#opts.tickMs);
  }

  /** Stops ticking, stops acting for every held lease, and releases them (the others take over at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#ticking;
    const names = [...this.#held.keys()];
    if (names.length === 0) return;
    await this.#lose(names);
    await this.#opts.store.leases.release(names, this.#opts.replicaId, 'stop', this.#now())
      .catch((err: unknown) => this.#opts.log.warn({ err }, 'could not release the leases; the other replicas take them over when they expire'));
  }

  holds(name: string): boolean {
    return this.#held.has(name);
  }

  /** The leases held now, in the order of `names`. */
  held(): string[] {
    return this.#opts.names.filter((n) => this.#held.has(n));
  }

  /** Who holds each lease (null: nobody, until a replica takes it). */
  holders(): Record<string, string | null> {
    const now = this.#now().getTime();
    return Object.fromEntries(this.#opts.names.map((name) => {
      if (this.#held.has(name)) return [name, this.#opts.replicaId];
      const lease = this.#view.get(name);
      return [name, lease && lease.holder !== this.#opts.replicaId && lease.released === null && lease.expiresAt.getTime() > now ? lease.holder : null];
    }));
  }

  /** What the holder of a lease held elsewhere published about it (null: nothing, or nobody holds it). */
  published(name: string): string | null {
    return this.holders()[name] ? this.#view.get(name)?.infoJson ?? null : null;
  }

  /** One round (see the header). Ticks never overlap. */
  tick(): Promise<void> {
    if (!this.#ticking) this.#tickStarted = Date.now();
    this.#ticking ??= this.#tick().finally(() => { this.#ticking = undefined; });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const { store, replicaId: me, leaseMs, log } = this.#opts;
    const now = this.#now();
    try {
      // 1. Renew. What is not renewed was taken by another replica after it expired here.
      const mine = [...this.#held.keys()];
      const renewed = new Set(await store.leases.renew(mine, me, leaseMs, now));
      for (const n of renewed) {
        const held = this.#held.get(n);
        if (held) held.until = now.getTime() + leaseMs - this.#opts.tickMs;
      }
      const lost = mine.filter((n) => !renewed.has(n) && this.#held.has(n));
      if (lost.length) {
        log.warn({ leases: lost }, `${lost.length} lease(s) were taken over by another replica (not renewed in time): ${lost.slice(0, 5).join(', ')}`);
        await this.#lose(lost);
      }
      this.#lastError = null;
      if (this.#stopped) return;

      // 2. Read.
      const records = await store.leases.list(this.#opts.names);
      const missing = this.#opts.names.filter((n) => !records.some((r) => r.name === n));
      await store.leases.create(missing);
      this.#view = new Map([...records, ...missing.map((name): LeaseRecord => ({ name, holder: null, expiresAt: new Date(0), acquiredAt: null, released: null, infoJson: null }))].map((r) => [r.name, r]));
      const live = (await store.replicas.live(this.#opts.liveWithinMs, now)).map((r) => r.id);

      // 3. Balance.
      const free = (at: number) => [...this.#view.values()].filter((r) => r.expiresAt.getTime() <= at && !this.#held.has(r.name));
      // Held here by an earlier process with the same replica id (VPNWATCH_REPLICA_ID): this one's now.
      const inherited = [...this.#view.values()].filter((r) => r.holder === me && r.released === null && r.expiresAt > now && !this.#held.has(r.name)).map((r) => r.name);
      let wanted: string[] = [];
      if (this.#opts.balance) {
        const share = fairShare(this.#opts.names.length, live, me);
        const excess = this.#held.size + inherited.length - share;
        if (excess > 0) await this.#handOver(excess);
        const want = Math.max(0, -excess);
        // Orphans: released by a replica that stopped, or expired two ticks ago (the holder died).
        const orphans = free(now.getTime()).filter((r) => r.released === 'stop' || r.expiresAt.getTime() <= now.getTime() - 2 * this.#opts.tickMs).map((r) => r.name);
        const others = shuffled(free(now.getTime()).map((r) => r.name).filter((n) => !orphans.includes(n)));
        wanted = [...orphans, ...others.slice(0, Math.max(0, want - orphans.length))];
      } else if (this.#held.size + inherited.length === 0) {
        wanted = free(now.getTime()).map((r) => r.name);
      }
      const taken = [
        ...(await store.leases.renew(inherited, me, leaseMs, now)).map((name) => ({ name, handover: false })),
        ...(await store.leases.take(wanted, me, leaseMs, now)).map((name) => {
          const before = this.#view.get(name);
          const handover = before?.released === 'handover' && before.holder !== me && now.getTime() - before.expiresAt.getTime() <= leaseMs;
          return { name, handover };
        }),
      ];
      if (taken.length && !this.#stopped) {
        for (const t of taken) this.#held.set(t.name, { since: now, until: now.getTime() + leaseMs - this.#opts.tickMs });
        log.info({ leases: taken.length, held: this.#held.size }, `took ${taken.length} lease(s): ${taken.slice(0, 5).map((t) => t.name).join(', ')}${taken.length > 5 ? ', …' : ''}`);
        await this.#opts.onTaken(taken);
      }
      await this.#publish();
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this.#lastError) log.warn({ err }, `leases not renewed this round: ${message}`);
      this.#lastError = message;
      // Unrenewed leases expire at the database; this replica stops acting a tick before that,
      // unless the database is away for everyone (see the header).
      await this.#expireUnrenewed();
    }
  }

  /** Stops acting for the leases not renewed in time (another replica may take them), unless the database is away for all. */
  async #expireUnrenewed(): Promise<void> {
    if (this.#opts.databaseUp?.() === false) return;
    const now = this.#now().getTime();
    const lapsed = [...this.#held].filter(([, h]) => h.until <= now).map(([name]) => name);
    if (lapsed.length === 0) return;
    this.#opts.log.warn({ leases: lapsed }, `${lapsed.length} lease(s) could not be renewed in time; stopping work on them: ${lapsed.slice(0, 5).join(', ')}`);
    await this.#lose(lapsed);
  }

  /** Stops acting for the `count` newest leases, then releases them for the replicas below their share. */
  async #handOver(count: number): Promise<void> {
    const newest = [...this.#held].sort((a, b) => b[1].since.getTime() - a[1].since.getTime()).slice(0, count).map(([name]) => name);
    if (newest.length === 0) return;
    this.#opts.log.info({ leases: newest.length }, `handing over ${newest.length} lease(s) to balance the load: ${newest.slice(0, 5).join(', ')}${newest.length > 5 ? ', …' : ''}`);
    await this.#lose(newest);
    await this.#opts.store.leases.release(newest, this.#opts.replicaId, 'handover', this.#now());
  }

  async #lose(names: string[]): Promise<void> {
    for (const n of names) {
      this.#held.delete(n);
      this.#published.delete(n);
    }
    await this.#opts.onLost(names);
  }

  async #publish(): Promise<void> {
    const info = this.#opts.info;
    if (!info) return;
    for (const name of this.#held.keys()) {
      const json = JSON.stringify(info(name) ?? null);
      if (this.#published.get(name) === json) continue;
      await this.#opts.store.leases.publish(name, this.#opts.replicaId, json);
      this.#published.set(name, json);
    }
  }
}

/** The lease of a VPN server (its poller and management connection). */
export const serverLease = (server: string) => `server:${server}`;
export const leaseServer = (lease: string) => lease.slice('server:'.length);

/**
 * Lease length and tick for a poll interval (see the header): the lease lasts two intervals, the
 * tick is a third of one (at least 1 s, at most 10 s, so a large interval still notices a dead
 * replica's leases soon after they expire).
 */
export function leaseTiming(pollIntervalSeconds: number): { leaseMs: number; tickMs: number } {
  return { leaseMs: 2 * pollIntervalSeconds * 1000, tickMs: Math.min(10_000, Math.max(1000, Math.round((pollIntervalSeconds * 1000) / 3))) };
}

/**
 * A connection only one replica may keep (the Discord gateway, Slack's Socket Mode): one that
 * connects in the background and retries by itself (src/chat/connection.ts), and says how it stands.
 */
export interface Connection<S> {
  start(): void;
  stop(): Promise<void>;
  status(): S;
}

export interface LeasedConnectionOptions<S> extends Omit<LeaseKeeperOptions, 'names' | 'balance' | 'onTaken' | 'onLost' | 'info'> {
  name: string;
  /** A new connection, each time this replica takes the lease (a stopped one is not started again). */
  open: () => Connection<S>;
}

/**
 * Keeps a connection on whichever replica holds its lease: opened when the lease is taken, closed
 * when it is lost, and on stop, when the lease is released for another replica to take at its next
 * tick. The holder publishes the connection's status, so every replica can say how it stands.
 */
export class LeasedConnection<S> {
  readonly keeper: LeaseKeeper;
  #current: Connection<S> | undefined;

  constructor(opts: LeasedConnectionOptions<S>) {
    this.keeper = new LeaseKeeper({
      ...opts, names: [opts.name], balance: false,
      onTaken: async () => {
        this.#current = opts.open();
        this.#current.start();
      },
      onLost: async () => {
        const current = this.#current;
        this.#current = undefined;
        await current?.stop();
      },
      info: () => this.#current?.status(),
    });
  }

  start(): Promise<void> {
    return this.keeper.start();
  }

  stop(): Promise<void> {
    return this.keeper.stop();
  }

  /** How the connection stands (here, or as its holder published it), and which replica keeps it (null: none yet). */
  status(): { status: S | null; heldBy: string | null } {
    const name = this.keeper.held()[0];
    if (name !== undefined && this.#current) return { status: this.#current.status(), heldBy: this.keeper.holders()[name] ?? null };
    const [lease, heldBy] = Object.entries(this.keeper.holders())[0] ?? [];
    const published = lease ? this.keeper.published(lease) : null;
    return { status: published ? JSON.parse(published) as S : null, heldBy: heldBy ?? null };
  }
}
