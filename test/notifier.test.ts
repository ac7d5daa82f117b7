// Notice delivery from the stored events (the outbox) to Slack, through the real Bolt adapter and
// its Web API client, against a local fake of Slack's Web API (test/fakes/fake-slack.ts). Each test
// has a database of its own on the MongoDB-wire server. The clock is the test's: the notifier is
// run pass by pass at chosen times, so retries and the flap window are checked without waiting.
// The fake keeps each posted message, so a test can read what the channel shows after edits.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDiscordBot } from '../src/chat/discord.ts';
import { createSlackApp, type SlackAdapter } from '../src/chat/slack.ts';
import type { Config } from '../src/config.ts';
import { diffSnapshots, emptyBaseline } from '../src/poll/diff.ts';
import { type ServerConfig, type ServerRead, type VpnSession, sessionKey, userName } from '../src/domain.ts';
import { createMetrics } from '../src/metrics.ts';
import { nonceOf, Notifier, type NotifierOptions } from '../src/notify/notifier.ts';
import type { Store } from '../src/store/store.ts';
import { outboxItemId } from '../src/store/outbox.ts';
import { IDS, startFakeDiscord } from './fakes/fake-discord.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { noticeTargets } from '../src/notify/targets.ts';

const BOT_TOKEN = 'xoxb-notifier';
const DISCORD_TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.notifier.token';
const T = (hhmmss: string) => new Date(`2026-11-28T${hhmmss}.000Z`);

