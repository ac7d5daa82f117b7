// The notifier's side of the store. Three small collections beside the events:
// - `outbox`: one document per delivery still to make (an event to a target), written with the
//   event and removed once it is sent or failed for good. The notifier reads only these, by
//   target, so its work grows with what is pending, never with the history in `events`
//   (mongo-java-server scans a collection for any query that is not by _id).
// - `notice_targets`: per target, its state (ok, retrying, failing) and the lease of the notifier
//   that sends to it: one sender per channel, across processes.
// - `notice_messages`: the messages posted within the flap window, with the events each carries,
//   so a reconnect can be folded into the message that announced the disconnect.
// Each event keeps its deliveries' record (state, attempts, the message it went out in): the
// history, updated here by _id only.
import mongoose from 'mongoose';
import type { SessionEnd, VpnEventType } from '../domain.ts';
import type { Models, OutboxItemDoc } from './models.ts';
import { toStoredEvent, type DeliveryState, type StoredEvent } from './records.ts';

/** One delivery still to make. */
export interface OutboxItem {
  id: string;
  target: string;
  /** The event's id. */
  event: string;
  server: string;
  cycle: string;
  at: Date;
  seq: number;
}

export type TargetState = 'ok' | 'retrying' | 'failing';

/** A target's state and its sender's lease, as stored. */
export interface NoticeTargetRecord {
  id: string;
  state: TargetState;
  error: string | null;
  since: Date | null;
  nextAttemptAt: Date | null;
  failures: number;
  holder: string | null;
  leaseUntil: Date | null;
  lastPostAt: Date | null;
  inFlight: { items: string[]; nonce: string } | null;
}

/** A target's health: what /healthz, /vpn servers and the page show. */
export interface TargetHealth {
  id: string;
  state: TargetState;
  error: string | null;
  since: Date | null;
  nextAttemptAt: Date | null;
  /** Deliveries waiting in the outbox. */
  pending: number;
}

/** An event as a posted message remembers it (flaps.ts FlapFacts, plus its id). */
export interface MessageEvent {
  id: string;
  type: VpnEventType;
  server: string;
  user: string | null;
  at: string;
  endedBy?: SessionEnd;
}

export interface MessageSection {
  server: string;
  cycle: string;
  /** How many lines the section showed (the rest were summarised as "…and N more changes"). */
  lines: number;
}

/** A message posted to a target within the flap window. */
export interface PostedMessage {
  id: string;
  target: string;
  ref: string;
  postedAt: Date;
  /** Its sections, in order. */
  sections: MessageSection[];
  events: MessageEvent[];
}

/** How one attempt went for the events it carried (their delivery record for the target). */
export interface DeliveryUpdate {
  state: DeliveryState;
  lastError: string | null;
  sentAt?: Date;
  messageRef?: string | null;
}

export const outboxItemId = (eventId: string, target: string) => `${eventId}>${target}`;

/** An event as the cycle writes build it: what its outbox items are made from. */
interface EventToDeliver {
  _id: mongoose.Types.ObjectId;
  server: string;
  cycle: string;
  at: Date;
  seq?: number;
  deliveries: { target: string; state: string }[];
}

/**
 * The outbox items of the events' pending deliveries, as upserts by their derived ids: a cycle
 * written again creates none twice. An item made again for a delivery already made (the cycle was
 * written again after the notifier sent it) is stale: the notifier finds the event's record says
 * sent or failed, and removes it unsent.
 */
export function outboxItemsOf(events: EventToDeliver[]): mongoose.mongo.AnyBulkWriteOperation<OutboxItemDoc>[] {
  return events.flatMap((e) => e.deliveries.filter((d) => d.state === 'pending').map((d) => {
    const _id = outboxItemId(e._id.toHexString(), d.target);
    return { updateOne: { filter: { _id }, update: { $setOnInsert: { target: d.target, event: e._id.toHexString(), server: e.server, cycle: e.cycle, at: e.at, seq: e.seq ?? 0 } }, upsert: true } };
  }));
}

