// Requests from one vpnwatch process to another, as documents in MongoDB (the only state processes
// share): `vpnwatch poll` beside a running service asks it to poll now; later, kicks reach the
// process that holds a server's management interface. A request is claimed atomically with a lease
// (findOneAndUpdate), so exactly one process carries it out; a claim whose holder dies expires and
// the request can be claimed again; a request past its deadline is never started (a kick must not
// happen minutes after the admin gave up waiting).
import { randomUUID } from 'node:crypto';
import type { Models } from './models.ts';
import type { RequestDoc } from './models.ts';

export type RequestKind = 'poll' | 'kick';
export type RequestState = 'pending' | 'running' | 'done' | 'failed';

export interface Request<A = unknown, R = unknown> {
  id: string;
  kind: RequestKind;
  /** The server it is about, where only the process holding that server may carry it out; null: any process. */
  server: string | null;
  args: A;
  state: RequestState;
  requestedBy: string;
  requestedAt: Date;
  deadline: Date;
  claimedBy: string | null;
  result: R | null;
  error: string | null;
}

function toRequest<A, R>(d: RequestDoc): Request<A, R> {
  return {
    id: d._id, kind: d.kind as RequestKind, server: d.server ?? null, args: JSON.parse(d.argsJson) as A, state: d.state as RequestState,
    requestedBy: d.requestedBy, requestedAt: d.requestedAt, deadline: d.deadline, claimedBy: d.claimedBy ?? null,
    result: d.resultJson ? (JSON.parse(d.resultJson) as R) : null, error: d.error ?? null,
  };
}

export class Requests {
  constructor(private readonly models: Models) {}

  /** Leaves a request; it must be started before `deadline`. */
  async submit<A>(kind: RequestKind, args: A, opts: { server?: string | null; requestedBy: string; deadline: Date; now?: Date }): Promise<string> {
    const id = randomUUID();
    await this.models.Request.create({
      _id: id, kind, server: opts.server ?? null, argsJson: JSON.stringify(args), state: 'pending', requestedBy: opts.requestedBy,
      requestedAt: opts.now ?? new Date(), deadline: opts.deadline, claimedBy: null, leaseUntil: null, resultJson: null, error: null,
    });
    return id;
  }

  /**
   * Claims the oldest request this process may carry out: of one of `kinds`, for no server or one
   * of `servers`, pending (or running under a lease that expired: its holder died), and not past
   * its deadline. Atomic: two processes never claim the same request.
   */
  async claim<A>(claimant: string, kinds: RequestKind[], servers: string[], leaseMs: number, now = new Date()): Promise<Request<A> | null> {
    const doc = await this.models.Request.findOneAndUpdate(
      {
        kind: { $in: kinds },
        server: { $in: [null, ...servers] },
        deadline: { $gt: now },
        $or: [{ state: 'pending' }, { state: 'running', leaseUntil: { $lt: now } }],
      },
      { $set: { state: 'running', claimedBy: claimant, leaseUntil: new Date(now.getTime() + leaseMs) } },
      { sort: { requestedAt: 1 }, returnDocument: 'after' },
    ).lean();
    return doc ? toRequest<A, never>(doc) : null;
  }

  /** Records the outcome, if `claimant` still holds the request. */
  async finish<R>(id: string, claimant: string, outcome: { result: R } | { error: string }): Promise<void> {
    await this.models.Request.updateOne(
      { _id: id, claimedBy: claimant, state: 'running' },
      { $set: 'error' in outcome ? { state: 'failed', error: outcome.error } : { state: 'done', resultJson: JSON.stringify(outcome.result) } },
    );
  }

  async get<A, R>(id: string): Promise<Request<A, R> | null> {
    const doc = await this.models.Request.findById(id).lean();
    return doc ? toRequest<A, R>(doc) : null;
  }

  /**
   * Waits until the request is done or failed, or its deadline passed without a claim; returns it
   * as it stands then. Checks every `everyMs` (a small collection: one lookup by id).
   */
  async wait<A, R>(id: string, opts: { timeoutMs: number; everyMs?: number }): Promise<Request<A, R>> {
    const until = Date.now() + opts.timeoutMs;
    for (;;) {
      const request = await this.get<A, R>(id);
      if (!request) throw new Error(`request ${id} is gone`);
      if (request.state === 'done' || request.state === 'failed') return request;
      if (Date.now() >= until || (request.state === 'pending' && request.deadline.getTime() <= Date.now())) return request;
      await new Promise((resolve) => setTimeout(resolve, opts.everyMs ?? 200));
    }
  }

  /** Withdraws a request nobody has claimed yet (the asker stopped waiting); false if it was claimed. */
  async withdraw(id: string): Promise<boolean> {
    const res = await this.models.Request.updateOne({ _id: id, state: 'pending' }, { $set: { state: 'failed', error: 'withdrawn: nobody took it in time' } });
    return res.modifiedCount === 1;
  }
}
