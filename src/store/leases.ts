// Leases between the replicas sharing this database (the only state they share): a lease is a
// document with a holder and an expiry. Taking one is a single atomic update whose filter only
// matches a lease that is free (expired, released, or never held), so two replicas never both get
// it; the holder renews it before it expires; a holder that dies, even by kill -9, stops renewing
// and the lease becomes free at its expiry. The rules on top (who takes what, when) are in
// src/poll/leases.ts. Times are the replicas' own clocks (NTP keeps them within milliseconds; the
// lease length leaves seconds of slack).
import type { Models } from './models.ts';

export type ReleaseReason = 'handover' | 'stop';

export interface LeaseRecord {
  name: string;
  /** The replica that holds it, or held it last (see expiresAt and released); null if never held. */
  holder: string | null;
  /** Free from this time on (a released lease has expiresAt = the time of release). */
  expiresAt: Date;
  acquiredAt: Date | null;
  /** How the last holder let go, when it did: to balance the load ('handover'), or when stopping. */
  released: ReleaseReason | null;
  /** What the holder publishes about it (JSON), for the other replicas. */
  infoJson: string | null;
}

function toLease(d: { _id: string; holder?: string | null; expiresAt: Date; acquiredAt?: Date | null; released?: string | null; infoJson?: string | null }): LeaseRecord {
  return { name: d._id, holder: d.holder ?? null, expiresAt: d.expiresAt, acquiredAt: d.acquiredAt ?? null, released: (d.released ?? null) as ReleaseReason | null, infoJson: d.infoJson ?? null };
}

/** MongoDB's duplicate key error: another replica inserted the same lease first. */
function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] };
  return e.code === 11000 || (Array.isArray(e.writeErrors) && e.writeErrors.every((w) => w.code === 11000));
}

export class Leases {
  constructor(private readonly models: Models) {}

  /** The leases of these names as stored (a name never leased has no document). */
  async list(names: string[]): Promise<LeaseRecord[]> {
    const docs = await this.models.Lease.find({ _id: { $in: names } }).lean();
    return docs.map(toLease);
  }

  /** Creates free leases for the names that have no document yet (so that takes are plain updates). */
  async create(names: string[]): Promise<void> {
    if (names.length === 0) return;
    try {
      await this.models.Lease.collection.insertMany(
        names.map((name) => ({ _id: name as never, holder: null, expiresAt: new Date(0), acquiredAt: null, released: null, infoJson: null })),
        { ordered: false },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /**
   * Takes those of `names` that are free at `now` (expired or released) for `holder` until
   * now + leaseMs. Atomic per lease: of two replicas taking the same lease, one gets it. Returns
   * the names taken.
   */
  async take(names: string[], holder: string, leaseMs: number, now = new Date()): Promise<string[]> {
    if (names.length === 0) return [];
    const expiresAt = new Date(now.getTime() + leaseMs);
    await this.models.Lease.updateMany(
      { _id: { $in: names }, expiresAt: { $lte: now } },
      { $set: { holder, expiresAt, acquiredAt: now, released: null } },
    );
    // What this replica got: the leases it holds with exactly the expiry it just wrote.
    const docs = await this.models.Lease.find({ _id: { $in: names }, holder, expiresAt }, { _id: 1 }).lean();
    return docs.map((d) => d._id);
  }

  /**
   * Extends the leases `holder` still holds among `names` to now + leaseMs. A lease another
   * replica took meanwhile (it expired first) is not touched. Returns the names renewed.
   */
  async renew(names: string[], holder: string, leaseMs: number, now = new Date()): Promise<string[]> {
    if (names.length === 0) return [];
    const expiresAt = new Date(now.getTime() + leaseMs);
    await this.models.Lease.updateMany({ _id: { $in: names }, holder, released: null }, { $set: { expiresAt } });
    const docs = await this.models.Lease.find({ _id: { $in: names }, holder, expiresAt }, { _id: 1 }).lean();
    return docs.map((d) => d._id);
  }

  /** Lets go of the leases `holder` holds among `names`: they are free at once. */
  async release(names: string[], holder: string, reason: ReleaseReason, now = new Date()): Promise<void> {
    if (names.length === 0) return;
    await this.models.Lease.updateMany({ _id: { $in: names }, holder, released: null }, { $set: { expiresAt: now, released: reason } });
  }

  /** Records what the holder says about a lease it holds (infoJson). */
  async publish(name: string, holder: string, infoJson: string): Promise<void> {
    await this.models.Lease.updateOne({ _id: name, holder, released: null }, { $set: { infoJson } });
  }
}
