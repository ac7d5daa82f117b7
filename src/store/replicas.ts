// The running vpnwatch services (replicas) sharing this database, each refreshing its own document
// every few seconds: how a CLI command knows a service is there to ask, and (later) how replicas
// share the servers between them.
import type { Models } from './models.ts';

export interface ReplicaRecord {
  id: string;
  host: string;
  pid: number;
  startedAt: Date;
  seenAt: Date;
}

export class Replicas {
  constructor(private readonly models: Models) {}

  /** Records that replica `id` is alive now. */
  async heartbeat(replica: Omit<ReplicaRecord, 'seenAt'>, now = new Date()): Promise<void> {
    await this.models.Replica.updateOne(
      { _id: replica.id },
      { $set: { host: replica.host, pid: replica.pid, startedAt: replica.startedAt, seenAt: now } },
      { upsert: true },
    );
  }

  /** Replicas seen within `withinMs`. */
  async live(withinMs: number, now = new Date()): Promise<ReplicaRecord[]> {
    const docs = await this.models.Replica.find({ seenAt: { $gte: new Date(now.getTime() - withinMs) } }).sort({ _id: 1 }).lean();
    return docs.map((d) => ({ id: d._id, host: d.host, pid: d.pid, startedAt: d.startedAt, seenAt: d.seenAt }));
  }

  /** A replica that stops cleanly removes itself. */
  async remove(id: string): Promise<void> {
    await this.models.Replica.deleteOne({ _id: id });
  }
}
