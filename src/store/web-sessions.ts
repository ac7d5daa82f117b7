// The page's side of the store: browser sign-ins and the failed-sign-in counters. Both live in
// MongoDB, not in memory or in the cookie, so several vpnwatch processes behind one load balancer
// agree: a sign-out ends the sign-in everywhere, and guesses are counted across all of them.
import { createHash, randomBytes } from 'node:crypto';
import type { Models } from './models.ts';

export type WebRole = 'admin' | 'viewer';

export interface WebSignIn {
  role: WebRole;
  user: string | null;
  expiresAt: Date;
}

/** The store key of a cookie value: its SHA-256, so the store never holds a cookie that works. */
const keyOf = (cookieValue: string) => createHash('sha256').update(cookieValue).digest('base64url');

export class WebSessions {
  constructor(private readonly models: Models) {}

  /** Starts a sign-in; returns the cookie value (32 random bytes) that stands for it. */
  async start(role: WebRole, user: string | null, now: Date, ttlMs: number): Promise<{ cookieValue: string; expiresAt: Date }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + ttlMs);
    await this.models.WebSession.create({ _id: keyOf(cookieValue), role, user, createdAt: now, expiresAt, revokedAt: null });
    return { cookieValue, expiresAt };
  }

  /**
   * The sign-in a cookie stands for, if it has neither expired nor been revoked. Expiry is checked
   * here, in the query: MongoDB's TTL index deletes ended sign-ins only about once a minute, and
   * other engines not at all.
   */
  async find(cookieValue: string, now: Date): Promise<WebSignIn | null> {
    const doc = await this.models.WebSession.findOne({ _id: keyOf(cookieValue), revokedAt: null, expiresAt: { $gt: now } }).lean();
    return doc ? { role: doc.role, user: doc.user ?? null, expiresAt: doc.expiresAt } : null;
  }

  /** Signs out: the cookie stops working in every process at once. */
  async revoke(cookieValue: string, now: Date): Promise<boolean> {
    const result = await this.models.WebSession.updateOne({ _id: keyOf(cookieValue), revokedAt: null }, { $set: { revokedAt: now } });
    return result.modifiedCount > 0;
  }

  /**
   * How long `client` must still wait before trying a credential again: 0 when it may. A client is
   * blocked once it has `limit` failures in the current window.
   */
  async blockedForMs(client: string, limit: number, now: Date): Promise<number> {
    const doc = await this.models.WebLimit.findOne({ _id: client, resetAt: { $gt: now } }).lean();
    return doc && doc.failures >= limit ? doc.resetAt.getTime() - now.getTime() : 0;
  }

  /**
   * Counts one failed sign-in or wrong bearer token for `client` in a fixed window of `windowMs`;
   * returns the failures in the current window. Two atomic steps: an ended window is reset, then
   * the count goes up (creating the window if there is none); two processes may both reset an
   * ended window, which only forgets a failure or two at the edge.
   */
  async noteFailure(client: string, now: Date, windowMs: number): Promise<number> {
    const resetAt = new Date(now.getTime() + windowMs);
    await this.models.WebLimit.updateOne({ _id: client, resetAt: { $lte: now } }, { $set: { failures: 0, resetAt } });
    try {
      const doc = await this.models.WebLimit.findOneAndUpdate({ _id: client }, { $inc: { failures: 1 }, $setOnInsert: { resetAt } }, { upsert: true, returnDocument: 'after' }).lean();
      return doc!.failures;
    } catch (err) {
      // Two first failures at once: both upserts inserted, one lost on the _id. Count again.
      if ((err as { code?: number }).code !== 11000) throw err;
      const doc = await this.models.WebLimit.findOneAndUpdate({ _id: client }, { $inc: { failures: 1 } }, { returnDocument: 'after' }).lean();
      return doc?.failures ?? 1;
    }
  }
}