const session = (commonName: string, port: number, connectedAt = '2026-11-28T08:00:00.000Z'): VpnSession => ({
  commonName, username: null, realAddress: `203.0.113.${port % 250}`, realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 250}`,
  virtualIpv6: null, bytesReceived: 1_000, bytesSent: 2_000, connectedAt, clientId: port, peerId: 0, cipher: null,
});
const serverConfig = (name: string, notify?: ServerConfig['notify']): ServerConfig => ({
  name, host: `${name}.example.net`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true, statusPath: '/run/openvpn/status.log',
  statusRefreshSeconds: 10, timezone: 'UTC', ...(notify ? { notify } : {}),
});

type NoticeConfig = NotifierOptions['config'];
const config = (flapWindowSeconds: number, servers = [serverConfig('fra-1'), serverConfig('ams-1')]): NoticeConfig => ({
  servers, notices: { flapWindowSeconds }, slack: { botToken: BOT_TOKEN, signingSecret: 's', adminUsers: [], noticeChannel: 'C0NOTICE' },
});

let fake: FakeSlack;
let slack: SlackAdapter;
let store: Store;
const quiet = pino({ level: 'silent' });

beforeAll(async () => {
  fake = await startFakeSlack({ botToken: BOT_TOKEN, channels: ['C0NOTICE', 'C0FRA'] });
  // The adapter's notice client only; its slash-command side is not used here.
  // SHOW_REAL_IPS: these tests read notices with their real addresses (chat.test.ts covers masking).
  slack = createSlackApp({ config: { botToken: BOT_TOKEN, signingSecret: 's', adminUsers: [], apiUrl: fake.apiUrl }, dispatch: { config: { web: { showRealIps: true } } } as never, log: quiet });
});
afterAll(async () => { await fake.close(); });
beforeEach(async () => {
  store = await openTestStore();
  fake.calls.length = 0;
  fake.messages.clear();
});
afterEach(async () => { await dropTestStore(store); });

/**
 * Stores one read of `server` the way the poller does (diff against the stored baseline, then
 * applyCycle). `kicked` names users whose sessions ending in this read were kicked.
 */
async function storeRead(server: string, at: string, sessions: VpnSession[], cfg: Pick<Config, 'servers' | 'slack' | 'discord'>, { announce = true, kicked = [] as string[] } = {}) {
  const readAt = `2026-11-28T${at}.000Z`;
  const read: ServerRead = { server, ok: true, readAt, durationMs: 5, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } };
  const baseline = (await store.cycles.loadBaselines()).get(server) ?? emptyBaseline();
  const kickedKeys = new Set(Object.values(baseline.sessions ?? {}).filter((s) => kicked.includes(userName(s))).map(sessionKey));
  const diff = diffSnapshots(baseline, read, { downAfter: 2, staleAfterMs: 3_600_000, firstSinceStart: !announce, kicked: kickedKeys });
  const listed = new Set(sessions.map(userName));
  const usersOnline = new Map([...diff.started, ...diff.ended].map((s) => [userName(s), listed.has(userName(s))]));
  await store.cycles.applyCycle([{ server, read, diff, cycle: `${server}@${readAt}`, targets: noticeTargets(cfg, server), sessionIds: { ended: new Map(), current: new Map() } }], usersOnline);
}

const posted = () => fake.callsTo('chat.postMessage').map((c) => ({ channel: c.body.channel, text: c.body.text }));
const updated = () => fake.callsTo('chat.update').map((c) => ({ channel: c.body.channel, ts: c.body.ts, text: c.body.text }));
/** What the notice channel shows now: each message's text, oldest first (edits applied). */
const channelShows = () => [...fake.messages.values()].filter((m) => m.channel === 'C0NOTICE').map((m) => m.text);
/** The Slack delivery of each stored event, oldest first: state, attempts and the message it went out in. */
async function slackDeliveries() {
  return (await store.queries.eventsSince(new Date(0))).map((e) => {
    const d = e.deliveries.find((x) => x.target.startsWith('slack:'))!;
    return { type: e.type, user: e.user, state: d.state, attempts: d.attempts, messageRef: d.messageRef };
  });
}

/** A notifier on the test's clock; pacing is off (the pacing tests turn it on). */
function notifierAt(cfg: NoticeConfig, clock: { now: Date }, extra: Partial<NotifierOptions> = {}) {
  return new Notifier({ store, config: cfg, sinks: [slack.sink], log: quiet, now: () => clock.now, pacingMs: NO_PACING, ...extra });
}

const NO_PACING = { slack: 0, discord: 0 };

/** A target's state as /healthz shows it. */
async function targetState(id: string) {
  return (await store.outbox.health()).find((t) => t.id === id);
}

/** The deliveries still waiting in the outbox, per target. */
async function waiting(): Promise<Record<string, number>> {
  return Object.fromEntries((await store.outbox.health()).filter((t) => t.pending > 0).map((t) => [t.id, t.pending]));
}

describe('where notices go', () => {
  it('per-server channel first, then the global one; the log when no chat is configured', () => {
    const servers = [serverConfig('fra-1', { slackChannel: 'C0FRA' }), serverConfig('ams-1')];
    expect(noticeTargets({ servers, slack: { botToken: 't', adminUsers: [], noticeChannel: 'C0NOTICE' } }, 'ams-1')).toEqual(['slack:C0NOTICE']);
    expect(noticeTargets({ servers, slack: { botToken: 't', adminUsers: [], noticeChannel: 'C0NOTICE' } }, 'fra-1')).toEqual(['slack:C0FRA']);
    expect(noticeTargets({ servers, slack: { botToken: 't', adminUsers: [] } }, 'fra-1')).toEqual(['slack:C0FRA']);
    expect(noticeTargets({ servers, slack: { botToken: 't', adminUsers: [] } }, 'ams-1')).toEqual(['log']);
    expect(noticeTargets({ servers, discord: { token: 't', adminUsers: [], adminRoles: [], noticeChannel: '3' }, slack: { botToken: 't', adminUsers: [], noticeChannel: 'C' } }, 'ams-1')).toEqual(['slack:C', 'discord:3']);
    expect(noticeTargets({ servers }, 'fra-1')).toEqual(['log']);
  });
});

describe('grouping', () => {
  it('sends one message per server per cycle, nothing for the first read or unchanged reads, and never re-sends', async () => {
    const cfg = config(0, [serverConfig('fra-1', { slackChannel: 'C0FRA' }), serverConfig('ams-1')]);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('ams-1', '10:00:00', [], cfg);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await notifier.runOnce();
    expect(posted()).toEqual([]);

    await storeRead('fra-1', '10:05:00', [session('alice', 101), session('carol', 104, '2026-11-28T10:04:00.000Z'), session('dave', 105, '2026-11-28T10:04:30.000Z')], cfg);
    await storeRead('ams-1', '10:05:00', [session('erin', 106, '2026-11-28T10:04:50.000Z')], cfg);
    await storeRead('fra-1', '10:05:30', [session('alice', 101), session('carol', 104, '2026-11-28T10:04:00.000Z'), session('dave', 105, '2026-11-28T10:04:30.000Z')], cfg);
    clock.now = T('10:05:31');
    await notifier.runOnce();
    // Two channels, two targets: each advances on its own, so their order is not fixed.
    expect(posted().sort((a, b) => a.channel.localeCompare(b.channel))).toEqual([
      { channel: 'C0FRA', text: 'fra-1: 🔴 bob disconnected after 2h 5m · 🟢 carol connected from 203.0.113.104 (198.18.0.104) · 🟢 dave connected from 203.0.113.105 (198.18.0.105)' },
      { channel: 'C0NOTICE', text: 'ams-1: 🟢 erin connected from 203.0.113.106 (198.18.0.106)' },
    ]);
    expect(await waiting()).toEqual({});
    const events = await store.queries.eventsSince(new Date(0));
    expect(events.map((e) => e.deliveries.map((d) => [d.target, d.state, d.attempts]))).toEqual([
      ...Array(3).fill([['slack:C0FRA', 'sent', 1]]), [['slack:C0NOTICE', 'sent', 1]],
    ]);

    clock.now = T('10:10:00');
    await notifier.runOnce();
    expect(posted()).toHaveLength(2);
  });

  it('after a long stop, posts one summary and never the events stored as skipped behind it', async () => {
    const cfg = config(0);
    await storeRead('fra-1', '08:00:00', [session('alice', 101)], cfg);
    await storeRead('fra-1', '10:01:00', [session('bob', 102)], cfg, { announce: false });
    expect((await store.queries.eventsSince(new Date(0))).map((e) => [e.type, e.deliveries[0]!.state])).toEqual([['disconnected', 'skipped'], ['connected', 'skipped'], ['summary', 'pending']]);
    await notifierAt(cfg, { now: T('10:05:00') }).runOnce();
    expect(posted()).toEqual([{ channel: 'C0NOTICE', text: 'fra-1: ⏸ While vpnwatch was stopped for 2h 1m (from 2026-11-28 08:00 UTC): 1 connected, 1 left' }]);
  });

  it('after a short stop, posts each change marked with the interval it happened in', async () => {
    const cfg = config(0);
    await storeRead('fra-1', '10:00:00', [session('alice', 101)], cfg);
    await storeRead('fra-1', '10:15:00', [session('alice', 101), session('bob', 102)], cfg, { announce: false });
    await notifierAt(cfg, { now: T('10:15:01') }).runOnce();
    expect(posted()).toEqual([{ channel: 'C0NOTICE', text: 'fra-1: 🟢 bob connected from 203.0.113.102 (198.18.0.102) (while vpnwatch was stopped, between 10:00 and 10:15 UTC)' }]);
  });
});

describe('flap window', () => {
  it('posts a disconnect at once; a reconnect within the window edits that message into one line and posts nothing new', async () => {
    const cfg = config(60);
    const metrics = createMetrics();
    const clock = { now: T('10:00:01') };
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102), session('<!here> *eve*', 103)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101), session('carol', 104, '2026-11-28T10:00:50.000Z')], cfg);
    clock.now = T('10:01:01');
    await notifierAt(cfg, clock, { metrics }).runOnce();
    const original = 'fra-1: 🔴 bob disconnected after 2h 1m · 🔴 &lt;!here&gt; *eve* disconnected after 2h 1m · 🟢 carol connected from 203.0.113.104 (198.18.0.104)';
    expect(posted()).toEqual([{ channel: 'C0NOTICE', text: original }]); // no hold: out in the same run
    const [ts] = [...fake.messages.keys()];

    // eve is back 40 s later. A fresh notifier (as after a restart) finds the message in the store.
    await storeRead('fra-1', '10:01:40', [session('alice', 101), session('carol', 104, '2026-11-28T10:00:50.000Z'), session('<!here> *eve*', 113, '2026-11-28T10:01:38.000Z')], cfg);
    clock.now = T('10:01:41');
    await notifierAt(cfg, clock, { metrics }).runOnce();
    const eveBack = '🔁 &lt;!here&gt; *eve* reconnected from 203.0.113.113 (198.18.0.113) after 40s away';
    expect(posted()).toHaveLength(1);
    expect(updated()).toEqual([{ channel: 'C0NOTICE', ts, text: `fra-1: 🔴 bob disconnected after 2h 1m · ${eveBack} · 🟢 carol connected from 203.0.113.104 (198.18.0.104)` }]);

    // bob too, in another cycle: the second edit keeps eve's line.
    await storeRead('fra-1', '10:01:50', [session('alice', 101), session('carol', 104, '2026-11-28T10:00:50.000Z'), session('<!here> *eve*', 113, '2026-11-28T10:01:38.000Z'), session('bob', 112, '2026-11-28T10:01:45.000Z')], cfg);
    clock.now = T('10:01:51');
    await notifierAt(cfg, clock, { metrics }).runOnce();
    // Past 200 characters the notice puts one change per line.
    const final = ['fra-1:', '🔁 bob reconnected from 203.0.113.112 (198.18.0.112) after 50s away', eveBack, '🟢 carol connected from 203.0.113.104 (198.18.0.104)'].join('\n');
    expect(posted()).toHaveLength(1);
    expect(updated().at(-1)).toEqual({ channel: 'C0NOTICE', ts, text: final });
    expect(channelShows()).toEqual([final]);
    expect(fake.callsTo('chat.update').at(-1)!.body.blocks).toEqual([{ type: 'section', text: { type: 'plain_text', text: final, emoji: true } }]);

    const ref = JSON.stringify({ channel: 'C0NOTICE', ts });
    expect(await slackDeliveries()).toEqual([
      { type: 'disconnected', user: 'bob', state: 'sent', attempts: 1, messageRef: ref },
      { type: 'disconnected', user: '<!here> *eve*', state: 'sent', attempts: 1, messageRef: ref },
      { type: 'connected', user: 'carol', state: 'sent', attempts: 1, messageRef: ref },
      { type: 'connected', user: '<!here> *eve*', state: 'sent', attempts: 1, messageRef: ref },
      { type: 'connected', user: 'bob', state: 'sent', attempts: 1, messageRef: ref },
    ]);
    expect(await waiting()).toEqual({});
    const counts = (await metrics.noticeDeliveries.get()).values.map((v) => [v.labels.result, v.value]);
    expect(counts).toEqual([['sent', 1], ['edited', 2]]);
  });

  it('a reconnect after the window is a new message', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:02:00', [session('alice', 101)], cfg);
    clock.now = T('10:02:01');
    await notifier.runOnce();
    expect(posted()).toEqual([{ channel: 'C0NOTICE', text: 'fra-1: 🔴 bob disconnected after 2h 2m' }]);
    await storeRead('fra-1', '10:03:30', [session('alice', 101), session('bob', 103, '2026-11-28T10:03:20.000Z')], cfg);
    clock.now = T('10:03:31');
    await notifier.runOnce();
    expect(posted()).toEqual([
      { channel: 'C0NOTICE', text: 'fra-1: 🔴 bob disconnected after 2h 2m' },
      { channel: 'C0NOTICE', text: 'fra-1: 🟢 bob connected from 203.0.113.103 (198.18.0.103)' },
    ]);
    expect(updated()).toEqual([]);
  });

  it('never folds a kick: the reconnect that follows it is a message of its own', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg, { kicked: ['bob'] });
    clock.now = T('10:01:01');
    await notifier.runOnce();
    await storeRead('fra-1', '10:01:10', [session('alice', 101), session('bob', 103, '2026-11-28T10:01:05.000Z')], cfg);
    clock.now = T('10:01:11');
    await notifier.runOnce();
    expect(posted()).toEqual([
      { channel: 'C0NOTICE', text: 'fra-1: ⛔ bob was kicked after 2h 1m' },
      { channel: 'C0NOTICE', text: 'fra-1: 🟢 bob connected from 203.0.113.103 (198.18.0.103)' },
    ]);
    expect(updated()).toEqual([]);
  });

  it('when the posted disconnect cannot be edited any more (deleted), posts the reconnect instead', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    clock.now = T('10:01:01');
    await notifier.runOnce();
    fake.deleteMessage([...fake.messages.keys()][0]!);
    await storeRead('fra-1', '10:01:20', [session('alice', 101), session('bob', 103, '2026-11-28T10:01:15.000Z')], cfg);
    clock.now = T('10:01:21');
    await notifier.runOnce();
    expect(fake.callsTo('chat.update')).toHaveLength(1); // tried, message_not_found
    expect(posted().at(-1)).toEqual({ channel: 'C0NOTICE', text: 'fra-1: 🟢 bob connected from 203.0.113.103 (198.18.0.103)' });
    expect(channelShows()).toEqual(['fra-1: 🟢 bob connected from 203.0.113.103 (198.18.0.103)']);
    const [ts] = [...fake.messages.keys()];
    expect((await slackDeliveries())[1]).toEqual({ type: 'connected', user: 'bob', state: 'sent', attempts: 1, messageRef: JSON.stringify({ channel: 'C0NOTICE', ts }) });
    expect(await waiting()).toEqual({});
  });

  it('an edit that fails transiently is retried as an edit after retry-after, never posted as well', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    clock.now = T('10:01:01');
    await notifier.runOnce();
    await storeRead('fra-1', '10:01:20', [session('alice', 101), session('bob', 103, '2026-11-28T10:01:15.000Z')], cfg);
    fake.answerNext('chat.update', { status: 429, headers: { 'retry-after': '3' } });
    clock.now = T('10:01:21');
    await notifier.runOnce();
    expect((await slackDeliveries())[1]).toMatchObject({ state: 'pending', attempts: 1, messageRef: null });
    expect(await targetState('slack:C0NOTICE')).toMatchObject({ state: 'retrying', nextAttemptAt: T('10:01:24'), error: 'Slack rate limit (retry after 3 s)', pending: 1 });
    clock.now = T('10:01:24');
    await notifier.runOnce();
    expect(fake.callsTo('chat.update')).toHaveLength(2);
    expect(posted()).toHaveLength(1);
    expect(channelShows()).toEqual(['fra-1: 🔁 bob reconnected from 203.0.113.103 (198.18.0.103) after 20s away']);
    expect((await slackDeliveries())[1]).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('a disconnect and its reconnect stored while chat is down go out as one line when chat is back', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:00:30', [session('alice', 101), session('bob', 102), session('carol', 104, '2026-11-28T10:00:25.000Z')], cfg);
    fake.answerNext('chat.postMessage', { status: 503, body: 'down' });
    clock.now = T('10:00:31');
    await notifier.runOnce(); // carol: 503, again at 10:00:36
    await storeRead('fra-1', '10:01:00', [session('alice', 101), session('carol', 104, '2026-11-28T10:00:25.000Z')], cfg);
    await storeRead('fra-1', '10:01:20', [session('alice', 101), session('carol', 104, '2026-11-28T10:00:25.000Z'), session('bob', 103, '2026-11-28T10:01:15.000Z')], cfg);
    clock.now = T('10:01:21');
    await notifier.runOnce();
    const carol = 'fra-1: 🟢 carol connected from 203.0.113.104 (198.18.0.104)';
    const bobBack = 'fra-1: 🔁 bob reconnected from 203.0.113.103 (198.18.0.103) after 20s away';
    expect(fake.callsTo('chat.postMessage').map((c) => c.body.text)).toEqual([carol, carol, bobBack]);
    expect(channelShows()).toEqual([carol, bobBack]);
    expect(updated()).toEqual([]);
    expect((await slackDeliveries()).map((d) => [d.type, d.user, d.state, d.attempts])).toEqual([
      ['connected', 'carol', 'sent', 2], ['disconnected', 'bob', 'sent', 1], ['connected', 'bob', 'sent', 1],
    ]);
  });

  it('a message whose post failed goes out again as it was; a reconnect stored meanwhile is folded into it by an edit', async () => {
    const cfg = config(60);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    fake.answerNext('chat.postMessage', { status: 503, body: 'down' }, { status: 503, body: 'down' });
    clock.now = T('10:01:01');
    await notifier.runOnce(); // the disconnect: 503, again at 10:01:06
    await storeRead('fra-1', '10:01:20', [session('alice', 101), session('bob', 103, '2026-11-28T10:01:15.000Z')], cfg);
    clock.now = T('10:01:21');
    await notifier.runOnce(); // the disconnect alone, as it was: 503, again 10 s later
    expect(channelShows()).toEqual([]);
    clock.now = T('10:01:31');
    await notifier.runOnce();
    const bobLeft = 'fra-1: 🔴 bob disconnected after 2h 1m';
    expect(fake.callsTo('chat.postMessage').map((c) => c.body.text)).toEqual([bobLeft, bobLeft, bobLeft]);
    expect(updated().map((u) => u.text)).toEqual(['fra-1: 🔁 bob reconnected from 203.0.113.103 (198.18.0.103) after 20s away']);
    expect(channelShows()).toEqual(['fra-1: 🔁 bob reconnected from 203.0.113.103 (198.18.0.103) after 20s away']);
    expect((await slackDeliveries()).map((d) => [d.type, d.state, d.attempts])).toEqual([['disconnected', 'sent', 3], ['connected', 'sent', 1]]);
  });

  it('never posts a disconnect stored as skipped; the reconnect after it is a plain connect', async () => {
    const cfg = config(60);
    await storeRead('fra-1', '08:00:00', [session('alice', 101), session('bob', 102)], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg, { announce: false });
    await storeRead('fra-1', '10:01:20', [session('alice', 101), session('bob', 103, '2026-11-28T10:01:15.000Z')], cfg);
    await notifierAt(cfg, { now: T('10:01:21') }).runOnce();
    // Two cycles due at once: one message, a section each.
    expect(posted()).toEqual([{
      channel: 'C0NOTICE',
      text: 'fra-1: ⏸ While vpnwatch was stopped for 2h 1m (from 2026-11-28 08:00 UTC): 1 left\nfra-1: 🟢 bob connected from 203.0.113.103 (198.18.0.103)',
    }]);
    expect(updated()).toEqual([]);
    expect((await slackDeliveries()).map((d) => [d.type, d.state])).toEqual([['disconnected', 'skipped'], ['summary', 'sent'], ['connected', 'sent']]);
  });

  it('Discord: the reconnect edits the posted message with PATCH, no mentions parsed', async () => {
    const discordFake = await startFakeDiscord({ token: DISCORD_TOKEN });
    try {
      const discordConfig = { token: DISCORD_TOKEN, adminUsers: [], adminRoles: [], apiUrl: discordFake.apiBase, noticeChannel: IDS.channel };
      // REST only: notices need no gateway session.
      const bot = createDiscordBot({ config: discordConfig, dispatch: { config: { web: { showRealIps: true } } } as never, log: quiet });
      const cfg: NoticeConfig = { servers: [serverConfig('fra-1')], notices: { flapWindowSeconds: 60 }, discord: discordConfig };
      const clock = { now: T('10:00:01') };
      const notifier = new Notifier({ store, config: cfg, sinks: [bot.sink], log: quiet, now: () => clock.now, pacingMs: NO_PACING });
      await storeRead('fra-1', '10:00:00', [session('@everyone', 101)], cfg);
      await storeRead('fra-1', '10:01:00', [], cfg);
      clock.now = T('10:01:01');
      await notifier.runOnce();
      const [post] = discordFake.callsTo('POST', /^\/channels\/\d+\/messages$/);
      // The nonce is derived from the deliveries the message carries (Discord takes at most 25 characters).
      const [disconnect] = await store.queries.eventsSince(new Date(0));
      const nonce = nonceOf([outboxItemId(disconnect!.id, `discord:${IDS.channel}`)]);
      expect(post!.body).toEqual({ content: 'fra-1: 🔴 \\@everyone disconnected after 2h 1m', allowed_mentions: { parse: [] }, nonce, enforce_nonce: true });
      expect(post!.body.nonce).toMatch(/^[\w-]{25}$/);
      const [id] = [...discordFake.messages.keys()];

      await storeRead('fra-1', '10:01:12', [session('@everyone', 102, '2026-11-28T10:01:10.000Z')], cfg);
      clock.now = T('10:01:13');
      await notifier.runOnce();
      expect(discordFake.callsTo('POST', /^\/channels\//)).toHaveLength(1);
      const [patch] = discordFake.callsTo('PATCH', /^\/channels\//);
      const content = 'fra-1: 🔁 \\@everyone reconnected from 203.0.113.102 (198.18.0.102) after 12s away';
      expect(patch).toMatchObject({ path: `/channels/${IDS.channel}/messages/${id}`, body: { content, allowed_mentions: { parse: [] } } });
      expect(discordFake.messages.get(id!)).toMatchObject({ content });
      const events = await store.queries.eventsSince(new Date(0));
      expect(events.map((e) => [e.type, e.deliveries[0]!.state, e.deliveries[0]!.messageRef])).toEqual([['disconnected', 'sent', id], ['connected', 'sent', id]]);
    } finally {
      await discordFake.close();
    }
  });
});

describe('delivery failures', () => {
  it('429: waits for retry-after, then delivers once; no loss, no duplicate', async () => {
    const cfg = config(0);
    const metrics = createMetrics();
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock, { metrics });
    await storeRead('fra-1', '10:00:00', [], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101, '2026-11-28T10:00:50.000Z')], cfg);
    fake.answerNext('chat.postMessage', { status: 429, headers: { 'retry-after': '7' } });
    clock.now = T('10:01:01');
    await notifier.runOnce();
    const [pending] = await store.queries.eventsSince(new Date(0));
    expect(pending!.deliveries[0]).toMatchObject({ state: 'pending', attempts: 1, lastError: 'Slack rate limit (retry after 7 s)' });
    expect(await targetState('slack:C0NOTICE')).toMatchObject({ state: 'retrying', nextAttemptAt: T('10:01:08'), since: T('10:01:01') });

    clock.now = T('10:01:05');
    await notifier.runOnce();
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1); // still waiting
    clock.now = T('10:01:08');
    await notifier.runOnce();
    await notifier.runOnce();
    expect(fake.callsTo('chat.postMessage')).toHaveLength(2);
    expect(posted()[1]).toEqual({ channel: 'C0NOTICE', text: 'fra-1: 🟢 alice connected from 203.0.113.101 (198.18.0.101)' });
    const [event] = await store.queries.eventsSince(new Date(0));
    expect(event!.deliveries[0]).toMatchObject({ state: 'sent', attempts: 2, sentAt: T('10:01:08'), lastError: null });
    const counts = (await metrics.noticeDeliveries.get()).values.map((v) => [v.labels.result, v.value]);
    expect(counts).toEqual([['retry', 1], ['sent', 1]]);
  });

  it('5xx: retries with growing backoff (5 s, 10 s), then delivers', async () => {
    const cfg = config(0);
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock);
    await storeRead('fra-1', '10:00:00', [], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    fake.answerNext('chat.postMessage', { status: 500, body: 'oops' }, { status: 503, body: 'oops' });
    clock.now = T('10:01:01');
    await notifier.runOnce();
    const delivery = async () => (await store.queries.eventsSince(new Date(0)))[0]!.deliveries[0];
    expect(await delivery()).toMatchObject({ attempts: 1, lastError: 'Slack API HTTP 500' });
    expect(await targetState('slack:C0NOTICE')).toMatchObject({ state: 'retrying', nextAttemptAt: T('10:01:06'), error: 'Slack API HTTP 500' });
    clock.now = T('10:01:06');
    await notifier.runOnce();
    expect(await delivery()).toMatchObject({ attempts: 2, lastError: 'Slack API HTTP 503' });
    expect(await targetState('slack:C0NOTICE')).toMatchObject({ state: 'retrying', nextAttemptAt: T('10:01:16'), error: 'Slack API HTTP 503', since: T('10:01:01') });
    clock.now = T('10:01:16');
    await notifier.runOnce();
    expect(fake.callsTo('chat.postMessage')).toHaveLength(3);
    expect(await waiting()).toEqual({});
  });

  it('a missing channel or a bad token fails once: recorded, logged once, the target failing, not retried', async () => {
    const cfg = config(0, [serverConfig('fra-1', { slackChannel: 'C0GONE' })]);
    const logLines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }));
    const clock = { now: T('10:00:01') };
    const notifier = notifierAt(cfg, clock, { log });
    await storeRead('fra-1', '10:00:00', [], cfg);
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    await storeRead('fra-1', '10:02:00', [session('alice', 101), session('bob', 102)], cfg);
    clock.now = T('10:02:01');
    await notifier.runOnce();
    clock.now = T('10:30:00');
    await notifier.runOnce();
    // Both cycles were due at once: one message (two sections), tried once, never again.
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
    const events = await store.queries.eventsSince(new Date(0));
    expect(events.map((e) => e.deliveries[0])).toMatchObject([
      { target: 'slack:C0GONE', state: 'failed', attempts: 1, lastError: 'Slack API error: channel_not_found' },
      { target: 'slack:C0GONE', state: 'failed', attempts: 1, lastError: 'Slack API error: channel_not_found' },
    ]);
    expect(await store.outbox.health()).toEqual([
      { id: 'slack:C0GONE', state: 'failing', error: 'Slack API error: channel_not_found', since: T('10:02:01'), nextAttemptAt: null, pending: 0 },
    ]);
    expect(logLines.filter((l) => l.includes('channel_not_found'))).toHaveLength(1);

    const revoked = createSlackApp({ config: { botToken: 'xoxb-revoked', signingSecret: 's', adminUsers: [], apiUrl: fake.apiUrl }, dispatch: {} as never, log: quiet });
    await storeRead('fra-1', '10:31:00', [session('bob', 102)], cfg);
    clock.now = T('10:31:01');
    await notifierAt(config(0), clock, { sinks: [revoked.sink] }).runOnce();
    expect(await waiting()).toEqual({});
    expect((await store.queries.eventsSince(T('10:30:00')))[0]!.deliveries[0]).toMatchObject({ state: 'failed', lastError: 'Slack API error: invalid_auth' });
  });
});

describe('without chat', () => {
  it('writes notices to the log and marks them sent', async () => {
    const cfg: NoticeConfig = { servers: [serverConfig('fra-1')], notices: { flapWindowSeconds: 0 } };
    const logLines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }));
    await storeRead('fra-1', '10:00:00', [], cfg);
    await storeRead('fra-1', '10:01:00', [session('<!channel> `x`', 101)], cfg);
    await new Notifier({ store, config: cfg, sinks: [], log, now: () => T('10:01:01') }).runOnce();
    expect(logLines.map((l) => JSON.parse(l).msg)).toEqual(['fra-1: 🟢 <!channel> `x` connected from 203.0.113.101 (198.18.0.101)']);
    expect((await store.queries.eventsSince(new Date(0)))[0]!.deliveries).toMatchObject([{ target: 'log', state: 'sent', attempts: 1 }]);
  });
});

describe('wake()', () => {
  it('delivers soon after the poller stores a cycle, and stop() waits for the run', async () => {
    const cfg = config(0);
    await storeRead('fra-1', '10:00:00', [], cfg);
    const notifier = new Notifier({ store, config: cfg, sinks: [slack.sink], log: quiet, tickMs: 60_000 });
    notifier.start();
    await storeRead('fra-1', '10:01:00', [session('alice', 101)], cfg);
    notifier.wake();
    await expect.poll(() => posted().length, { timeout: 10_000 }).toBe(1);
    await notifier.stop();
    expect(posted()[0]!.text).toBe('fra-1: 🟢 alice connected from 203.0.113.101 (198.18.0.101)');
  });
});
