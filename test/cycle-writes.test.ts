// A poll cycle's writes are idempotent: when a write fails part-way (at any operation of any of
// the five bulk writes), the baseline does not advance, the same changes are written again, and the
// store ends up exactly as if nothing had failed: every event once, every session once, user totals
// counted once. Against the real MongoDB-wire server, failing each operation in turn.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/store.ts';
import type { CycleStage } from '../src/store/cycle-writes.ts';
import type { ServerRead } from '../src/domain.ts';
import { goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const T = (s: number) => new Date(Date.UTC(2026, 10, 28, 10, 0, s)).toISOString();

/** Two servers: fra-1 loses alice, gains carol, and bob reconnects with a new Client ID; ams-1 gets dave. */
const first: ServerRead[] = [
  goodRead('fra-1', T(0), [vpnSession('alice', 1), vpnSession('bob', 2)]),
  goodRead('ams-1', T(0), [vpnSession('erin', 5)]),
];
const second: ServerRead[] = [
  goodRead('fra-1', T(30), [vpnSession('bob', 2, { clientId: 22, bytesReceived: 10, connectedAt: T(25) }), vpnSession('carol', 3, { connectedAt: T(20) })]),
  goodRead('ams-1', T(30), [vpnSession('erin', 5, { bytesReceived: 99_000 }), vpnSession('dave', 4, { connectedAt: T(10) })]),
];

const COLLECTIONS = { events: 'Event', outbox: 'Outbox', sessions: 'Session', users: 'User', servers: 'Server' } as const;

/** Everything the store holds, in a form two stores can be compared by (no write counters, no seq). */
async function contents(store: Store) {
  // Event and session ids are derived from what they record, so they must match; user and server
  // ids are the engine's own, so those are compared by name.
  const strip = <T extends Record<string, unknown>>(docs: T[], drop: string[], by: string) =>
    docs.map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !drop.includes(k)))).sort((a, b) => String(a[by]).localeCompare(String(b[by])));
  const { Event, Outbox, Session, User, Server } = store.models;
  return {
    events: strip(await Event.find({}).lean(), ['seq'], '_id'),
    outbox: strip(await Outbox.find({}).lean(), ['seq'], '_id'),
    sessions: strip(await Session.find({}).lean(), [], '_id'),
    users: strip(await User.find({}).lean(), ['_id'], 'name'),
    servers: strip(await Server.find({}).lean(), ['_id', 'revision', 'createdAt', 'updatedAt'], 'name'),
  };
}

/** The store after `first` then `second`, written without failures. */
async function reference() {
  const store = await openTestStore();
  try {
    const poller = await testPoller(store, ['fra-1', 'ams-1']);
    await poller.apply(first);
    await poller.apply(second);
    return await contents(store);
  } finally {
    await dropTestStore(store);
  }
}

/**
 * Writes `first`, then `second` with the `stage` bulk write failing after `applied` of its
 * operations went through, then `second` again (the retry), and returns what the store holds.
 */
async function withFailure(stage: CycleStage, applied: number) {
  const store = await openTestStore();
  try {
    const poller = await testPoller(store, ['fra-1', 'ams-1']);
    await poller.apply(first);
    const collection = store.models[COLLECTIONS[stage]].collection;
    const original = collection.bulkWrite.bind(collection);
    let operations = 0;
    let failed = false;
    collection.bulkWrite = (async (ops: Parameters<typeof original>[0], options: Parameters<typeof original>[1]) => {
      if (failed) return original(ops, options);
      failed = true;
      operations = ops.length;
      if (applied > 0) await original(ops.slice(0, applied), options);
      throw new Error(`injected: ${stage} failed after ${applied} of ${ops.length} operations`);
    }) as typeof collection.bulkWrite;
    await expect(poller.apply(second)).rejects.toThrow(/injected/);
    await poller.apply(second);
    return { contents: await contents(store), operations, events: await store.queries.eventsSince(new Date(0)) };
  } finally {
    await dropTestStore(store);
  }
}

let expected: Awaited<ReturnType<typeof reference>>;
beforeAll(async () => { expected = await reference(); });

describe('a cycle written again after a failed write stores its changes once', () => {
  it('the reference: what the changes are', () => {
    expect(expected.events.map((e) => [e.server, e.type, e.user]).sort()).toEqual([
      ['ams-1', 'connected', 'dave'], ['fra-1', 'connected', 'carol'], ['fra-1', 'disconnected', 'alice'], ['fra-1', 'reconnected', 'bob'],
    ]);
    expect(expected.sessions).toHaveLength(6); // alice, bob (ended), bob (new), carol, erin, dave
    const users = Object.fromEntries(expected.users.map((u) => [u.name, [u.sessionCount, u.totalBytesReceived]]));
    expect(users).toEqual({ alice: [1, 1000], bob: [2, 2000], carol: [1, 0], dave: [1, 0], erin: [1, 0] });
  });

  for (const stage of Object.keys(COLLECTIONS) as CycleStage[]) {
    it(`a failure at every operation of the ${stage} write`, async () => {
      const { operations } = await withFailure(stage, 0);
      expect(operations).toBeGreaterThan(1);
      for (let applied = 0; applied < operations; applied++) {
        const run = await withFailure(stage, applied);
        expect(run.contents, `${stage} failing after ${applied} of ${operations}`).toEqual(expected);
        // Paging order: sequence numbers are unique and follow the write order.
        const seqs = run.events.map((e) => e.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
      }
    });
  }
});
