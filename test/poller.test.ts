// The Poller's own rules on top of the diff, against a real store: sessions known to be leaving
// (an exit notice, a kick) are not online while OpenVPN still lists them, and another process's
// writes are caught up with before a diff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/store.ts';
import type { Poller } from '../src/poll/poller.ts';
import { pino } from 'pino';
import { logger } from '../src/log.ts';
import { Poller as PollerClass } from '../src/poll/poller.ts';
import { failedRead, goodRead, testPoller, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

let store: Store;
let poller: Poller;
beforeAll(async () => {
  store = await openTestStore();
  poller = await testPoller(store, ['fra-1']);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 1), vpnSession('bob', 2)])]);
});
afterAll(async () => { await dropTestStore(store); });

const types = async () => (await store.queries.eventsSince(new Date(0))).map((e) => [e.type, e.user]);

describe('Poller: sessions known to be leaving', () => {
  it('a session marked leaving is disconnected at once, and reads that still list it do not bring it back', async () => {
    expect(poller.noteLeaving('fra-1', vpnSession('alice', 1))).toBe(true);
    const stillListed = [vpnSession('alice', 1), vpnSession('bob', 2)];
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:02.000Z', stillListed)]);
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:04.000Z', stillListed)]);
    expect(await types()).toEqual([['disconnected', 'alice']]);
    expect((await store.queries.online()).map((s) => s.commonName)).toEqual(['bob']);
  });

  it('a new instance at the same address (another Client ID) is not hidden by the mark', async () => {
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:06.000Z', [vpnSession('alice', 1, { clientId: 77 }), vpnSession('bob', 2)])]);
    expect(await types()).toEqual([['disconnected', 'alice'], ['connected', 'alice']]);
  });

  it('nothing to mark when the session is not online', () => {
    expect(poller.noteLeaving('fra-1', vpnSession('nobody', 9))).toBe(false);
    expect(poller.noteLeaving('ams-9', vpnSession('bob', 2))).toBe(false);
  });

  it('a kicked session is both marked leaving and recorded as kicked', async () => {
    poller.noteKicked('fra-1', [vpnSession('bob', 2)]);
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:08.000Z', [vpnSession('alice', 1, { clientId: 77 }), vpnSession('bob', 2)])]);
    const last = (await store.queries.eventsSince(new Date(0))).at(-1)!;
    expect([last.type, last.user, last.endedBy]).toEqual(['disconnected', 'bob', 'kicked']);
    expect((await store.queries.recent(1))[0]).toMatchObject({ user: 'bob', endedBy: 'kicked' });
  });
});

describe('Poller: byte counters are batched', () => {
  it('an unchanged online list is not rewritten on every read; a change writes it at once', async () => {
    const local = await openTestStore();
    try {
      const p = await testPoller(local, ['ams-1']);
      await p.apply([goodRead('ams-1', '2026-11-28T11:00:00.000Z', [vpnSession('erin', 5)])]);
      // Two more reads seconds apart (a management stream reads every 2 s): counters grow, nobody comes or goes.
      await p.apply([goodRead('ams-1', '2026-11-28T11:00:02.000Z', [vpnSession('erin', 5, { bytesReceived: 9_000 })])]);
      await p.apply([goodRead('ams-1', '2026-11-28T11:00:04.000Z', [vpnSession('erin', 5, { bytesReceived: 12_000 })])]);
      expect((await local.queries.online('ams-1'))[0]!.bytesReceived).toBe(5_000); // as first written
      expect((await local.queries.servers())[0]!.lastPollAt).toEqual(new Date('2026-11-28T11:00:04.000Z')); // the state is current
      await p.apply([goodRead('ams-1', '2026-11-28T11:00:06.000Z', [vpnSession('erin', 5, { bytesReceived: 15_000 }), vpnSession('frank', 6)])]);
      expect((await local.queries.online('ams-1')).map((s) => [s.commonName, s.bytesReceived])).toEqual([['erin', 15_000], ['frank', 6_000]]);
    } finally {
      await dropTestStore(local);
    }
  });
});

describe('Poller: each source has its own state', () => {
  it('a status file that fails while the management stream serves: the server stays ok, the file shows as failing, logged once', async () => {
    const local = await openTestStore();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
    try {
      const p = new PollerClass({ store: local, servers: [testServer('lon-1')], pollIntervalSeconds: 30, downAfter: 1, targets: () => ['log'], log });
      await p.start();
      const streamRead = (at: string) => ({ ...goodRead('lon-1', at, [vpnSession('gina', 7)]), source: 'management' as const });
      await p.apply([streamRead('2026-11-28T12:00:00.000Z')]);
      for (const at of ['2026-11-28T12:00:01.000Z', '2026-11-28T12:00:31.000Z', '2026-11-28T12:01:01.000Z']) {
        await p.apply([streamRead(at)]);
        await p.apply([failedRead('lon-1', at, 'lon-1: cannot read /run/openvpn/status.log: Permission denied')]);
      }
      const [server] = await local.queries.servers();
      expect(server).toMatchObject({ lastResult: 'ok', down: false, consecutiveFailures: 0, source: 'management' });
      expect(server!.sources['status-file']).toMatchObject({ result: 'error', error: 'lon-1: cannot read /run/openvpn/status.log: Permission denied', since: new Date('2026-11-28T12:00:01.000Z') });
      expect(server!.sources.management).toMatchObject({ result: 'ok' });
      expect(await local.queries.eventsSince(new Date(0))).toEqual([]); // no server-down
      expect(lines.filter((l) => /Permission denied/.test(String(l.msg)))).toHaveLength(1);
      // The file is read again: one line says so, and its state is ok.
      await p.apply([goodRead('lon-1', '2026-11-28T12:01:30.000Z', [vpnSession('gina', 7)])]);
      expect((await local.queries.servers())[0]!.sources['status-file']).toMatchObject({ result: 'ok' });
      expect(lines.filter((l) => /status file is read again/.test(String(l.msg)))).toHaveLength(1);
    } finally {
      await dropTestStore(local);
    }
  });
});

