// How replicas hear of each other's changes (src/poll/change-feed.ts over src/store/changes.ts),
// against a real MongoDB-wire server: what one replica's poller publishes reaches the other's
// LiveFeed once, with its origin, and is not recorded again there; a change whose number was taken
// before another's but written after it still arrives.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../src/poll/change-feed.ts';
import { LiveFeed, type LiveUpdate } from '../src/poll/live-feed.ts';
import type { Store } from '../src/store/store.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const silent = pino({ level: 'silent' });
let store: Store;
beforeAll(async () => { store = await openTestStore(); });
afterAll(async () => { await dropTestStore(store); });

function replica(id: string) {
  const live = new LiveFeed();
  const heard: LiveUpdate[] = [];
  live.subscribe((u) => { if (u.origin) heard.push(u); });
  // A long interval: the test reads by hand.
  const feed = new ChangeFeed({ changes: store.changes, live, replicaId: id, log: silent, everyMs: 3600_000 });
  return { live, heard, feed };
}

describe('ChangeFeed', () => {
  it('a change stored by one replica reaches the other once, with its origin; nobody hears their own', async () => {
    const a = replica('a');
    const b = replica('b');
    await Promise.all([a.feed.start(), b.feed.start()]);
    const update = { at: '2026-11-28T10:00:00.000Z', servers: ['fra-1'], sessions: ['fra-1'], health: [], counters: [], events: [{ type: 'connected' as const, server: 'fra-1', user: 'alice' }] };
    a.live.publish(update);
    await a.feed.stop(); // waits for the record
    await b.feed.read();
    await b.feed.read();
    expect(b.heard).toEqual([{ ...update, origin: 'a' }]);
    // What b heard is not recorded again (it has an origin): only a's change is stored.
    expect((await store.changes.since(0)).map((c) => c.replica)).toEqual(['a']);
    await a.feed.read();
    expect(a.heard).toEqual([]);
    await b.feed.stop();
  });

  it('a number taken before another but written after it is still delivered', async () => {
    const b = replica('b');
    await b.feed.start();
    // Replica x takes a number and is slow to write; replica y takes the next and writes at once.
    const taken = (await store.models.Counter.findOneAndUpdate({ _id: 'changes' }, { $inc: { seq: 1 } }, { returnDocument: 'after' }).lean())!.seq;
    const change = (server: string) => ({ at: '2026-11-28T10:00:02.000Z', servers: [server], sessions: [], health: [server], counters: [], events: [] });
    await store.changes.record({ at: new Date('2026-11-28T10:00:02.000Z'), replica: 'y', update: change('ams-1') });
    await b.feed.read();
    expect(b.heard.map((u) => u.origin)).toEqual(['y']);
    await store.models.Change.collection.insertOne({ _id: taken as never, at: new Date('2026-11-28T10:00:01.000Z'), replica: 'x', updateJson: JSON.stringify(change('lon-1')) });
    await b.feed.read();
    expect(b.heard.map((u) => [u.origin, u.servers])).toEqual([['y', ['ams-1']], ['x', ['lon-1']]]);
    await b.feed.read();
    expect(b.heard).toHaveLength(2); // once each
    await b.feed.stop();
  });
});
