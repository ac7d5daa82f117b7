// The /vpn commands and dispatch against a real store (MongoDB-wire server), filled the way the
// poller fills it: diffSnapshots over reads, then store.applyCycle. The Kicker is a recording stand-in
// (the real one talks to OpenVPN's management interface and is tested with the OpenVPN lab).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, emptyBaseline } from '../src/poll/diff.ts';
import { renderReplyText } from '../src/cli/render-text.ts';
import { dispatch, parseCommandText, splitWords, type DispatchDeps } from '../src/dispatch.ts';
import { type Actor, type KickOutcome, type KickRequest, type ServerConfig, type ServerRead, type VpnSession, userName } from '../src/domain.ts';
import { UserError } from '../src/command.ts';
import type { Store } from '../src/store/store.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const NOW = new Date('2026-11-28T10:10:00.000Z');

function session(commonName: string, port: number, extra: Partial<VpnSession> = {}): VpnSession {
  return {
    commonName, username: null, realAddress: `203.0.113.${port % 250}`, realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 250}`,
    virtualIpv6: null, bytesReceived: 1_000, bytesSent: 2_000, connectedAt: '2026-11-28T09:00:00.000Z', clientId: port, peerId: 0, cipher: 'AES-256-GCM', ...extra,
  };
}

async function storeRead(store: Store, read: ServerRead): Promise<void> {
  const baseline = (await store.cycles.loadBaselines()).get(read.server) ?? emptyBaseline();
  const diff = diffSnapshots(baseline, read, { downAfter: 2, staleAfterMs: 3_600_000 });
  const listed = new Set((read.ok ? read.snapshot.sessions : []).map(userName));
  const usersOnline = new Map([...diff.started, ...diff.ended].map((s) => [userName(s), listed.has(userName(s))]));
  // No session ids: the store then closes sessions by (server, key), as store.test.ts shows.
  const sessionIds = { ended: new Map<string, string>(), current: new Map<string, string>() };
  await store.cycles.applyCycle([{ server: read.server, read, diff, cycle: `${read.server}@${read.readAt}`, targets: ['slack:C0NOTICE'], sessionIds }], usersOnline);
}

const good = (server: string, readAt: string, sessions: VpnSession[]): ServerRead =>
  ({ server, ok: true, readAt, durationMs: 12, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } });
const failed = (server: string, readAt: string): ServerRead => ({ server, ok: false, error: 'connect ECONNREFUSED 192.0.2.9:22', readAt, durationMs: 3, source: 'status-file' });

const serverConfig = (name: string): ServerConfig => ({
  name, host: `${name}.example.net`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true, statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 10, timezone: 'UTC',
});

/** Records what it was asked; answers what the test set. */
class RecordingKicker {
  requests: KickRequest[] = [];
  refusals: [KickRequest, string][] = [];
  outcome: KickOutcome = { result: 'not-found', sessions: [], verified: false, message: 'nobody by that name is connected' };
  fail: Error | null = null;
  async kick(request: KickRequest): Promise<KickOutcome> {
    this.requests.push(request);
    if (this.fail) throw this.fail;
    return this.outcome;
  }
  async refuse(request: KickRequest, reason: string): Promise<void> {
    this.refusals.push([request, reason]);
  }
}

const admin: Actor = { platform: 'slack', userId: 'UADMIN', userName: 'ada' };
const member: Actor = { platform: 'slack', userId: 'UMEMBER', userName: 'mel' };
const terminal: Actor = { platform: 'cli', userId: 'root', userName: 'root' };

let store: Store;
const kicker = new RecordingKicker();
const logLines: string[] = [];
let deps: DispatchDeps;

beforeAll(async () => {
  store = await openTestStore();
  deps = {
    store, kicker,
    config: { servers: ['fra-1', 'ams-1', 'lon-1', 'par-1'].map(serverConfig), slack: { botToken: 'xoxb-t', adminUsers: ['UADMIN'] } },
    now: () => NOW,
    log: pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } })),
  };
  // 10:00 first reads: recorded, not announced.
  await storeRead(store, good('fra-1', '2026-11-28T10:00:00.000Z', [session('alice', 101), session('bob', 102, { connectedAt: '2026-11-28T08:00:00.000Z' })]));
  await storeRead(store, good('ams-1', '2026-11-28T10:00:00.000Z', [session('alice', 103, { bytesReceived: 5_500_000, bytesSent: 12_000_000 })]));
  const crowd = Array.from({ length: 30 }, (_, i) => session(`user${String(i).padStart(2, '0')}`, 120 + i));
  await storeRead(store, good('lon-1', '2026-11-28T10:00:00.000Z', crowd));
  // 10:05: bob leaves fra-1 after 2h 5m, carol arrives.
  await storeRead(store, good('fra-1', '2026-11-28T10:05:00.000Z', [
    session('alice', 101, { bytesReceived: 4_000, bytesSent: 9_000 }),
    session('carol', 104, { connectedAt: '2026-11-28T10:04:30.000Z' }),
  ]));
  // ams-1 fails twice: down.
  await storeRead(store, failed('ams-1', '2026-11-28T10:06:00.000Z'));
  await storeRead(store, failed('ams-1', '2026-11-28T10:07:00.000Z'));
});
afterAll(async () => { await dropTestStore(store); });

describe('typed text', () => {
  it('splits words and keeps quoted names together, straight or smart quotes', () => {
    expect(splitWords('kick "John Smith" fra-1 all')).toEqual(['kick', 'John Smith', 'fra-1', 'all']);
    expect(splitWords('user “Jane Doe”')).toEqual(['user', 'Jane Doe']);
  });

  it('maps words to options in order; the last option of user takes the rest', () => {
    expect(parseCommandText('online fra-1')).toEqual({ name: 'online', input: { server: 'fra-1' } });
    expect(parseCommandText('kick bob fra-1 17')).toEqual({ name: 'kick', input: { name: 'bob', server: 'fra-1', which: '17' } });
    expect(parseCommandText('user John Smith')).toEqual({ name: 'user', input: { name: 'John Smith' } });
    expect(parseCommandText('  ')).toEqual({ name: 'help', input: {} });
  });

  it('says what is wrong with unknown commands and extra words', () => {
    expect(() => parseCommandText('onlin')).toThrow(new UserError("Unknown command 'onlin'. Commands: online, user, kick, servers, recent, stats, top, help"));
    expect(() => parseCommandText('online fra-1 ams-1')).toThrow(new UserError('Too many words for online. Usage: online [server]'));
  });
});

describe('/vpn online', () => {
  it('counts per server and lists who is connected, with addresses (masked: the channel reads it), duration and traffic', async () => {
    const reply = await dispatch('online fra-1', admin, deps);
    expect(reply.title).toBe('fra-1: 2 online');
    expect(reply.lines).toEqual(['fra-1: 2']);
    expect(reply.private).toBe(false);
    expect(reply.table!.columns).toEqual(['User', 'Server', 'Real IP', 'Virtual IP', 'Connected since', 'Received / Sent']);
    expect(reply.table!.rows).toEqual([
      ['alice', 'fra-1', '203.0.113.x', '198.18.0.101', '2026-11-28 09:00 UTC (1h 10m)', '4 kB / 9 kB'],
      ['carol', 'fra-1', '203.0.113.x', '198.18.0.104', '2026-11-28 10:04 UTC (5m 30s)', '1 kB / 2 kB'],
    ]);
    expect(reply.fullAnswer).toEqual({ command: 'vpnwatch online fra-1 --json' });
  });

  it('cuts a long list at 25 rows and says how many more, and notes servers that are down or never read', async () => {
    const reply = await dispatch('online', admin, deps);
    expect(reply.title).toBe('33 online (32 users)');
    expect(reply.lines).toEqual(['ams-1: 1 (down: showing its last good read)', 'fra-1: 2', 'lon-1: 30', 'par-1: 0 (not read yet)']);
    expect(reply.table!.rows).toHaveLength(25);
    expect(reply.truncated).toEqual({ shown: 25, total: 33 });
    expect(reply.table!.rows[0]).toEqual(['alice', 'ams-1', '203.0.113.x', '198.18.0.103', '2026-11-28 09:00 UTC (1h 10m)', '5.5 MB / 12 MB']);
  });

  it('rejects an unknown server and names the known ones', async () => {
    const reply = await dispatch('online fra-9', admin, deps);
    expect(reply).toEqual({ title: "No server 'fra-9'. Known: fra-1, ams-1, lon-1, par-1", tone: 'warn', private: true, userError: true });
  });
});

describe('/vpn user', () => {
  it('shows the last kick of the user, from the audit log', async () => {
    await store.audit.recordKick({ at: new Date('2026-11-28T10:06:00.000Z'), by: { platform: 'discord', userId: 'D1', userName: 'grace' }, where: 'C9', target: 'carol', server: 'lon-1', clientIds: [7], result: 'kicked', verified: true, message: null });
    const reply = await dispatch('user carol', admin, deps);
    expect(reply.fields!.at(-1)).toEqual({ name: 'Last kick', value: '2026-11-28 10:06 UTC by grace (discord): kicked, verified gone' });
    expect((await dispatch('user alice', admin, deps)).fields!.some((f) => f.name === 'Last kick')).toBe(false);
  });

  it('shows an online user with current sessions on every server and total traffic', async () => {
    const reply = await dispatch('user alice', admin, deps);
    expect(reply.title).toBe('alice: online on ams-1, fra-1 (2 sessions)');
    expect(reply.private).toBe(true);
    expect(reply.fields).toEqual([
      { name: 'Last seen', value: 'now' },
      { name: 'Last IP', value: '203.0.113.103 on ams-1' },
      { name: 'Sessions', value: '2 since 2026-11-28 09:00 UTC' },
      { name: 'Total received / sent', value: '5.5 MB / 12 MB' },
      { name: 'Last 7 days', value: '—' }, // no history rolled up in this store
    ]);
    expect(reply.table!.rows.map((r) => [r[0], r[6]])).toEqual([['ams-1', 'online'], ['fra-1', 'online']]);
  });

  it('shows an offline user: last seen, last IP and the ended session with its duration', async () => {
    const reply = await dispatch('user bob', admin, deps);
    expect(reply.title).toBe('bob: offline');
    expect(reply.fields![0]).toEqual({ name: 'Last seen', value: '2026-11-28 10:05 UTC (5m ago)' });
    expect(reply.fields![1]).toEqual({ name: 'Last IP', value: '203.0.113.102 on fra-1' });
    expect(reply.table!.rows).toEqual([['fra-1', '203.0.113.102', '198.18.0.102', '2026-11-28 08:00 UTC', '2h 5m', '1 kB / 2 kB', 'disconnected 5m ago']]);
  });

  it('finds a name typed in other letter case, and suggests names for an unknown one', async () => {
    expect((await dispatch('user BOB', admin, deps)).title).toBe('bob: offline');
    expect((await dispatch('user ali', admin, deps)).title).toBe("No VPN user 'ali' has been seen. Did you mean: alice?");
    expect((await dispatch('user caroline', admin, deps)).title).toBe("No VPN user 'caroline' has been seen. Did you mean: carol?");
    expect((await dispatch('user zed', admin, deps)).title).toBe("No VPN user 'zed' has been seen.");
    expect((await dispatch('user', admin, deps)).title).toBe('Missing <name>. Usage: user <name>');
  });
});

describe('/vpn kick', () => {
  it('refuses a non-admin privately, does not kick, and has the kicker record the refusal', async () => {
    const before = kicker.requests.length;
    const reply = await dispatch('kick alice', member, deps, 'C0OPS');
    expect(reply).toMatchObject({ title: 'Only VPN admins can use kick', tone: 'error', private: true });
    expect(reply.lines).toEqual(['Ask an admin to do it, or to add your user ID (UMEMBER) to SLACK_ADMIN_USERS.']);
    expect(kicker.requests.length).toBe(before);
    expect(kicker.refusals.at(-1)).toEqual([{ target: 'alice', by: member, where: 'C0OPS' }, 'not an admin']);
  });

  it('with several sessions, lists them with Client IDs and says how to pick one or all', async () => {
    const [a1, a2] = (await store.queries.online()).filter((s) => s.commonName === 'alice');
    kicker.outcome = {
      result: 'choose', verified: false, message: 'alice has 2 sessions',
      sessions: [a1!, a2!].map(({ server, ...s }) => ({ server, session: s, killed: false, gone: false })),
    };
    const reply = await dispatch('kick alice', admin, deps, 'C0OPS');
    expect(kicker.requests.at(-1)).toEqual({ target: 'alice', by: admin, where: 'C0OPS' });
    expect(reply.title).toBe('alice has 2 sessions: which one?');
    expect(reply.private).toBe(true);
    expect(reply.table!.rows).toEqual([
      ['103', 'ams-1', '203.0.113.103', '198.18.0.103', '2026-11-28 09:00 UTC'],
      ['101', 'fra-1', '203.0.113.101', '198.18.0.101', '2026-11-28 09:00 UTC'],
    ]);
    expect(reply.lines).toEqual(['Kick one: /vpn kick alice ams-1 103 (server, then Client ID)', 'Kick all: /vpn kick alice all']);
  });

  it('reads "all" and a Client ID in either position, and reports a verified kick', async () => {
    const [a1] = (await store.queries.online('fra-1')).filter((s) => s.commonName === 'alice');
    const { server, ...s } = a1!;
    kicker.outcome = { result: 'kicked', verified: true, message: 'alice was disconnected from fra-1', sessions: [{ server, session: s, killed: true, gone: true }] };
    await dispatch('kick alice all', admin, deps);
    expect(kicker.requests.at(-1)).toMatchObject({ target: 'alice', which: 'all' });
    expect(kicker.requests.at(-1)!.server).toBeUndefined();
    const reply = await dispatch('kick alice fra-1 101', terminal, deps);
    expect(kicker.requests.at(-1)).toMatchObject({ target: 'alice', server: 'fra-1', which: '101' });
    expect(reply).toMatchObject({ title: 'Kicked alice', tone: 'ok', private: true });
    expect(reply.lines).toEqual(['alice was disconnected from fra-1', 'Verified: a fresh read no longer lists the kicked sessions.']);
    expect(reply.table!.rows).toEqual([['fra-1', '203.0.113.101', '101', 'gone']]);
  });

  it('says when the kill was not verified; a usage error the kicker finds is a private warning', async () => {
    const [a1] = (await store.queries.online('fra-1')).filter((s) => s.commonName === 'alice');
    const { server, ...s } = a1!;
    kicker.outcome = { result: 'kicked', verified: false, message: 'client-kill accepted', sessions: [{ server, session: s, killed: true, gone: false }] };
    const reply = await dispatch('kick alice fra-1 all', admin, deps);
    expect(reply.tone).toBe('warn');
    expect(reply.table!.rows[0]![3]).toBe('still listed after the kick');
    kicker.outcome = { result: 'invalid', verified: false, message: "'first' is not a Client ID. Give the number from the list, or all.", sessions: [] };
    const invalid = await dispatch('kick alice fra-1 first', admin, deps);
    expect(kicker.requests.at(-1)).toMatchObject({ target: 'alice', server: 'fra-1', which: 'first' });
    expect(invalid).toMatchObject({ title: "'first' is not a Client ID. Give the number from the list, or all.", tone: 'warn', private: true });
    // No name: still handed to the kicker, which decides (and records) that it is a usage error.
    await dispatch('kick', admin, deps);
    expect(kicker.requests.at(-1)).toEqual({ target: '', by: admin });
  });

  it('logs an unexpected failure with a short reference and shows only the reference', async () => {
    kicker.fail = new Error('management interface: connection reset');
    const reply = await dispatch('kick alice all', admin, deps);
    kicker.fail = null;
    const ref = /^Something went wrong \(ref ([0-9a-f]{4})\)$/.exec(reply.title)?.[1];
    expect(ref).toBeDefined();
    expect(reply).toMatchObject({ tone: 'error', private: true });
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.ref === ref);
    expect(logged).toMatchObject({ level: 50, msg: 'command failed', command: 'kick', err: { message: 'management interface: connection reset' } });
  });
});

describe('/vpn servers, recent, stats, help', () => {
  it('servers: health, last good read, online count, live mode, and notice channels that are not delivering', async () => {
    // The notifier's record of each target (src/notify/notifier.ts writes these).
    const setTarget = async (id: string, state: Parameters<Store['outbox']['updateTarget']>[2]) => {
      await store.outbox.claimTarget(id, 'test', NOW, 1000);
      await store.outbox.updateTarget(id, 'test', state);
      await store.outbox.releaseTarget(id, 'test');
    };
    await setTarget('slack:C0NOTICE', { state: 'failing', error: 'Slack API error: channel_not_found', since: new Date('2026-11-28T10:05:01.000Z') });
    await setTarget('discord:300000000000000001', { state: 'retrying', error: 'Discord API HTTP 503', since: new Date('2026-11-28T10:06:00.000Z'), nextAttemptAt: new Date('2026-11-28T10:11:00.000Z') });
    await setTarget('slack:C0FRA', { state: 'ok' });
    // How the management streams follow the servers (src/management-stream.ts reports these).
    const modes = () => ({
      'fra-1': { mode: 'stream' as const, since: '2026-11-28T09:00:00.000Z' },
      'ams-1': { mode: 'reconnecting' as const, since: '2026-11-28T10:07:00.000Z', lastError: 'bad management password' },
    });
    // Error texts (hosts, addresses) need a viewer who may see real IPs: here SHOW_REAL_IPS.
    const reply = await dispatch('servers', admin, { ...deps, modes, config: { ...deps.config, web: { showRealIps: true } } });
    expect(reply.title).toBe('4 servers: 2 healthy');
    expect(reply.table!.columns).toEqual(['Server', 'Health', 'Last good read', 'Online', 'Mode']);
    expect(reply.table!.rows).toEqual([
      ['ams-1', 'down', '2026-11-28 10:00 UTC (10m ago)', '1', 'status file; management reconnecting (bad management password) since 3m ago'],
      ['fra-1', 'ok', '2026-11-28 10:05 UTC (5m ago)', '2', 'live (management stream)'],
      ['lon-1', 'ok', '2026-11-28 10:00 UTC (10m ago)', '30', 'status file'],
      ['par-1', 'never read', 'never', '0', '—'],
    ]);
    expect(reply.lines).toEqual([
      'ams-1: connect ECONNREFUSED 192.0.2.9:22',
      // Each source on its own: the management interface is reconnecting, whatever the file says.
      'ams-1: management interface: bad management password (since 2026-11-28 10:07 UTC)',
      'Notices to Discord 300000000000000001: retrying since 2026-11-28 10:06 UTC, next attempt 2026-11-28 10:11 UTC: Discord API HTTP 503',
      'Notices to Slack C0NOTICE: failing since 2026-11-28 10:05 UTC, 3 waiting: Slack API error: channel_not_found',
    ]);
    expect(reply.tone).toBe('warn');

    // In a channel without SHOW_REAL_IPS, whoever asks: the states, no error texts.
    const guest = await dispatch('servers', member, { ...deps, modes });
    expect(guest.table!.rows.map((r) => r[4])).toEqual(['status file; management reconnecting since 3m ago', 'live (management stream)', 'status file', '—']);
    // A guest reads the cause, never the host or address (the page's rule: publicCause).
    expect(guest.lines).toEqual([
      'ams-1: connection refused',
      'ams-1: management interface: management password refused (since 2026-11-28 10:07 UTC)',
      'Notices to Discord 300000000000000001: retrying since 2026-11-28 10:06 UTC, next attempt 2026-11-28 10:11 UTC',
      'Notices to Slack C0NOTICE: failing since 2026-11-28 10:05 UTC, 3 waiting',
    ]);
    expect(JSON.stringify(guest.lines)).not.toContain('192.0.2.9');
    expect((await dispatch('servers', admin, { ...deps, modes })).lines).toEqual(guest.lines);
  });

  it('servers: a chat platform that is not connected, so the other platform shows it; its error for who may see it', async () => {
    const chat = () => [
      { platform: 'slack' as const, state: 'failing' as const, since: '2026-11-28T10:01:00.000Z', error: 'Slack auth.test with SLACK_BOT_TOKEN failed: Slack API error: invalid_auth' },
      { platform: 'discord' as const, state: 'ok' as const, since: '2026-11-28T10:00:00.000Z', error: null },
    ];
    const guest = await dispatch('servers', member, { ...deps, chat });
    expect(guest.lines).toContain('Slack is not connected and needs an admin (since 2026-11-28 10:01 UTC)');
    expect(guest.lines!.some((l) => l.startsWith('Discord'))).toBe(false);
    expect(guest.tone).toBe('warn');
    const open = await dispatch('servers', member, { ...deps, chat, config: { ...deps.config, web: { showRealIps: true } } });
    expect(open.lines).toContain('Slack is not connected and needs an admin (since 2026-11-28 10:01 UTC): Slack auth.test with SLACK_BOT_TOKEN failed: Slack API error: invalid_auth');
    const retrying = await dispatch('servers', member, { ...deps, chat: () => [{ platform: 'discord' as const, state: 'retrying' as const, since: '2026-11-28T10:02:00.000Z', error: 'Discord API HTTP 503' }] });
    expect(retrying.lines).toContain('Discord is unreachable, retrying (since 2026-11-28 10:02 UTC)');
  });

  it('recent: the last disconnects, newest first, with a checked count', async () => {
    const reply = await dispatch('recent', admin, deps);
    expect(reply.title).toBe('Last 1 disconnect');
    expect(reply.table!.rows).toEqual([['bob', 'fra-1', '203.0.113.x', '2026-11-28 08:00 UTC', '5m ago', '2h 5m', '1 kB / 2 kB', 'disconnected']]);
    expect((await dispatch('recent 0', admin, deps)).title).toBe("<n> must be a whole number from 1 to 50, not '0'");
    expect((await dispatch('recent 51', admin, deps)).title).toBe("<n> must be a whole number from 1 to 50, not '51'");
    expect((await dispatch({ name: 'recent', input: { n: 1 } }, admin, deps)).table!.rows).toHaveLength(1);
  });

  it('stats: totals across the fleet', async () => {
    const reply = await dispatch('stats', admin, deps);
    expect(reply.fields).toEqual([
      { name: 'Users online', value: '32' },
      { name: 'Active connections', value: '33' },
      { name: 'Active servers', value: '2 of 3' },
      { name: 'Unhealthy servers', value: '1' },
      { name: 'Average connection time', value: '1h 8m' },
    ]);
  });

  it('help: every command with its arguments, as typed where it was asked', async () => {
    const chat = await dispatch('help', member, deps);
    expect(chat.lines).toEqual([
      '/vpn online [server]: Who is connected now, per server',
      '/vpn user <name>: One user: online now, last seen, recent sessions, traffic',
      '/vpn kick <name> [server] [which]: Disconnect a user (admins only); with several sessions, pick one by Client ID or all (admins)',
      '/vpn servers: Server health, last good read, online count; notice channels and chat connections in trouble',
      '/vpn recent [n]: Recently disconnected sessions (default 10, at most 50)',
      '/vpn stats [period]: Totals: users online, connections, servers; with 24h or 7d: peak, average online, traffic',
      '/vpn top [period]: Top users by traffic: 24h, 7d or 30d',
      '/vpn help: This list',
    ]);
    expect((await dispatch('', terminal, deps)).lines![0]).toBe('vpnwatch online [server]: Who is connected now, per server');
  });
});

describe('in a terminal', () => {
  it('prints aligned columns, the cut-off count, and control characters as escapes', async () => {
    const text = renderReplyText(await dispatch('online fra-1', terminal, deps));
    expect(text).toBe([
      'fra-1: 2 online',
      'fra-1: 2',
      '',
      'User   Server  Real IP        Virtual IP    Connected since                Received / Sent',
      'alice  fra-1   203.0.113.101  198.18.0.101  2026-11-28 09:00 UTC (1h 10m)  4 kB / 9 kB',
      'carol  fra-1   203.0.113.104  198.18.0.104  2026-11-28 10:04 UTC (5m 30s)  1 kB / 2 kB',
      '',
    ].join('\n'));
    const hostile = renderReplyText({ title: 'x\u001b[2J\u001b]0;pwned\u0007', table: { columns: ['User'], rows: [['a\rb']] }, truncated: { shown: 1, total: 31 }, tone: 'error', private: true });
    expect(hostile).toBe('✘ x\\u001b[2J\\u001b]0;pwned\\u0007\n\nUser\na\\u000db\n…and 30 more (showing 1 of 31)\n');
  });
});
