// The notifier's side of the store: events whose delivery to a target is still pending (the
// outbox), their delivery state, and the problems a target keeps having.
import type { Models } from './models.ts';
import { toStoredEvent, type Delivery, type StoredEvent } from './records.ts';

export class Outbox {
  constructor(private readonly models: Models) {}

  /** Events with a delivery still pending, oldest first. */
  async pendingEvents(limit = 200): Promise<StoredEvent[]> {
    const docs = await this.models.Event.find({ pending: true }).sort({ at: 1, seq: 1 }).limit(limit).lean();
    return docs.map(toStoredEvent);
  }

  /** The events delivered to `target` in the message `messageRef` (what the notifier re-renders to edit it), oldest first. */
  async eventsOfMessage(target: string, messageRef: string): Promise<StoredEvent[]> {
    const docs = await this.models.Event.find({ deliveries: { $elemMatch: { target, messageRef } } }).sort({ at: 1, seq: 1 }).lean();
    return docs.map(toStoredEvent);
  }

  /** Replaces an event's delivery list (the notifier owns it) and recomputes its pending flag. */
  async saveDeliveries(eventId: string, deliveries: Delivery[]): Promise<void> {
    await this.models.Event.updateOne({ _id: eventId }, { $set: { deliveries, pending: deliveries.some((d) => d.state === 'pending') } });
  }

  /** The latest delivery failure per target that did not recover: shown by /vpn servers and /healthz. */
  async deliveryProblems(): Promise<{ target: string; error: string; at: Date }[]> {
    const failed = await this.models.Event.find({ 'deliveries.state': 'failed' }).sort({ at: -1, seq: -1 }).limit(50).lean();
    const latestSent = await this.models.Event.find({ 'deliveries.state': 'sent' }).sort({ at: -1, seq: -1 }).limit(50).lean();
    const problems = new Map<string, { target: string; error: string; at: Date }>();
    for (const e of failed) {
      for (const d of e.deliveries) {
        if (d.state !== 'failed' || problems.has(d.target)) continue;
        const recovered = latestSent.some((s) => s.at > e.at && s.deliveries.some((x) => x.target === d.target && x.state === 'sent'));
        if (!recovered) problems.set(d.target, { target: d.target, error: d.lastError ?? 'failed', at: e.at });
      }
    }
    return [...problems.values()];
  }
}
