// The kick audit log: every kick an admin attempts (and every refusal), whatever its result.
import type { Models } from './models.ts';
import { toKickRecord, type KickRecord } from './records.ts';

export class KickAudit {
  constructor(private readonly models: Models) {}

  async recordKick(kick: KickRecord): Promise<void> {
    await this.models.Kick.create(kick);
  }

  async kicks(target?: string, limit = 20): Promise<KickRecord[]> {
    const docs = await this.models.Kick.find(target ? { target } : {}).sort({ at: -1, _id: -1 }).limit(limit).lean();
    return docs.map(toKickRecord);
  }
}
