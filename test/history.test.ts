// History from a recorded sequence of reads, through the real Poller and HistoryRecorder into the
// real MongoDB-wire server: minute samples (peak online, bytes per minute), a client reconnecting
// with a new Client ID, a server restart (counters back to small values at the same addresses),
// vpnwatch stopping for 10 minutes (a gap, and no pile of bytes in one minute), the roll-up into
// hours, user days and top lists, and retention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VpnSession } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import { HistoryRecorder } from '../src/poll/history-recorder.ts';
import { Poller } from '../src/poll/poller.ts';
import { DAY_MS, decodeKey, encodeKey, FLEET, HOUR_MS, minutesId, stepFor } from '../src/store/history.ts';
import type { Store } from '../src/store/store.ts';
import { goodRead, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const HISTORY = { minutesDays: 7, hoursDays: 400, retentionDays: 400 };
const T0 = Date.parse('2026-11-30T09:00:10.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** A session at its own address with these counters (and Client ID). */
const s = (name: string, n: number, received: number, sent: number, extra: Partial<VpnSession> = {}) =>
  vpnSession(name, n, { bytesReceived: received, bytesSent: sent, connectedAt: '2026-11-30T08:00:00.000Z', ...extra });

async function service(store: Store) {
  const history = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger });
  const poller = new Poller({ store, servers: [testServer('fra-1'), testServer('ams-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history });
  await poller.start();
  return { history, poller };
}

const minuteDoc = async (store: Store, server: string, hourIso: string) =>
  store.models.HistoryMinutes.collection.findOne<{ m: Record<string, number[]>; u: Record<string, number[]> }>({ _id: minutesId(server, Date.parse(hourIso)) } as object);

describe('history from a recorded sequence of reads', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    let { history, poller } = await service(store);
    // 09:00:10 first read ever: two online, nothing to compare bytes with.
    await poller.apply([goodRead('fra-1', at(0), [s('alice', 1, 1_000, 10_000), s('bob', 2, 5_000, 50_000)]), goodRead('ams-1', at(0), [s('carol', 3, 0, 0)])]);
    // 09:00:40 counters grow: alice +100/+1000, bob +50/+500; carol +7/+70.
    await poller.apply([goodRead('fra-1', at(30), [s('alice', 1, 1_100, 11_000), s('bob', 2, 5_050, 50_500)]), goodRead('ams-1', at(30), [s('carol', 3, 7, 70)])]);
    // 09:01:10 bob reconnects with a new Client ID at the same address: his counters start again (20/200).
    await poller.apply([goodRead('fra-1', at(60), [s('alice', 1, 1_200, 12_000), s('bob', 2, 20, 200, { clientId: 22, connectedAt: at(55) })])]);
    // 09:01:40 OpenVPN restarts: new Client IDs, counters back to small values at the same addresses; dave is new.
    await poller.apply([goodRead('fra-1', at(90), [
      s('alice', 1, 3, 30, { clientId: 100, connectedAt: at(85) }), s('bob', 2, 4, 40, { clientId: 101, connectedAt: at(85) }), s('dave', 4, 9, 90, { clientId: 102, connectedAt: at(80) }),
    ])]);
    await history.flush();
    // vpnwatch stops for 10 minutes; a new process reads at 09:11:40: alice moved 1 MB meanwhile.
    ({ history, poller } = await service(store));
    await poller.apply([goodRead('fra-1', at(690), [s('alice', 1, 1_000_003, 30, { clientId: 100, connectedAt: at(85) }), s('bob', 2, 4, 40, { clientId: 101, connectedAt: at(85) })])]);
    // 09:12:10 normal polling again.
    await poller.apply([goodRead('fra-1', at(720), [s('alice', 1, 1_000_103, 530, { clientId: 100, connectedAt: at(85) }), s('bob', 2, 4, 40, { clientId: 101, connectedAt: at(85) })])]);
    await history.flush();
  });
  afterAll(async () => { if (store) await dropTestStore(store); });

  it('samples each minute: the peak online and the bytes moved in it; counters never go negative', async () => {
    const fra = await minuteDoc(store, 'fra-1', '2026-11-30T09:00:00Z');
    expect(fra!.m).toEqual({
      0: [2, 150, 1_500], // first read: no bytes to count; +100+50, +1000+500
      // 09:01: bob's new instance counts whole (20/200), alice +100/+1000; then the restart:
      // every instance new, counted whole (3+4+9 / 30+40+90), never negative.
      1: [3, 100 + 20 + 3 + 4 + 9, 1_000 + 200 + 30 + 40 + 90],
      // 09:02-09:10: vpnwatch was stopped: no samples (gaps, not zeros).
      // 09:11: the first read after the stop: the online count, but its bytes (10 minutes' worth) are in no minute.
      11: [2, 0, 0],
      12: [2, 100, 500],
    });
    expect((await minuteDoc(store, 'ams-1', '2026-11-30T09:00:00Z'))!.m).toEqual({ 0: [1, 7, 70] });
    // The fleet: the sum of the servers' minutes.
    expect((await minuteDoc(store, FLEET, '2026-11-30T09:00:00Z'))!.m).toEqual({ 0: [3, 157, 1_570], 1: [3, 136, 1_360], 11: [2, 0, 0], 12: [2, 100, 500] });
  });

  it("counts each user's bytes, time online and sessions in the hour, including the 10 minutes vpnwatch missed", async () => {
    const u = (await minuteDoc(store, 'fra-1', '2026-11-30T09:00:00Z'))!.u;
    expect(Object.keys(u).map(decodeKey).sort()).toEqual(['alice', 'bob', 'dave']);
    // alice: +100, +100, restart 3, +1,000,000 over the stop, +100; time: 30+30, 5 s of the new instance, 600 over the stop, 30.
    expect(u.alice).toEqual([100 + 100 + 3 + 1_000_000 + 100, 1_000 + 1_000 + 30 + 0 + 500, 30 + 30 + 5 + 600 + 30, 2]);
    // bob: 30 s, his new instance from its connect (5 s), the restarted one (5 s), the stop, 30 s.
    expect(u.bob).toEqual([50 + 20 + 4, 500 + 200 + 40, 30 + 5 + 5 + 600 + 30, 3]);
    expect(u.dave).toEqual([9, 90, 10, 1]);
  });

  it('GET /api/history points: peaks and means per step, gaps left out', async () => {
    const answer = await store.history.series(new Date('2026-11-30T09:00:00Z'), new Date('2026-11-30T10:00:00Z'), ['all', 'fra-1']);
    expect(answer.stepSeconds).toBe(60);
    expect(answer.series.map((x) => x.server)).toEqual(['all', 'fra-1']);
    expect(answer.series[1]!.points).toEqual([
      { at: '2026-11-30T09:00:00.000Z', online: 2, avgOnline: 2, bytesReceived: 150, bytesSent: 1_500 },
      { at: '2026-11-30T09:01:00.000Z', online: 3, avgOnline: 3, bytesReceived: 136, bytesSent: 1_360 },
      { at: '2026-11-30T09:11:00.000Z', online: 2, avgOnline: 2, bytesReceived: 0, bytesSent: 0 },
      { at: '2026-11-30T09:12:00.000Z', online: 2, avgOnline: 2, bytesReceived: 100, bytesSent: 500 },
    ]);
    // A 24 h range has 3-minute steps: 09:00-09:02 holds the minutes 0 and 1.
    const day = await store.history.series(new Date('2026-11-29T10:00:00Z'), new Date('2026-11-30T10:00:00Z'), ['fra-1']);
    expect(day.stepSeconds).toBe(180);
    expect(day.series[0]!.points[0]).toEqual({ at: '2026-11-30T09:00:00.000Z', online: 3, avgOnline: 2.5, bytesReceived: 286, bytesSent: 2_860 });
    expect(day.series[0]!.points).toHaveLength(3);
  });

  it('rolls minutes up into hours, users into days and top lists', async () => {
    const result = await store.history.rollUp(new Date('2026-11-30T10:05:00Z'), HISTORY);
    expect(result.users).toBe(4);
    const hours = await store.models.HistoryHours.collection.findOne<{ h: Record<string, number[]> }>({ _id: 'fra-1|2026-11-30' } as object);
    // peak 3, mean of the minute peaks (2+3+2+2)/4, bytes summed, 4 minutes sampled
    expect(hours!.h).toEqual({ 9: [3, 2.25, 386, 3_360, 4] });
    const fleet = await store.models.HistoryHours.collection.findOne<{ h: Record<string, number[]> }>({ _id: '*|2026-11-30' } as object);
    expect(fleet!.h).toEqual({ 9: [3, 2.5, 393, 3_430, 4] });
    // A 30-day range reads hours (2-hour steps).
    const month = await store.history.series(new Date('2026-11-01T10:00:00Z'), new Date('2026-12-01T10:00:00Z'), ['all']);
    expect(month.stepSeconds).toBe(7200);
    expect(month.series[0]!.points).toEqual([{ at: '2026-11-30T08:00:00.000Z', online: 3, avgOnline: 2.5, bytesReceived: 393, bytesSent: 3_430 }]);

    expect(await store.history.userDays('alice', 7, new Date('2026-11-30T12:00:00Z'))).toEqual([
      { day: '2026-11-30', bytesReceived: 1_000_303, bytesSent: 2_530, onlineSeconds: 695, sessions: 2, servers: ['fra-1'] },
    ]);
    expect(await store.history.userDays('carol', 7, new Date('2026-11-30T12:00:00Z'))).toEqual([
      { day: '2026-11-30', bytesReceived: 7, bytesSent: 70, onlineSeconds: 30, sessions: 1, servers: ['ams-1'] },
    ]);
    const top = await store.history.top('24h', 'bytes');
    expect(top.users.map((x) => [x.user, x.bytesReceived + x.bytesSent])).toEqual([['alice', 1_002_833], ['bob', 814], ['dave', 99], ['carol', 77]]);
    expect((await store.history.top('30d', 'time')).users.map((x) => [x.user, x.onlineSeconds])).toEqual([['alice', 695], ['bob', 670], ['carol', 30], ['dave', 10]]);
  });

  it('a roll-up run twice gives the same documents', async () => {
    const snapshot = async () => ({
      hours: await store.models.HistoryHours.find({}).sort({ _id: 1 }).lean(),
      days: await store.models.HistoryUserDays.find({}).sort({ _id: 1 }).lean(),
    });
    const before = await snapshot();
    await store.history.rollUp(new Date('2026-11-30T10:06:00Z'), HISTORY);
    expect(await snapshot()).toEqual(before);
  });
});

describe('history details', () => {
  it('field names survive any common name', () => {
    for (const name of ['a.b', '$where', '100%', 'x%2Ey', 'UNDEF', 'ünï cødé']) expect(decodeKey(encodeKey(name))).toBe(name);
    expect(encodeKey('a.b$c')).not.toMatch(/[.$]/);
  });

  it('steps fit at most 500 points: whole minutes up to an hour, then whole hours', () => {
    expect(stepFor(HOUR_MS)).toBe(60_000);
    expect(stepFor(DAY_MS)).toBe(180_000);
    expect(stepFor(7 * DAY_MS)).toBe(21 * 60_000);
    expect(stepFor(30 * DAY_MS)).toBe(2 * HOUR_MS);
    expect(stepFor(400 * DAY_MS)).toBe(20 * HOUR_MS);
    for (const days of [1, 2, 3, 7, 10, 30, 90, 400]) expect(Math.ceil((days * DAY_MS) / stepFor(days * DAY_MS))).toBeLessThanOrEqual(500);
  });
});

describe('history writes and retention', () => {
  let store: Store;
  beforeAll(async () => { store = await openTestStore(); });
  afterAll(async () => { if (store) await dropTestStore(store); });

  it('a failed flush loses nothing and a repeated one counts nothing twice', async () => {
    let failures = 1;
    const flaky = {
      loadMinutes: (ids: string[]) => store.history.loadMinutes(ids),
      sumMinutes: (...args: Parameters<Store['history']['sumMinutes']>) => store.history.sumMinutes(...args),
      writeMinutes: async (...args: Parameters<Store['history']['writeMinutes']>) => {
        if (failures-- > 0) throw new Error('connection reset');
        return store.history.writeMinutes(...args);
      },
    };
    const history = new HistoryRecorder({ history: flaky, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger });
    const poller = new Poller({ store, servers: [testServer('lon-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history });
    await poller.start();
    const read = (sec: number, received: number, more: VpnSession[] = []) => goodRead('lon-1', new Date(Date.parse('2026-12-01T07:00:00Z') + sec * 1000).toISOString(), [s('erin', 5, received, 0), ...more]);
    await poller.apply([read(0, 1_000)]); // its flush fails
    await poller.apply([read(20, 1_500)]);
    // 15 s later: flushed again. frank comes, so the online list (with erin's counters) is stored too.
    await poller.apply([read(40, 1_800, [s('frank', 6, 0, 0)])]);
    await history.flush();
    await history.flush();
    expect(failures).toBeLessThan(0);
    const doc = await minuteDoc(store, 'lon-1', '2026-12-01T07:00:00Z');
    expect(doc!.m).toEqual({ 0: [2, 800, 0] });
    expect(doc!.u[encodeKey('erin')]).toEqual([800, 0, 40, 1]);
  });

  // Known limit: the stored baseline's counters are written with the online list, at most every
  // 30 s (src/poll/poller.ts); after a crash, bytes moved since that write are counted again.

  it('a restarted recorder continues the stored hour instead of overwriting it', async () => {
    const read = (sec: number, received: number, more: VpnSession[] = []) => goodRead('lon-1', new Date(Date.parse('2026-12-01T07:00:00Z') + sec * 1000).toISOString(), [s('erin', 5, received, 0), ...more]);
    const { history, poller } = await (async () => {
      const h = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger });
      const p = new Poller({ store, servers: [testServer('lon-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history: h });
      await p.start();
      return { history: h, poller: p };
    })();
    await poller.apply([read(50, 1_900, [s('frank', 6, 50, 0)])]);
    await history.flush();
    const doc = await minuteDoc(store, 'lon-1', '2026-12-01T07:00:00Z');
    expect(doc!.m).toEqual({ 0: [2, 950, 0] });
    expect(doc!.u[encodeKey('erin')]).toEqual([900, 0, 50, 1]);
  });

  it('two replicas, each polling some servers: the fleet minute is the sum of every server, whichever flushed last', async () => {
    const fleetServers = () => ['rep-a', 'rep-b'];
    const replica = async (server: string) => {
      const h = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger, fleetServers });
      const p = new Poller({ store, servers: [testServer(server)], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history: h });
      await p.start();
      return { h, p };
    };
    const a = await replica('rep-a');
    const b = await replica('rep-b');
    const at2 = (sec: number) => new Date(Date.parse('2026-12-02T05:00:00Z') + sec * 1000).toISOString();
    // Minute 0: rep-a has 2 online, rep-b 3; counters grow by 100 and 10 a read.
    await a.p.apply([goodRead('rep-a', at2(5), [s('ann', 1, 0, 0), s('ben', 2, 0, 0)])]);
    await b.p.apply([goodRead('rep-b', at2(5), [s('cat', 3, 0, 0), s('dan', 4, 0, 0), s('eve', 5, 0, 0)])]);
    await a.p.apply([goodRead('rep-a', at2(35), [s('ann', 1, 100, 0), s('ben', 2, 0, 0)])]);
    await b.p.apply([goodRead('rep-b', at2(35), [s('cat', 3, 10, 0), s('dan', 4, 0, 0), s('eve', 5, 0, 0)])]);
    await a.h.flush();
    await b.h.flush();
    await a.h.flush(); // a flushes last: without the store's sum it would write its own servers only
    const fleet = await minuteDoc(store, FLEET, '2026-12-02T05:00:00Z');
    expect(fleet!.m).toEqual({ 0: [5, 110, 0] });
  });

  it('a server handed to another replica and back within the hour: each holder continues the hour from the store', async () => {
    const replica = async () => {
      const h = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger, fleetServers: () => ['hand-1'] });
      const p = new Poller({ store, servers: [testServer('hand-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history: h });
      await p.start();
      return { h, p };
    };
    const t = (sec: number) => new Date(Date.parse('2026-12-03T06:00:00Z') + sec * 1000).toISOString();
    const gus = (received: number) => [s('gus', 7, received, 0)];
    const a = await replica();
    await a.p.apply([goodRead('hand-1', t(5), gus(0))]);
    await a.p.apply([goodRead('hand-1', t(35), gus(100))]); // +100 by a
    // Handed over to b, as main does when a lease is lost: the poller and the recorder let go.
    await a.p.forget(['hand-1']);
    await a.h.forget(['hand-1']);
    const b = await replica();
    await b.p.apply([goodRead('hand-1', t(65), gus(300))]); // +200 by b
    await b.h.flush();
    await b.p.forget(['hand-1']);
    await b.h.forget(['hand-1']);
    // And back to a.
    await a.p.adopt([{ name: 'hand-1', handover: true }]);
    await a.p.apply([goodRead('hand-1', t(95), gus(350))]); // +50 by a
    await a.h.flush();
    const doc = await minuteDoc(store, 'hand-1', '2026-12-03T06:00:00Z');
    expect(doc!.u[encodeKey('gus')]![0]).toBe(350);
    expect(Object.fromEntries(Object.entries(doc!.m).map(([m, v]) => [m, v[1]]))).toEqual({ 0: 100, 1: 250 });
  });

  it('deletes minutes, hours, user days, sessions, events and kicks past their retention, and keeps the rest', async () => {
    const now = new Date('2026-12-05T00:00:00Z');
    const daysAgo = (d: number) => new Date(now.getTime() - d * DAY_MS);
    const m = store.models;
    await m.HistoryMinutes.collection.insertMany([
      { _id: 'old|m', server: 'x', hour: daysAgo(8), m: {}, u: {}, expireAt: daysAgo(1) },
      { _id: 'new|m', server: 'x', hour: daysAgo(6), m: {}, u: {}, expireAt: daysAgo(-1) },
    ] as never);
    await m.HistoryUserDays.collection.insertMany([
      { _id: 'old|d', user: 'x', day: daysAgo(402), bytesReceived: 0, bytesSent: 0, onlineSeconds: 0, sessions: 0, servers: [], expireAt: daysAgo(1) },
      { _id: 'new|d', user: 'x', day: daysAgo(300), bytesReceived: 0, bytesSent: 0, onlineSeconds: 0, sessions: 0, servers: [], expireAt: daysAgo(-100) },
    ] as never);
    const session = (id: number, disconnectedAt: Date | null) => ({ server: 'x', key: `k${id}`, user: 'x', commonName: 'x', realAddress: '203.0.113.1', connectedAt: daysAgo(500), disconnectedAt });
    await m.Session.create([session(1, daysAgo(401)), session(2, daysAgo(399)), session(3, null)]);
    await m.Event.create([{ type: 'server-up', server: 'x', at: daysAgo(401), cycle: 'c', seq: 1 }, { type: 'server-up', server: 'x', at: daysAgo(1), cycle: 'c', seq: 2 }]);
    await m.Kick.create([{ at: daysAgo(401), target: 'x', result: 'kicked' }, { at: daysAgo(2), target: 'x', result: 'kicked' }]);
    const deleted = await store.history.deleteExpired(now, HISTORY);
    expect(deleted).toEqual({ minutes: 1, hours: 0, userHours: 0, days: 0, userDays: 1, sessions: 1, events: 1, kicks: 1 });
    expect((await m.HistoryMinutes.find({ _id: { $in: ['old|m', 'new|m'] } }).lean()).map((d) => d._id)).toEqual(['new|m']);
    expect((await m.HistoryUserDays.find({}).lean()).map((d) => d._id)).toEqual(['new|d']);
    expect((await m.Session.find({ user: 'x' }).sort({ key: 1 }).lean()).map((d) => d.key)).toEqual(['k2', 'k3']); // an online session stays
    expect(await m.Event.countDocuments({ server: 'x' })).toBe(1);
    expect(await m.Kick.countDocuments()).toBe(1);
    // A shorter setting applies to documents written under a longer one.
    expect((await store.history.deleteExpired(now, { ...HISTORY, minutesDays: 5 })).minutes).toBe(1);
  });

  it('creates TTL indexes for a real MongoDB, and changes them with RETENTION_DAYS', async () => {
    await store.history.ensureRetentionIndexes(HISTORY);
    await store.history.ensureRetentionIndexes({ ...HISTORY, retentionDays: 30 });
    const ttl = (await store.models.Session.collection.indexes()).find((i) => i.name === 'retention_disconnectedAt');
    expect(ttl?.expireAfterSeconds).toBe(30 * 86_400);
  });
});