const isDuplicateKey = (err: unknown) => (err as { code?: number }).code === 11000;
const toEventOutline = (e: MessageEvent) => ({ ...e, at: new Date(e.at), endedBy: e.endedBy ?? null });

export class Outbox {
  constructor(private readonly models: Models) {}

  /** The targets with deliveries waiting. */
  async targetsWithWork(): Promise<string[]> {
    return (await this.models.Outbox.distinct('target')).sort();
  }

  /** A target's waiting deliveries, oldest first. */
  async items(target: string, limit: number): Promise<OutboxItem[]> {
    const docs = await this.models.Outbox.find({ target }).sort({ at: 1, seq: 1, _id: 1 }).limit(limit).lean();
    return docs.map((d) => ({ id: d._id, target: d.target, event: d.event, server: d.server, cycle: d.cycle, at: d.at, seq: d.seq }));
  }

  /** Events by id (one lookup by _id, the index every engine uses). */
  async events(ids: string[]): Promise<Map<string, StoredEvent>> {
    const unique = [...new Set(ids)].filter((id) => mongoose.Types.ObjectId.isValid(id));
    if (unique.length === 0) return new Map();
    const docs = await this.models.Event.find({ _id: { $in: unique.map((id) => new mongoose.Types.ObjectId(id)) } }).lean();
    return new Map(docs.map((d) => [String(d._id), toStoredEvent(d)]));
  }

  /** Removes deliveries from the outbox (done, failed for good, or stale). */
  async remove(itemIds: string[]): Promise<void> {
    if (itemIds.length) await this.models.Outbox.deleteMany({ _id: { $in: itemIds } });
  }

  /** Records one attempt in each event's delivery record for `target` (counted as an attempt). */
  async recordAttempt(eventIds: string[], target: string, update: DeliveryUpdate): Promise<void> {
    if (eventIds.length === 0) return;
    const set: Record<string, unknown> = { 'deliveries.$[d].state': update.state, 'deliveries.$[d].lastError': update.lastError };
    if (update.sentAt) set['deliveries.$[d].sentAt'] = update.sentAt;
    if (update.messageRef !== undefined) set['deliveries.$[d].messageRef'] = update.messageRef;
    // By _id alone (the filter every engine answers from its index), the target picked by arrayFilters.
    await this.models.Event.collection.bulkWrite(eventIds.map((id) => ({
      updateOne: { filter: { _id: new mongoose.Types.ObjectId(id) }, update: { $set: set, $inc: { 'deliveries.$[d].attempts': 1 } }, arrayFilters: [{ 'd.target': target }] },
    })), { ordered: false });
  }

  /**
   * Takes the target for `holder` until now + leaseMs, if nobody holds it or the holder's lease
   * expired (it died, or stopped without letting go). Atomic: one holder at a time. Returns the
   * target as it stands, or null when another holds it.
   */
  async claimTarget(target: string, holder: string, now: Date, leaseMs: number): Promise<NoticeTargetRecord | null> {
    try {
      await this.models.NoticeTarget.updateOne({ _id: target }, {
        $setOnInsert: { state: 'ok', error: null, since: null, nextAttemptAt: null, failures: 0, holder: null, leaseUntil: null, lastPostAt: null, inFlight: null },
      }, { upsert: true });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // another process created it at the same moment
    }
    const doc = await this.models.NoticeTarget.findOneAndUpdate(
      { _id: target, $or: [{ holder: null }, { holder }, { leaseUntil: { $lt: now } }] },
      { $set: { holder, leaseUntil: new Date(now.getTime() + leaseMs) } },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) return null;
    return {
      id: doc._id, state: doc.state as TargetState, error: doc.error ?? null, since: doc.since ?? null, nextAttemptAt: doc.nextAttemptAt ?? null,
      failures: doc.failures ?? 0, holder: doc.holder ?? null, leaseUntil: doc.leaseUntil ?? null, lastPostAt: doc.lastPostAt ?? null,
      inFlight: doc.inFlight ? { items: [...doc.inFlight.items], nonce: doc.inFlight.nonce } : null,
    };
  }

