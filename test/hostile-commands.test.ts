// Every /vpn command, fed random and malformed input the way chat and the terminal can send it:
// typed text (Slack, the terminal) and structured options (Discord), from an admin and from a
// guest. The answer is a reply (a usage message or a refusal at worst), never a thrown error, an
// internal-error reference, or a hang, and dispatch keeps answering. A real store behind it.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../commands/index.ts';
import { dispatch, type DispatchDeps } from '../src/dispatch.ts';
import type { Actor, KickOutcome, KickRequest, ServerConfig } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import type { Store } from '../src/store/store.ts';
import { goodRead, testPoller, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

/** Pieces hostile input is made of: control and format characters, markup, paths, huge numbers. */
const NASTY = ['', ' ', '\u0000', '\u0007', '\r\n', '\t', '\u202e', '\ufeff', '\ud83d\ude00', '\ud800', '..', '../..', '%00', '%2e%2e', '\\',
  '"', "'", '“', '”', '`', '<script>', '<!channel>', '@everyone', '<@123>', '*', '$ne', '{"$gt":""}', '-1', '0', '1e309', '9'.repeat(400),
  'NaN', 'Infinity', '0x10', 'all', 'ALL', 'fra-1', 'FRA-1', 'alice', 'UNDEF', 'x'.repeat(5000)];

const piece = fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.integer().map(String));
const word = fc.array(piece, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));
const names = ['online', 'user', 'kick', 'servers', 'recent', 'stats', 'help', ...commands.map((c) => c.name.toUpperCase()), 'nope', ''];

class Kicker {
  requests: KickRequest[] = [];
  async kick(request: KickRequest): Promise<KickOutcome> {
    this.requests.push(request);
    return { result: 'not-found', sessions: [], verified: false, message: `${request.target} is not connected` };
  }
  async refuse(): Promise<void> {}
}

let store: Store;
let deps: DispatchDeps;
const admin: Actor = { platform: 'slack', userId: 'UADMIN', userName: 'ada' };
const guest: Actor = { platform: 'discord', userId: '42', userName: 'guest', roles: ['7'] };
const terminal: Actor = { platform: 'cli', userId: 'root', userName: 'root' };

beforeAll(async () => {
  store = await openTestStore();
  const servers: ServerConfig[] = ['fra-1', 'ams-1'].map(testServer);
  const poller = await testPoller(store, servers.map((s) => s.name));
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 1), vpnSession('<script>', 2), vpnSession('@everyone', 3)])]);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:30.000Z', [vpnSession('alice', 1)])]);
  deps = {
    store, kicker: new Kicker(), log: logger.child({ module: 'hostile' }),
    config: { servers, slack: { botToken: 'x', adminUsers: ['UADMIN'] }, discord: { token: 'x', adminUsers: [], adminRoles: [] } } as unknown as DispatchDeps['config'],
    now: () => new Date('2026-11-28T10:01:00.000Z'),
  };
});
afterAll(async () => { await dropTestStore(store); });

/** What every answer must be: a reply with a title, and never the internal-error reference. */
function wellFormed(reply: Awaited<ReturnType<typeof dispatch>>, what: string): void {
  expect(typeof reply.title, what).toBe('string');
  expect(reply.title.length, what).toBeGreaterThan(0);
  expect(reply.title, what).not.toMatch(/Something went wrong/);
}

describe('/vpn with hostile input', () => {
  it('typed text: any words after any command name, from an admin, a guest and the terminal', async () => {
    let runs = 0;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...names), fc.array(word, { maxLength: 5 }), fc.constantFrom(admin, guest, terminal), async (name, words, actor) => {
      runs++;
      const text = [name, ...words].join(' ');
      wellFormed(await dispatch(text, actor, deps, 'C1'), JSON.stringify(text));
    }), { numRuns: 1500, seed: 20261130 });
    expect(runs).toBe(1500);
  }, 120_000);

  it('structured options (as Discord sends them): any values, extra keys, numbers where text is expected', async () => {
    const value = fc.oneof(word, fc.integer(), fc.double(), fc.constant(undefined));
    await fc.assert(fc.asyncProperty(fc.constantFrom(...names), fc.dictionary(fc.constantFrom('name', 'server', 'which', 'n', 'range', 'by', '__proto__', 'constructor'), value), fc.constantFrom(admin, guest), async (name, input, actor) => {
      wellFormed(await dispatch({ name, input: input as Record<string, string | number | undefined> }, actor, deps, 'C1'), JSON.stringify({ name, input }));
    }), { numRuns: 600, seed: 20261201 });
  }, 120_000);

  it('still answers normally afterwards', async () => {
    const reply = await dispatch('online', admin, deps);
    expect(reply.title).toBe('1 online');
  });
});

describe('/vpn while the database does not answer', () => {
  it('every command but help says so at once, privately; help still answers', async () => {
    const since = new Date('2026-11-28T09:58:00.000Z');
    const down = { ...deps, database: () => ({ up: false, since, error: 'no answer within 1500 ms' }) };
    for (const name of ['online', 'user alice', 'kick alice', 'servers', 'recent', 'stats']) {
      const reply = await dispatch(name, admin, down);
      expect(reply, name).toMatchObject({ title: 'The database does not answer: no VPN data right now', tone: 'error', private: true });
      expect(reply.lines![0]).toBe('It has not answered since 2026-11-28 09:58 UTC (3m ago). vpnwatch keeps polling and will store and announce what changes once it is back; the status page shows the last data it holds.');
    }
    expect((await dispatch('help', admin, down)).title).toBe('VPN commands');
  });
});
