// Every query the store makes answers the same on mongo-java-server's H2 backend (the offline
// default of `vpnwatch start`) as on this suite's reference engine (a real mongod or MONGODB_URI
// where there is one, else mongo-java-server in memory), including after the H2 engine was stopped
// and started again on its file. The same seeded workload goes through the real Poller into both:
// connects, disconnects, reconnects at a new address, failed reads, server down and up, reads of
// several servers at the same instant (ties in every time sort), names that differ only in case or
// are not ASCII, UNDEF clients, 64-bit counters, deliveries sent and failed, kicks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { ServerRead, VpnSession } from '../src/domain.ts';
import type { Poller } from '../src/poll/poller.ts';
import { startMongoJavaServer, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { failedRead, goodRead, testPoller, vpnSession } from './support/data.ts';
import { javaPrerequisite } from './support/java.ts';
import { requirePrerequisite } from './harness/prereq.ts';

const SERVERS = ['fra-1', 'ams-1', 'nyc-1'];
// Case variants ('alice'/'Alice'), non-ASCII, a comma, and an UNDEF common name (its user is the username).
const USERS = ['alice', 'Alice', 'bob', 'zoë', 'straße', '李雷', 'a,b', 'carol', 'dave', 'UNDEF', 'erin', 'frank'];
const CYCLES = 40;

/** mulberry32: the same "random" workload on both engines. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each cycle's reads, computed once so both engines get exactly the same input. */
function workload(): ServerRead[][] {
  const random = prng(15);
  const online = new Map<string, Map<number, VpnSession>>(SERVERS.map((s) => [s, new Map()]));
  let port = 1000;
  const cycles: ServerRead[][] = [];
  for (let c = 0; c < CYCLES; c++) {
    // Every server is read at the same instant: events of one cycle tie on `at` across servers.
    const readAt = new Date(Date.UTC(2026, 10, 28, 10, 0, 0) + c * 30_000).toISOString();
    cycles.push(SERVERS.map((server) => {
      if (random() < 0.08) return failedRead(server, readAt, 'connect ETIMEDOUT');
      const sessions = online.get(server)!;
      for (const [p, s] of [...sessions]) {
        const r = random();
        if (r < 0.15) sessions.delete(p);
        else if (r < 0.5) sessions.set(p, { ...s, bytesReceived: s.bytesReceived + Math.floor(random() * 1e9), bytesSent: s.bytesSent + 2 ** 40 });
      }
      const arrivals = Math.floor(random() * 3);
      for (let i = 0; i < arrivals; i++) {
        const name = USERS[Math.floor(random() * USERS.length)]!;
        port += 1;
        sessions.set(port, vpnSession(name, port, {
          connectedAt: readAt, username: name === 'UNDEF' ? `user${port % 3}` : null, bytesReceived: 2 ** 33 + port,
        }));
      }
      return goodRead(server, readAt, [...sessions.values()]);
    }));
  }
  return cycles;
}

/** What every query answers, with the parts that are random per run (ids, cycle tags) taken out. */
async function everyAnswer(store: Store): Promise<unknown> {
  const strip = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'id' || key === 'cycle' ? undefined : v)));
  const users = [...new Set([...USERS, 'user0', 'user1', 'user2', 'nobody'])];
  const times = ['2026-11-28T09:59:00Z', '2026-11-28T10:05:00Z', '2026-11-28T10:10:00Z', '2026-11-28T10:19:30Z'].map((t) => new Date(t));
  const events = await store.queries.eventsSince(new Date(0), 10_000);
  const waiting = await store.outbox.items('log', 1000);
  return strip({
    servers: await store.queries.servers(),
    online: await store.queries.online(),
    onlinePerServer: await Promise.all(SERVERS.map((s) => store.queries.online(s))),
    baselines: [...(await store.cycles.loadBaselines())].map(([name, b]) => [name, { ...b, ids: b.ids.size }]).sort(),
    revisions: [...(await store.cycles.revisions(SERVERS))].sort(),
    users: await Promise.all(users.map((u) => store.queries.userReport(u, 5))),
    names: await Promise.all(['', 'a', 'A', 'zo', 'STR', '李', 'a,', '.', 'u'].map((p) => store.queries.userNames(p, 4))),
    recent: [await store.queries.recent(7), await store.queries.recent(1000), ...(await Promise.all(SERVERS.map((s) => store.queries.recent(3, s))))],
    offline: [await store.queries.offlineUsers(3), await store.queries.offlineUsers(100)],
    stats: await store.queries.stats(new Date('2026-11-28T11:00:00Z')),
    events: [events, ...(await Promise.all(times.map((t) => store.queries.eventsSince(t, 25))))],
    between: await Promise.all(times.map((from, i) => store.queries.sessionsBetween(from, times[i + 1] ?? new Date('2026-11-29T00:00:00Z'), 50))),
    targets: await store.outbox.targetsWithWork(),
    pending: [await store.outbox.items('log', 10), waiting],
    pendingEvents: [...(await store.outbox.events(waiting.map((i) => i.event))).values()].sort((a, b) => a.seq - b.seq),
    messages: await store.outbox.messages('log'),
    problems: await store.outbox.health(['log', 'slack:C1']),
    kicks: [await store.audit.kicks(), await store.audit.kicks('alice', 2), await store.audit.kicks('nobody')],
  });
}

