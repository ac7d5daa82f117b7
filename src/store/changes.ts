// A small change sequence, so that every replica's page (Server-Sent Events) and notifier learn of
// what another replica stored: each stored batch of poll results adds one numbered document (what
// changed where, and the events without addresses: src/poll/live-feed.ts's LiveUpdate, as JSON);
// the other replicas read the documents after the last number they saw, every second or so. Not
// change streams: the offline engine has none.
//
// Numbers come from the `counters` collection, so they are unique and increase, but a replica can
// take a number and write its document a moment after another replica wrote a higher one. A
// reader therefore also asks again for the numbers it skipped, for a while (see ChangeReader).
import type { Models } from './models.ts';

export interface ChangeRecord {
  seq: number;
  at: Date;
  /** The replica that stored it. */
  replica: string;
  /** What changed (plain JSON data). */
  update: unknown;
}

/** Changes are kept this long (a reader that was away longer just refreshes). */
const KEEP_MS = 3600_000;
/** Old changes are pruned on every this many records. */
const PRUNE_EVERY = 100;

export class Changes {
  #recorded = 0;

  constructor(private readonly models: Models) {}

  /** Appends one change; returns its number. */
  async record(change: Omit<ChangeRecord, 'seq'>): Promise<number> {
    const counter = await this.models.Counter.findOneAndUpdate({ _id: 'changes' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after' }).lean();
    const seq = counter!.seq;
    await this.models.Change.collection.insertOne({ _id: seq as never, at: change.at, replica: change.replica, updateJson: JSON.stringify(change.update) });
    if (++this.#recorded % PRUNE_EVERY === 0) await this.models.Change.deleteMany({ at: { $lt: new Date(change.at.getTime() - KEEP_MS) } });
    return seq;
  }

  /** The last number handed out (0 when none): where a new reader starts. */
  async latest(): Promise<number> {
    const counter = await this.models.Counter.findById('changes').lean();
    return counter?.seq ?? 0;
  }

  /** Changes numbered after `after`, and those of the `missing` numbers, in order. */
  async since(after: number, missing: number[] = [], limit = 500): Promise<ChangeRecord[]> {
    const filter = missing.length ? { $or: [{ _id: { $gt: after } }, { _id: { $in: missing } }] } : { _id: { $gt: after } };
    const docs = await this.models.Change.find(filter).sort({ _id: 1 }).limit(limit).lean();
    return docs.map((d) => ({ seq: d._id, at: d.at, replica: d.replica, update: JSON.parse(d.updateJson) as unknown }));
  }
}
