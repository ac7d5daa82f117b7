// The store against a real MongoDB-wire server: what one cycle writes, and what the queries read back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, emptyBaseline } from '../src/poll/diff.ts';
import { type ServerRead, type VpnSession, sessionKey } from '../src/domain.ts';
import type { Store } from '../src/store/store.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { type ServerCycle } from '../src/store/cycle-writes.ts';

let store: Store;
beforeAll(async () => { store = await openTestStore(); });
afterAll(async () => { await dropTestStore(store); });

const opts = { downAfter: 2, staleAfterMs: 3_600_000 };

function session(commonName: string, port: number, extra: Partial<VpnSession> = {}): VpnSession {
  return {
    commonName, username: null, realAddress: `203.0.113.${port % 250}`, realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 250}`,
    virtualIpv6: null, bytesReceived: 1000, bytesSent: 2000, connectedAt: '2026-11-28T09:00:00.000Z', clientId: port, peerId: 0, cipher: 'AES-256-GCM', ...extra,
  };
}
const read = (server: string, readAt: string, sessions: VpnSession[]): ServerRead =>
  ({ server, ok: true, readAt, durationMs: 12, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } });

async function cycle(server: string, readAt: string, r: ServerRead, { announce = true, kicked = [] as string[] } = {}): Promise<ServerCycle> {
  const baselines = await store.cycles.loadBaselines();
  const diff = diffSnapshots(baselines.get(server) ?? emptyBaseline(), r, { ...opts, firstSinceStart: !announce, kicked: new Set(kicked) });
  // Without ids the store closes sessions by (server, key) instead of by _id: both paths work.
  return { server, read: r, diff, cycle: `${server}@${readAt}`, targets: ['slack:C0NOTICE'], sessionIds: { ended: new Map(), current: new Map() } };
}

describe('Store', () => {
  it('stores a first read as history and baseline, with no events', async () => {
    const c = await cycle('fra-1', '2026-11-28T10:00:00.000Z', read('fra-1', '2026-11-28T10:00:00.000Z', [session('alice', 101), session('bob', 102)]));
    const stats = await store.cycles.applyCycle([c], new Map([['alice', true], ['bob', true]]));
    // 2 session upserts + 2 user states + 2 guarded session counts + 1 server update, in 3 bulk writes
    expect(stats).toEqual({ operations: 7, bulkWrites: 3 });
    expect((await store.queries.online()).map((s) => [s.server, s.commonName])).toEqual([['fra-1', 'alice'], ['fra-1', 'bob']]);
    expect(await store.queries.eventsSince(new Date(0))).toEqual([]);
    const [server] = await store.queries.servers();
    expect(server).toMatchObject({ name: 'fra-1', lastResult: 'ok', onlineCount: 2, down: false, lastError: null });
  });

  it('a restart reloads the baseline, so an unchanged read writes only the server state', async () => {
    const baselines = await store.cycles.loadBaselines();
    expect(Object.keys(baselines.get('fra-1')!.sessions!)).toEqual([sessionKey(session('alice', 101)), sessionKey(session('bob', 102))]);
    const c = await cycle('fra-1', '2026-11-28T10:00:30.000Z', read('fra-1', '2026-11-28T10:00:30.000Z', [session('alice', 101, { bytesReceived: 5000 }), session('bob', 102)]));
    expect(c.diff.events).toEqual([]);
    expect(await store.cycles.applyCycle([c], new Map())).toEqual({ operations: 1, bulkWrites: 1 });
    expect((await store.queries.online('fra-1'))[0]!.bytesReceived).toBe(5000);
  });

  it('a disconnect closes the session, adds its traffic to the user, and queues the event for delivery', async () => {
    const c = await cycle('fra-1', '2026-11-28T10:01:00.000Z', read('fra-1', '2026-11-28T10:01:00.000Z', [session('bob', 102)]), { kicked: [sessionKey(session('alice', 101))] });
    await store.cycles.applyCycle([c], new Map([['alice', false]]));
    const [recent] = await store.queries.recent(5);
    expect(recent).toMatchObject({ server: 'fra-1', user: 'alice', bytesReceived: 5000, bytesSent: 2000, endedBy: 'kicked', disconnectedAt: new Date('2026-11-28T10:01:00.000Z') });
    const report = (await store.queries.userReport('alice'))!;
    expect(report.user).toMatchObject({ name: 'alice', online: false, lastIp: '203.0.113.101', lastServer: 'fra-1', totalBytesReceived: 5000, totalBytesSent: 2000, sessionCount: 1 });
    expect(report.online).toEqual([]);
    // One outbox item per delivery to make; the event keeps the delivery's record.
    expect(await store.outbox.targetsWithWork()).toEqual(['slack:C0NOTICE']);
    const items = await store.outbox.items('slack:C0NOTICE', 10);
    expect(items.map((i) => [i.server, i.at])).toEqual([['fra-1', new Date('2026-11-28T10:01:00.000Z')]]);
    const event = (await store.outbox.events([items[0]!.event])).get(items[0]!.event)!;
    expect([event.type, event.user, event.endedBy, event.deliveries.map((d) => [d.target, d.state])]).toEqual(['disconnected', 'alice', 'kicked', [['slack:C0NOTICE', 'pending']]]);
    await store.outbox.recordAttempt([event.id], 'slack:C0NOTICE', { state: 'sent', sentAt: new Date(), lastError: null, messageRef: 'm1' });
    await store.outbox.remove(items.map((i) => i.id));
    expect(await store.outbox.targetsWithWork()).toEqual([]);
    expect((await store.queries.eventsSince(new Date(0)))[0]!.deliveries).toMatchObject([{ target: 'slack:C0NOTICE', state: 'sent', attempts: 1, messageRef: 'm1' }]);
    expect((await store.queries.offlineUsers()).map((u) => u.name)).toEqual(['alice']);
  });

  it('failed reads keep the online list and count towards server-down', async () => {
    const fail: ServerRead = { server: 'fra-1', ok: false, error: 'timed out after 15 s', readAt: '2026-11-28T10:02:00.000Z', durationMs: 15000, source: 'status-file' };
    await store.cycles.applyCycle([await cycle('fra-1', fail.readAt, fail)], new Map());
    await store.cycles.applyCycle([await cycle('fra-1', fail.readAt, { ...fail, readAt: '2026-11-28T10:02:30.000Z' })], new Map());
    const [server] = await store.queries.servers();
    expect(server).toMatchObject({ lastResult: 'error', lastError: 'timed out after 15 s', consecutiveFailures: 2, down: true, onlineCount: 1 });
    expect((await store.queries.online()).map((s) => s.commonName)).toEqual(['bob']);
    expect((await store.queries.eventsSince(new Date('2026-11-28T10:01:30Z'))).map((e) => [e.type, e.error])).toEqual([['server-down', 'timed out after 15 s']]);
    const stats = await store.queries.stats(new Date('2026-11-28T10:03:00.000Z'));
    expect(stats).toEqual({ usersOnline: 1, activeConnections: 1, activeServers: 0, unhealthyServers: 1, totalServers: 1, averageConnectionSeconds: 3780 });
  });

  it('reports sessions overlapping a time range', async () => {
    const rows = await store.queries.sessionsBetween(new Date('2026-11-28T10:00:45Z'), new Date('2026-11-28T11:00:00Z'));
    expect(rows.map((r) => [r.user, r.disconnectedAt?.toISOString() ?? null])).toEqual([['alice', '2026-11-28T10:01:00.000Z'], ['bob', null]]);
    expect(await store.queries.sessionsBetween(new Date('2026-11-28T10:01:30Z'), new Date('2026-11-28T11:00:00Z'))).toHaveLength(1);
  });

  it('records kicks', async () => {
    await store.audit.recordKick({ at: new Date('2026-11-28T10:05:00Z'), by: { platform: 'slack', userId: 'U1', userName: 'admin' }, where: 'C1', target: 'bob', server: 'fra-1', clientIds: [102], result: 'kicked', verified: true, message: null });
    expect((await store.audit.kicks('bob')).map((k) => [k.result, k.verified, k.by.platform])).toEqual([['kicked', true, 'slack']]);
  });

  it('has an index for each query', async () => {
    const names = async (m: keyof Store['models']) => (await store.models[m].listIndexes()).map((i) => Object.keys(i.key).join('+'));
    expect(await names('Session')).toEqual(expect.arrayContaining(['server+key+disconnectedAt', 'user+connectedAt+_id', 'disconnectedAt+_id', 'connectedAt+_id']));
    expect(await names('Event')).toEqual(expect.arrayContaining(['at', 'seq']));
    expect(await names('Outbox')).toEqual(expect.arrayContaining(['target+at+seq+_id']));
    expect(await names('Server')).toEqual(expect.arrayContaining(['name']));
    expect(await names('User')).toEqual(expect.arrayContaining(['name', 'online+lastSeen+_id']));
    expect(await names('Kick')).toEqual(expect.arrayContaining(['target+at+_id', 'at+_id']));
  });
});