/** Plays the workload into `store`; `between` runs after half of it (the H2 side restarts there). */
async function play(open: () => Promise<Store>, between: () => Promise<Store>): Promise<Store> {
  let store = await open();
  let poller: Poller = await testPoller(store, SERVERS);
  const cycles = workload();
  for (const [c, reads] of cycles.entries()) {
    if (c === CYCLES / 2) {
      store = await between();
      poller = await testPoller(store, SERVERS);
    }
    await poller.apply(reads);
    // The notifier's side, deterministically, through the calls it makes: the target claimed, some
    // deliveries sent (one message per cycle), some failed, the state written; the last cycle's wait.
    const at = new Date(reads[0]!.readAt);
    for (const target of c < CYCLES - 1 ? await store.outbox.targetsWithWork() : []) {
      await store.outbox.claimTarget(target, 'engines', at, 60_000);
      const items = await store.outbox.items(target, 1000);
      const events = await store.outbox.events(items.map((i) => i.event));
      const failed = items.filter((_, i) => (c + i) % 5 === 0);
      const sent = items.filter((_, i) => (c + i) % 5 !== 0);
      await store.outbox.recordAttempt(failed.map((i) => i.event), target, { state: 'failed', lastError: 'channel_not_found' });
      await store.outbox.recordAttempt(sent.map((i) => i.event), target, { state: 'sent', sentAt: at, lastError: null, messageRef: `C1:${c}` });
      if (sent.length) {
        const outlines = sent.map((i) => events.get(i.event)!).map((e) => ({ id: e.id, type: e.type, server: e.server, user: e.user, at: e.at, ...(e.endedBy ? { endedBy: e.endedBy } : {}) }));
        await store.outbox.saveMessage({ target, ref: `C1:${c}`, postedAt: at, sections: [{ server: sent[0]!.server, cycle: sent[0]!.cycle, lines: sent.length }], events: outlines }, new Date('2027-01-01T00:00:00Z'));
      }
      await store.outbox.remove(items.map((i) => i.id));
      await store.outbox.updateTarget(target, 'engines', failed.length
        ? { state: 'failing', error: 'channel_not_found', since: at, failures: c, lastPostAt: at, inFlight: null }
        : { state: 'ok', error: null, since: at, failures: 0, lastPostAt: at, inFlight: { items: sent.map((i) => i.id), nonce: `n${c}` } });
      await store.outbox.releaseTarget(target, 'engines');
    }
    if (c % 7 === 3) {
      await store.audit.recordKick({ at: new Date(reads[0]!.readAt), by: { platform: 'slack', userId: 'U1', userName: 'admin' }, where: 'C1', target: USERS[c % USERS.length]!, server: SERVERS[c % 3]!, clientIds: [c], result: c % 2 ? 'kicked' : 'not-found', verified: c % 2 === 1, message: null });
    }
  }
  return store;
}

const describeWithJava = requirePrerequisite(javaPrerequisite(), 'Java 17 (for mongo-java-server)');