  /**
   * Writes the target's fields, if `holder` still holds it (a new `leaseUntil` renews the lease).
   * False: the lease was lost (it expired and another took over): stop sending.
   */
  async updateTarget(target: string, holder: string, set: Partial<Omit<NoticeTargetRecord, 'id' | 'holder'>>): Promise<boolean> {
    const res = await this.models.NoticeTarget.updateOne({ _id: target, holder }, { $set: set });
    return res.matchedCount === 1;
  }

  /** Lets go of the target (another process may send to it at once). */
  async releaseTarget(target: string, holder: string): Promise<void> {
    await this.models.NoticeTarget.updateOne({ _id: target, holder }, { $set: { holder: null, leaseUntil: null } });
  }

  /** The messages posted to `target` that are still kept for folding. */
  async messages(target: string): Promise<PostedMessage[]> {
    const docs = await this.models.NoticeMessage.find({ target }).sort({ postedAt: 1, _id: 1 }).lean();
    return docs.map((d) => ({
      id: d._id, target: d.target, ref: d.ref, postedAt: d.postedAt, sections: d.sections.map((s) => ({ server: s.server, cycle: s.cycle, lines: s.lines })),
      events: d.events.map((e) => ({
        id: e.id, type: e.type as VpnEventType, server: e.server, user: e.user ?? null, at: e.at.toISOString(), ...(e.endedBy ? { endedBy: e.endedBy as SessionEnd } : {}),
      })),
    }));
  }

  /** Keeps a posted message until `keepUntil`. */
  async saveMessage(message: Omit<PostedMessage, 'id'>, keepUntil: Date): Promise<void> {
    const _id = `${message.target}>${message.ref}`;
    await this.models.NoticeMessage.updateOne({ _id }, {
      $set: { target: message.target, ref: message.ref, postedAt: message.postedAt, keepUntil, sections: message.sections, events: message.events.map(toEventOutline) },
    }, { upsert: true });
  }

  /** Adds events folded into a posted message (its edit went through). */
  async addToMessage(id: string, events: MessageEvent[]): Promise<void> {
    await this.models.NoticeMessage.updateOne({ _id: id }, { $push: { events: { $each: events.map(toEventOutline) } } });
  }

  /** Forgets a message that cannot be edited any more (deleted in chat). */
  async forgetMessage(id: string): Promise<void> {
    await this.models.NoticeMessage.deleteOne({ _id: id });
  }

  /** Removes the messages no reconnect can fold into any more. */
  async purgeMessages(now: Date): Promise<void> {
    await this.models.NoticeMessage.deleteMany({ keepUntil: { $lt: now } });
  }

  /** Every target's state, with its waiting deliveries counted; `configured` targets never used yet are ok. */
  async health(configured: string[] = []): Promise<TargetHealth[]> {
    const [docs, counts] = await Promise.all([
      this.models.NoticeTarget.find({}).sort({ _id: 1 }).lean(),
      this.models.Outbox.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$target', n: { $sum: 1 } } }]),
    ]);
    const pending = new Map(counts.map((c) => [c._id, c.n]));
    const known = new Map<string, TargetHealth>(docs.map((d) => [d._id, {
      id: d._id, state: d.state as TargetState, error: d.error ?? null, since: d.since ?? null, nextAttemptAt: d.nextAttemptAt ?? null, pending: pending.get(d._id) ?? 0,
    }]));
    // Targets with deliveries waiting but never tried (stored by `vpnwatch poll` before the service
    // ran), and those configured but not used yet.
    for (const id of [...pending.keys(), ...configured]) {
      if (!known.has(id)) known.set(id, { id, state: 'ok', error: null, since: null, nextAttemptAt: null, pending: pending.get(id) ?? 0 });
    }
    return [...known.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