describe('Poller: while the database takes no writes', () => {
  /** Makes every write fail until the returned function is called. */
  function breakWrites(store: Store): () => void {
    const restore: (() => void)[] = [];
    for (const model of Object.values(store.models)) {
      const collection = model.collection;
      const original = collection.bulkWrite;
      collection.bulkWrite = (async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:27017'); }) as typeof collection.bulkWrite;
      restore.push(() => { collection.bulkWrite = original; });
    }
    return () => restore.forEach((r) => r());
  }

  it('holds the changes it finds, in order, and writes them with their real times once the database is back', async () => {
    const local = await openTestStore();
    try {
      const p = await testPoller(local, ['fra-1']);
      await p.apply([goodRead('fra-1', '2026-11-28T13:00:00.000Z', [vpnSession('alice', 1), vpnSession('bob', 2)])]);
      const repair = breakWrites(local);
      await expect(p.apply([goodRead('fra-1', '2026-11-28T13:00:30.000Z', [vpnSession('bob', 2)])])).rejects.toThrow(/1 batch\(es\) with 1 event\(s\) are held/);
      // State-only reads during the outage replace each other instead of piling up.
      for (const second of [40, 45, 50]) await expect(p.apply([goodRead('fra-1', `2026-11-28T13:00:${second}.000Z`, [vpnSession('bob', 2)])])).rejects.toThrow(/held/);
      await expect(p.apply([goodRead('fra-1', '2026-11-28T13:01:00.000Z', [vpnSession('bob', 2), vpnSession('carol', 3)])])).rejects.toThrow(/held/);
      expect(p.heldBatches).toBe(3);
      repair();
      await p.apply([goodRead('fra-1', '2026-11-28T13:01:30.000Z', [vpnSession('bob', 2), vpnSession('carol', 3)])]);
      expect(p.heldBatches).toBe(0);
      const events = await local.queries.eventsSince(new Date(0));
      expect(events.map((e) => [e.type, e.user, e.at])).toEqual([
        ['disconnected', 'alice', '2026-11-28T13:00:30.000Z'],
        ['connected', 'carol', '2026-11-28T13:01:00.000Z'],
      ]);
      expect(events.every((e) => e.deliveries.every((d) => d.state === 'pending'))).toBe(true);
      expect((await local.queries.servers())[0]!.lastPollAt).toEqual(new Date('2026-11-28T13:01:30.000Z'));
    } finally {
      await dropTestStore(local);
    }
  });

  it('past its limit it stops diffing: nothing is lost, later changes get the time of the read that finds them', async () => {
    const local = await openTestStore();
    try {
      const p = new PollerClass({ store: local, servers: [testServer('fra-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, holdLimit: { events: 1, batches: 100 } });
      await p.start();
      await p.apply([goodRead('fra-1', '2026-11-28T14:00:00.000Z', [vpnSession('alice', 1), vpnSession('bob', 2)])]);
      const repair = breakWrites(local);
      await expect(p.apply([goodRead('fra-1', '2026-11-28T14:00:30.000Z', [vpnSession('bob', 2)])])).rejects.toThrow(/held/); // alice left: held
      await expect(p.apply([goodRead('fra-1', '2026-11-28T14:01:00.000Z', [])])).rejects.toThrow(/held/); // full: bob's leaving is not diffed yet
      repair();
      await p.apply([goodRead('fra-1', '2026-11-28T14:01:30.000Z', [])]);
      expect((await local.queries.eventsSince(new Date(0))).map((e) => [e.type, e.user, e.at])).toEqual([
        ['disconnected', 'alice', '2026-11-28T14:00:30.000Z'],
        ['disconnected', 'bob', '2026-11-28T14:01:30.000Z'],
      ]);
    } finally {
      await dropTestStore(local);
    }
  });
});

describe('Poller: the parser\'s warnings', () => {
  it('are logged once per server, not once per read', async () => {
    const local = await openTestStore();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
    try {
      const p = new PollerClass({ store: local, servers: [testServer('nyc-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log });
      await p.start();
      const warned = (at: string) => {
        const read = goodRead('nyc-1', at, [vpnSession('alice', 1)]);
        return read.ok ? { ...read, snapshot: { ...read.snapshot, warnings: ['line 4: Sun Nov  3 01:30:00 2024 happens twice in America/New_York (the clock goes back): read as the first, 05:30Z'] } } : read;
      };
      for (const at of ['2026-11-28T12:00:00.000Z', '2026-11-28T12:00:30.000Z', '2026-11-28T12:01:00.000Z']) await p.apply([warned(at)]);
      expect(lines.filter((l) => /happens twice/.test(String(l.msg))).map((l) => l.msg)).toEqual(['nyc-1: line 4: Sun Nov  3 01:30:00 2024 happens twice in America/New_York (the clock goes back): read as the first, 05:30Z']);
    } finally {
      await dropTestStore(local);
    }
  });
});