describeWithJava('the store on H2 and on the reference engine', () => {
  let tmp: string;
  let h2: EmbeddedMongo | undefined;
  const stores: Store[] = [];
  const dbName = `vpnwatch_engines_${process.pid}`;

  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-engines-')); });
  afterAll(async () => {
    for (const s of stores) { await s.connection.dropDatabase().catch(() => {}); await s.close().catch(() => {}); }
    await h2?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`gives the same answer to every query after ${CYCLES} cycles, with the H2 engine restarted halfway`, async () => {
    const file = path.join(tmp, 'vpnwatch.mv.db');
    const openReference = async () => { const s = await Store.open(inject('mongoUri'), dbName); stores.push(s); return s; };
    const reference = await play(openReference, async () => stores.at(-1)!);
    const openH2 = async () => {
      h2 = await startMongoJavaServer({ h2File: file });
      const s = await Store.open(h2.uri, dbName);
      stores.push(s);
      return s;
    };
    const onH2 = await play(openH2, async () => {
      const s = stores.pop()!;
      await s.close();
      await h2!.stop();
      return openH2();
    });
    const expected = await everyAnswer(reference);
    // The workload did reach every query: a comparison of empty answers would prove nothing.
    expect(expected).toMatchObject({ recent: expect.arrayContaining([expect.arrayContaining([expect.objectContaining({ endedBy: 'disconnected' })])]) });
    const answers = expected as { events: unknown[][]; problems: { state: string }[]; kicks: unknown[][]; messages: unknown[]; pending: unknown[][] };
    expect(answers.events[0]!.length).toBeGreaterThan(50);
    expect(answers.problems.map((t) => t.state)).toContain('failing');
    expect(answers.messages.length).toBeGreaterThan(5);
    expect(answers.pending[1]!.length).toBeGreaterThan(0);
    expect(await everyAnswer(onH2)).toEqual(expected);
  }, 120_000);
});

describeWithJava('ties in a time sort, on H2 and on the reference engine', () => {
  let tmp: string;
  let h2: EmbeddedMongo | undefined;
  const stores: Store[] = [];

  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-ties-')); });
  afterAll(async () => {
    for (const s of stores) { await s.connection.dropDatabase().catch(() => {}); await s.close().catch(() => {}); }
    await h2?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  // Documents written in one order whose ids sort in another: ids made by two processes in the same
  // second (`vpnwatch poll` beside `start`) sort by each process's random part, not by time. The
  // in-memory engine keeps insertion order and H2 keeps id order, so an answer that depends on
  // either differs between them; every time sort therefore ends with _id.
  it('orders documents with the same time the same way (by id), also where a limit cuts through them', async () => {
    const id = (n: number) => `6b0d0b82${'0'.repeat(15)}${n}`;
    const at = new Date('2026-11-28T10:00:00Z');
    const write = async (store: Store) => {
      await store.models.User.collection.insertOne({ _id: new mongoose.Types.ObjectId(id(0)), name: 'alice', online: true, firstSeen: at, lastSeen: at, lastIp: null, lastServer: null, totalBytesReceived: 0, totalBytesSent: 0, sessionCount: 0 });
      for (const n of [5, 1, 9, 3]) {
        await store.models.Session.collection.insertOne({
          _id: new mongoose.Types.ObjectId(id(n)), server: 'fra-1', key: `k${n}`, user: 'alice', commonName: 'alice', username: null, realAddress: '203.0.113.1',
          realPort: n, protocol: null, virtualAddress: null, virtualIpv6: null, clientId: n, cipher: null, connectedAt: at, disconnectedAt: at, bytesReceived: n, bytesSent: n, endedBy: 'disconnected',
        });
        await store.models.User.collection.insertOne({ _id: new mongoose.Types.ObjectId(id(n)), name: `user${n}`, online: false, firstSeen: at, lastSeen: at, lastIp: null, lastServer: null, totalBytesReceived: 0, totalBytesSent: 0, sessionCount: 0 });
        await store.models.Kick.collection.insertOne({ _id: new mongoose.Types.ObjectId(id(n)), at, by: { platform: 'cli', userId: 'u', userName: 'u' }, where: null, target: 'alice', server: 'fra-1', clientIds: [n], result: 'kicked', verified: true, message: null });
        await store.models.Event.collection.insertOne({ _id: new mongoose.Types.ObjectId(id(n)), seq: n, type: 'disconnected', server: 'fra-1', at, user: 'alice', session: null, previous: null, endedBy: null, error: null, cycle: 'c',
          deliveries: [{ target: 'slack:C1', state: 'pending', attempts: 0, nextAttemptAt: null, lastError: null, sentAt: null, messageRef: null }] });
        // Outbox items of one time and one seq (a cycle written again takes new numbers): the ids decide.
        await (store.models.Outbox.collection as unknown as mongoose.mongo.Collection<{ _id: string; [field: string]: unknown }>).insertOne({ _id: `${id(n)}>slack:C1`, target: 'slack:C1', event: id(n), server: 'fra-1', cycle: 'c', at, seq: 0 });
      }
    };
    const answers = async (store: Store) => ({
      recent: [await store.queries.recent(2), await store.queries.recent(10)],
      user: (await store.queries.userReport('alice', 2))!.recent,
      offline: await store.queries.offlineUsers(2),
      between: await store.queries.sessionsBetween(new Date('2026-11-28T09:00:00Z'), new Date('2026-11-28T11:00:00Z'), 3),
      kicks: await store.audit.kicks('alice', 3),
      events: await store.queries.eventsSince(new Date(0), 2),
      outbox: [await store.outbox.items('slack:C1', 3), await store.outbox.items('slack:C1', 10)],
    });
    const reference = await Store.open(inject('mongoUri'), `vpnwatch_ties_${process.pid}`);
    stores.push(reference);
    await write(reference);
    h2 = await startMongoJavaServer({ h2File: path.join(tmp, 'ties.mv.db') });
    const onH2 = await Store.open(h2.uri, 'vpnwatch_ties');
    stores.push(onH2);
    await write(onH2);
    const expected = await answers(reference);
    expect(expected.recent[1]!.map((s) => s.realPort)).toEqual([9, 5, 3, 1]);
    expect(expected.offline.map((u) => u.name)).toEqual(['user9', 'user5']);
    expect(expected.outbox[1]!.map((i) => i.event)).toEqual([1, 3, 5, 9].map(id));
    expect(await answers(onH2)).toEqual(expected);
  }, 90_000);
});
