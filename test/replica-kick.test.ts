// Where a chat kick is carried out when several replicas share the work (src/kick/service-kicker.ts):
// by the replica asked when it holds the servers, by the holder (through a request in MongoDB
// that only the holder of that server claims) when another replica holds them, and not at all,
// with the servers to name, when the user is on servers held by different replicas. The real
// store; the holders' kickers are stand-ins (the lab test test/replicas.test.ts kicks for real).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kicker, KickOutcome, KickRequest } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import { ServiceKicker } from '../src/kick/service-kicker.ts';
import type { Store } from '../src/store/store.ts';
import { goodRead, testPoller, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const servers = [testServer('ams-1'), testServer('fra-1'), testServer('lon-1')];
const by = { platform: 'slack' as const, userId: 'U0ADMIN', userName: 'ada' };

/** A local kicker that records what it was asked to do (kicks and refusals). */
function localKicker() {
  const kicks: KickRequest[] = [];
  const refusals: string[] = [];
  const kicker: Kicker = {
    async kick(request) { kicks.push(request); return { result: 'kicked', verified: true, message: 'kicked here', sessions: [] }; },
    async refuse(_request, reason) { refusals.push(reason); },
  };
  return { kicker, kicks, refusals };
}

describe('chat kicks over replicas', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    const poller = await testPoller(store, servers.map((s) => s.name));
    // bob is on ams-1 and fra-1; carol on lon-1 only.
    const at = '2026-11-30T10:00:00.000Z';
    await poller.apply([goodRead('ams-1', at, [vpnSession('bob', 1)]), goodRead('fra-1', at, [vpnSession('bob', 2)]), goodRead('lon-1', at, [vpnSession('carol', 3)])]);
    for (const id of ['r1', 'r2', 'r3']) await store.replicas.heartbeat({ id, host: 'test', pid: 1, startedAt: new Date() });
  });
  beforeEach(async () => { await store.models.Request.deleteMany({}); });
  afterAll(async () => { if (store) await dropTestStore(store); });

  const kickerFor = (holders: Record<string, string>, local: Kicker, self: string | null = 'r1') => new ServiceKicker({
    store, servers, local, requestedBy: self ? `replica ${self}` : 'vpnwatch kick', log: logger, finishWithinMs: 5_000, claimWithinMs: 5_000,
    holders: { self, of: (server) => holders[server] ?? null },
  });

  /** Plays the holder `replica`: claims the kick request it may claim (holding `held`) and answers it. */
  async function answerAs(replica: string, held: string[], outcome: KickOutcome) {
    for (let i = 0; i < 100; i++) {
      const request = await store.requests.claim<KickRequest>(replica, ['kick'], held, 60_000);
      if (request) {
        await store.requests.finish(request.id, replica, { result: outcome });
        return request;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${replica} found no kick request it may claim`);
  }

  it('servers held here: kicked here, no request', async () => {
    const local = localKicker();
    const outcome = await kickerFor({ 'ams-1': 'r1', 'fra-1': 'r1' }, local.kicker).kick({ target: 'bob', which: 'all', by });
    expect(outcome.message).toBe('kicked here');
    expect(local.kicks).toHaveLength(1);
    expect(await store.models.Request.countDocuments({})).toBe(0);
  });

  it("a server another replica holds: that replica's answer, through a request only it may claim", async () => {
    const local = localKicker();
    const kicker = kickerFor({ 'lon-1': 'r2' }, local.kicker);
    const asking = kicker.kick({ target: 'carol', by });
    // r3 holds other servers: it may not claim it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.requests.claim('r3', ['kick'], ['ams-1', 'fra-1'], 60_000)).toBeNull();
    const request = await answerAs('r2', ['lon-1'], { result: 'kicked', verified: true, message: 'kicked by r2', sessions: [] });
    expect(request.server).toBe('lon-1');
    expect((await asking).message).toBe('kicked by r2');
    expect(kicker.carriedOutBy).toBe('r2');
    expect(local.kicks).toHaveLength(0);
  });

  it('several servers, all held by one other replica: addressed to the first, carried out by that replica', async () => {
    const local = localKicker();
    const asking = kickerFor({ 'ams-1': 'r2', 'fra-1': 'r2' }, local.kicker).kick({ target: 'bob', which: 'all', by });
    const request = await answerAs('r2', ['ams-1', 'fra-1'], { result: 'kicked', verified: true, message: 'both by r2', sessions: [] });
    expect(request.server).toBe('ams-1');
    expect((await asking).message).toBe('both by r2');
  });

  it('servers held by different replicas: nothing done, the servers named, the refusal recorded', async () => {
    const local = localKicker();
    const outcome = await kickerFor({ 'ams-1': 'r1', 'fra-1': 'r2' }, local.kicker).kick({ target: 'bob', which: 'all', by });
    expect(outcome.result).toBe('invalid');
    expect(outcome.message).toBe("'bob' is online on ams-1, fra-1, which different replicas hold: kick on one server at a time (kick bob ams-1 all). Nothing was done.");
    expect(local.refusals).toEqual([outcome.message]);
    expect(local.kicks).toHaveLength(0);
    expect(await store.models.Request.countDocuments({})).toBe(0);
  });

  it('from the terminal (holding nothing): servers nobody holds are kicked from here; a held one by its holder', async () => {
    const local = localKicker();
    await kickerFor({}, local.kicker, null).kick({ target: 'carol', by });
    expect(local.kicks).toHaveLength(1);
    const asking = kickerFor({ 'lon-1': 'r3' }, local.kicker, null).kick({ target: 'carol', by });
    await answerAs('r3', ['lon-1'], { result: 'kicked', verified: true, message: 'kicked by r3', sessions: [] });
    expect((await asking).message).toBe('kicked by r3');
    expect(local.kicks).toHaveLength(1);
  });
});
