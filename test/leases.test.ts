// Leases between replicas (src/store/leases.ts, src/poll/leases.ts) against a real MongoDB-wire
// server: takes are atomic, shares are fair, a dead holder's leases are taken over after they
// expire, a new replica gets its share by handover, and a holder that cannot renew stops in time.
// The clock is a variable the test moves; the database is real.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fairShare, LeaseKeeper, type TakenLease } from '../src/poll/leases.ts';
import type { Store } from '../src/store/store.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const silent = pino({ level: 'silent' });
const LEASE_MS = 20_000;
const TICK_MS = 3_000;

let store: Store;
beforeAll(async () => { store = await openTestStore(); });
afterAll(async () => { await dropTestStore(store); });

describe('fairShare', () => {
  it('splits the leases so that shares differ by at most one, the remainder going to the first ids', () => {
    for (const count of [0, 1, 2, 7, 10, 1000]) {
      for (const replicas of [['a'], ['a', 'b'], ['a', 'b', 'c'], ['c', 'a', 'b', 'd']]) {
        const shares = replicas.map((me) => fairShare(count, replicas, me));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(count);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
    expect(['a', 'b', 'c'].map((me) => fairShare(10, ['c', 'b', 'a'], me))).toEqual([4, 3, 3]);
    expect(fairShare(5, [], 'solo')).toBe(5); // not registered yet: counts itself
  });
});

describe('Leases (documents)', () => {
  const names = Array.from({ length: 40 }, (_, i) => `take:${i}`);

  it('two replicas taking the same free leases at once get disjoint sets that cover them all', async () => {
    await store.leases.create(names);
    await store.leases.create(names); // again: a second replica creating the same documents is not an error
    const now = new Date('2026-11-28T10:00:00.000Z');
    const [a, b] = await Promise.all([store.leases.take(names, 'a', LEASE_MS, now), store.leases.take(names, 'b', LEASE_MS, now)]);
    expect(a.filter((n) => b.includes(n))).toEqual([]);
    expect([...a, ...b].sort()).toEqual([...names].sort());
  });

  it('a held lease is not taken before it expires; at its expiry it is', async () => {
    const [name] = names;
    const holder = (await store.leases.list([name!]))[0]!.holder!;
    const other = holder === 'a' ? 'b' : 'a';
    const at = (ms: number) => new Date(Date.parse('2026-11-28T10:00:00.000Z') + ms);
    expect(await store.leases.take([name!], other, LEASE_MS, at(LEASE_MS - 1))).toEqual([]);
    expect(await store.leases.renew([name!], other, LEASE_MS, at(LEASE_MS - 1))).toEqual([]); // only the holder renews
    expect(await store.leases.take([name!], other, LEASE_MS, at(LEASE_MS))).toEqual([name]);
    expect(await store.leases.renew([name!], holder, LEASE_MS, at(LEASE_MS + 1))).toEqual([]); // the old holder lost it
  });

  it('a released lease is free at once and says how it was let go', async () => {
    const name = names[1]!;
    const holder = (await store.leases.list([name]))[0]!.holder!;
    const now = new Date('2026-11-28T10:00:05.000Z');
    await store.leases.release([name], holder, 'handover', now);
    expect((await store.leases.list([name]))[0]).toMatchObject({ holder, released: 'handover', expiresAt: now });
    expect(await store.leases.renew([name], holder, LEASE_MS, now)).toEqual([]); // released: not renewed
    expect(await store.leases.take([name], 'c', LEASE_MS, now)).toEqual([name]);
    expect((await store.leases.list([name]))[0]).toMatchObject({ holder: 'c', released: null });
  });
});

/** Keepers on one shared, test-driven clock; each replica heartbeats like the request runner does. */
function cluster(names: string[], opts: { balance?: boolean } = {}) {
  let now = Date.parse('2026-11-28T12:00:00.000Z');
  const clock = () => new Date(now);
  const replicas = new Map<string, { keeper: LeaseKeeper; taken: TakenLease[][]; lost: string[][]; alive: boolean }>();
  return {
    advance(ms: number) { now += ms; },
    get: (id: string) => replicas.get(id)!,
    async add(id: string) {
      const entry = { keeper: undefined as unknown as LeaseKeeper, taken: [] as TakenLease[][], lost: [] as string[][], alive: true };
      entry.keeper = new LeaseKeeper({
        store, replicaId: id, names, balance: opts.balance ?? true, leaseMs: LEASE_MS, tickMs: TICK_MS, liveWithinMs: 15_000, log: silent, now: clock,
        onTaken: async (t) => { entry.taken.push(t); }, onLost: async (l) => { entry.lost.push(l); },
      });
      replicas.set(id, entry);
      await store.replicas.heartbeat({ id, host: 'test', pid: 1, startedAt: clock() }, clock());
      return entry;
    },
    /** One round: live replicas heartbeat, then each ticks (in id order). */
    async round() {
      for (const [id, r] of replicas) if (r.alive) await store.replicas.heartbeat({ id, host: 'test', pid: 1, startedAt: clock() }, clock());
      for (const r of replicas.values()) if (r.alive) await r.keeper.tick();
    },
    held: () => Object.fromEntries([...replicas].filter(([, r]) => r.alive).map(([id, r]) => [id, r.keeper.held().length])),
    owners() {
      const all = [...replicas.values()].filter((r) => r.alive).flatMap((r) => r.keeper.held());
      return { all, distinct: new Set(all) };
    },
  };
}

describe('LeaseKeeper: server leases over replicas', () => {
  const names = Array.from({ length: 10 }, (_, i) => `server:vpn-${i}`);

  it('the first replica takes every server; each lease has exactly one holder at every step that follows', async () => {
    const c = cluster(names);
    const a = await c.add('replica-a');
    await c.round();
    expect(c.held()).toEqual({ 'replica-a': 10 });
    expect(a.taken.flat().every((t) => !t.handover)).toBe(true); // nobody held them: a start

    // A second and third replica join: the first hands over its excess, the others take it.
    await c.add('replica-b');
    await c.add('replica-c');
    for (let i = 0; i < 4; i++) {
      c.advance(TICK_MS);
      await c.round();
      const { all, distinct } = c.owners();
      expect(all.length).toBe(distinct.size); // never two holders
    }
    expect(c.held()).toEqual({ 'replica-a': 4, 'replica-b': 3, 'replica-c': 3 });
    const handedOver = [...c.get('replica-b').taken.flat(), ...c.get('replica-c').taken.flat()];
    expect(handedOver.length).toBe(6);
    expect(handedOver.every((t) => t.handover)).toBe(true); // from a live replica: seamless
    expect(a.lost.flat().sort()).toEqual(handedOver.map((t) => t.name).sort());

    // replica-b dies without a word (kill -9): nobody touches its leases until they expire, then
    // the survivors take them, as a start (it stopped polling without a handover).
    const b = c.get('replica-b');
    b.alive = false;
    const bHeld = b.keeper.held();
    const before = { a: c.get('replica-a').taken.length, c: c.get('replica-c').taken.length };
    let takenOverAfter = 0;
    for (let t = TICK_MS; t <= 3 * LEASE_MS; t += TICK_MS) {
      c.advance(TICK_MS);
      await c.round();
      const { all, distinct } = c.owners();
      expect(all.length).toBe(distinct.size);
      if (bHeld.every((n) => all.includes(n))) { takenOverAfter = t; break; }
      if (t < LEASE_MS) expect(bHeld.some((n) => all.includes(n))).toBe(false); // not before they expire
    }
    expect(takenOverAfter).toBeGreaterThanOrEqual(LEASE_MS);
    expect(takenOverAfter).toBeLessThanOrEqual(LEASE_MS + 2 * TICK_MS);
    const survivors = [...c.get('replica-a').taken.slice(before.a).flat(), ...c.get('replica-c').taken.slice(before.c).flat()];
    expect(survivors.map((t) => t.name).sort()).toEqual([...bHeld].sort());
    expect(survivors.every((t) => !t.handover)).toBe(true);
    c.advance(20_000); // b leaves the registry; shares settle at 5 + 5
    await c.round();
    await c.round();
    expect(c.held()).toEqual({ 'replica-a': 5, 'replica-c': 5 });

    // A clean stop releases at once: the other replica takes everything at its next tick.
    await c.get('replica-a').keeper.stop();
    c.get('replica-a').alive = false;
    c.advance(TICK_MS);
    await c.round();
    expect(c.held()).toEqual({ 'replica-c': 10 });
    await c.get('replica-c').keeper.stop();
  });
});

describe('LeaseKeeper: a single lease (the Discord gateway)', () => {
  it('one replica holds it and keeps it when others join; another takes it when the holder stops', async () => {
    const c = cluster(['discord-gateway'], { balance: false });
    await c.add('gw-b');
    await c.round();
    await c.add('gw-a'); // sorts first: a balanced lease would move to it; a single one stays put
    for (let i = 0; i < 3; i++) { c.advance(TICK_MS); await c.round(); }
    expect(c.held()).toEqual({ 'gw-b': 1, 'gw-a': 0 });
    expect(c.get('gw-a').keeper.holders()).toEqual({ 'discord-gateway': 'gw-b' });
    await c.get('gw-b').keeper.stop();
    c.get('gw-b').alive = false;
    c.advance(TICK_MS);
    await c.round();
    expect(c.held()).toEqual({ 'gw-a': 1 });
    await c.get('gw-a').keeper.stop();
  });
});

describe('LeaseKeeper: a holder that cannot renew', () => {
  async function keeperWith(databaseUp: () => boolean) {
    const names = [`server:slow-${Math.random().toString(16).slice(2, 8)}`, `server:slow-${Math.random().toString(16).slice(2, 8)}`];
    let now = Date.parse('2026-11-28T14:00:00.000Z');
    let failing = false;
    const lost: string[][] = [];
    const leases = new Proxy(store.leases, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (failing ? Promise.reject(new Error('socket timeout')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const id = `slow-${Math.random().toString(16).slice(2, 8)}`;
    const keeper = new LeaseKeeper({
      store: { leases, replicas: store.replicas }, replicaId: id, names, balance: true, leaseMs: LEASE_MS, tickMs: TICK_MS, liveWithinMs: 15_000,
      log: silent, now: () => new Date(now), databaseUp, onTaken: async () => {}, onLost: async (l) => { lost.push(l); },
    });
    await keeper.tick();
    expect(keeper.held()).toEqual(names);
    return { keeper, names, lost, fail: () => { failing = true; }, advance: (ms: number) => { now += ms; } };
  }

  it('stops acting for its leases a tick before they expire unrenewed, while the database answers others', async () => {
    const k = await keeperWith(() => true);
    const { names } = k;
    k.fail();
    for (let t = TICK_MS; t < LEASE_MS - TICK_MS; t += TICK_MS) {
      k.advance(TICK_MS);
      await k.keeper.tick();
      expect(k.keeper.held()).toEqual(names); // five missed renewals: still held
    }
    k.advance(TICK_MS);
    await k.keeper.tick();
    expect(k.keeper.held()).toEqual([]);
    expect(k.lost).toEqual([names]);
  });

  it('keeps acting while the database does not answer anyone (nobody can take them over)', async () => {
    const k = await keeperWith(() => false);
    const { names } = k;
    k.fail();
    for (let t = 0; t < 3 * LEASE_MS; t += TICK_MS) {
      k.advance(TICK_MS);
      await k.keeper.tick();
    }
    expect(k.keeper.held()).toEqual(names);
    expect(k.lost).toEqual([]);
  });
});
