// The outbox per target (src/notify/notifier.ts, src/store/outbox.ts) through the real Bolt and
// discord.js clients, against the project's Slack and Discord fakes behind a recording proxy
// (test/support/http-proxy.ts: what the platform sees, and when; 503s while it is "down"), on the
// real MongoDB-wire server: one target's outage never holds up another's notices; two notifiers
// on one database post each notice once; a burst is combined and paced per channel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createDiscordBot, type DiscordAdapter } from '../src/chat/discord.ts';
import { createSlackApp, type SlackAdapter } from '../src/chat/slack.ts';
import { dispatch } from '../src/dispatch.ts';
import { loadConfig } from '../src/config.ts';
import { createMetrics } from '../src/metrics.ts';
import { Notifier, type NotifierOptions } from '../src/notify/notifier.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createWebApp } from '../src/web/server.ts';
import { Store } from '../src/store/store.ts';
import { IDS, startFakeDiscord, type FakeDiscord } from './fakes/fake-discord.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { listen } from './support/browser.ts';
import { startProxy } from './support/http-proxy.ts';
import { noticeServer, noticeSession, storeRead, storeReads, T } from './support/notices.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const BOT_TOKEN = 'xoxb-outbox';
const DISCORD_TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.outbox.token';
const SLACK_TARGET = 'slack:C0NOTICE';
const DISCORD_TARGET = `discord:${IDS.channel}`;
const quiet = pino({ level: 'silent' });

let slackFake: FakeSlack;
let discordFake: FakeDiscord;
let slackProxy: Awaited<ReturnType<typeof startProxy>>;
let discordProxy: Awaited<ReturnType<typeof startProxy>>;
let slack: SlackAdapter;
let discord: DiscordAdapter;
let store: Store;

beforeAll(async () => {
  [slackFake, discordFake] = await Promise.all([startFakeSlack({ botToken: BOT_TOKEN, channels: ['C0NOTICE', 'C0FRA'] }), startFakeDiscord({ token: DISCORD_TOKEN })]);
  [slackProxy, discordProxy] = await Promise.all([startProxy(slackFake.apiUrl), startProxy(discordFake.apiBase)]);
  // The adapters' notice clients only (REST): notices need no slash commands or gateway.
  slack = createSlackApp({ config: { botToken: BOT_TOKEN, signingSecret: 's', adminUsers: [], apiUrl: `${slackProxy.url}/` }, dispatch: {} as never, log: quiet });
  discord = createDiscordBot({ config: { token: DISCORD_TOKEN, adminUsers: [], adminRoles: [], apiUrl: discordProxy.url }, dispatch: {} as never, log: quiet });
});
afterAll(async () => {
  await Promise.all([slackProxy?.close(), discordProxy?.close()]);
  await Promise.all([slackFake?.close(), discordFake?.close()]);
});
beforeEach(async () => {
  store = await openTestStore();
  for (const list of [slackFake.calls, discordFake.rest, slackProxy.requests, discordProxy.requests]) list.length = 0;
  slackFake.messages.clear();
  discordFake.messages.clear();
  slackProxy.state.down = false;
  discordProxy.state.down = false;
});
afterEach(async () => { await dropTestStore(store); });

type NoticeConfig = NotifierOptions['config'];
const bothPlatforms = (servers: string[], flapWindowSeconds = 0): NoticeConfig => ({
  servers: servers.map((name) => noticeServer(name)),
  notices: { flapWindowSeconds },
  slack: { botToken: BOT_TOKEN, signingSecret: 's', adminUsers: [], noticeChannel: 'C0NOTICE' },
  discord: { token: DISCORD_TOKEN, adminUsers: [], adminRoles: [], noticeChannel: IDS.channel },
});

function notifier(cfg: NoticeConfig, extra: Partial<NotifierOptions> = {}): Notifier {
  return new Notifier({ store, config: cfg, sinks: [slack.sink, discord.sink], log: quiet, pacingMs: { slack: 0, discord: 0 }, ...extra });
}

/** What a channel shows now: the text of each message, oldest first. */
const slackTexts = () => [...slackFake.messages.values()].filter((m) => m.channel === 'C0NOTICE').map((m) => m.text);
const discordTexts = () => [...discordFake.messages.values()].map((m) => String(m.content));
/** The users announced as connected in these texts, in order (names are plain letters and digits: no escaping). */
const connectedIn = (texts: string[]) => texts.flatMap((t) => [...t.matchAll(/🟢 (\w+) connected/g)].map((m) => m[1]!));
/** The deliveries waiting, per target. */
async function waiting(): Promise<Record<string, number>> {
  return Object.fromEntries((await store.outbox.health()).filter((t) => t.pending > 0).map((t) => [t.id, t.pending]));
}

describe('each target advances on its own', () => {
  it('Discord answering 503 for two hours holds 1,100+ notices for Discord; Slack gets every new one at once; then Discord gets each, in order, once', { timeout: 120_000 }, async () => {
    const cfg = bothPlatforms(['fra-1', 'ams-1']);
    const clock = { now: T('08:00:00') };
    // Discord paced at 40 messages a second (discord.js itself holds a client to 50 requests a second).
    const n = notifier(cfg, { now: () => clock.now, pacingMs: { slack: 0, discord: 25 } });
    await storeReads(store, '08:00:00', { 'fra-1': [], 'ams-1': [] }, cfg); // the first read: the baseline
    discordProxy.state.down = true;

    // Two hours of cycles, 20 people arriving on each server in each: 28 × 40 = 1,120 notices for each target.
    const online: Record<string, ReturnType<typeof noticeSession>[]> = { 'fra-1': [], 'ams-1': [] };
    const users: string[] = [];
    for (let cycle = 1; cycle <= 28; cycle++) {
      const at = new Date(T('08:00:00').getTime() + cycle * 256_000);
      for (const [k, server] of ['fra-1', 'ams-1'].entries()) {
        for (let i = 0; i < 20; i++) {
          const name = `u${String(cycle).padStart(2, '0')}${k}${String(i).padStart(2, '0')}`;
          users.push(name);
          online[server]!.push(noticeSession(name, cycle * 100 + k * 50 + i, new Date(at.getTime() - 1000).toISOString()));
        }
      }
      await storeReads(store, at.toISOString(), { 'fra-1': [...online['fra-1']!], 'ams-1': [...online['ams-1']!] }, cfg);
      clock.now = new Date(at.getTime() + 1000);
      await n.runOnce();
      // Slack shows this cycle's arrivals right away, whatever Discord's backlog.
      expect(connectedIn(slackTexts()), `cycle ${cycle}`).toEqual(users);
    }
    expect(await waiting()).toEqual({ [DISCORD_TARGET]: 1_120 });
    const outage = (await store.outbox.health()).find((t) => t.id === DISCORD_TARGET)!;
    expect(outage).toMatchObject({ state: 'retrying', error: 'Discord API HTTP 503', since: T('08:04:17'), pending: 1_120 });
    // Backing off (5 s doubling to 10 min): a try at most every cycle, then fewer.
    const tries = discordProxy.requests.filter((r) => r.method === 'POST').length;
    expect(tries).toBeGreaterThan(5);
    expect(tries).toBeLessThan(28);
    expect(discordFake.messages.size).toBe(0);

    // A fresh connect while Discord is still down: Slack at once.
    const late = noticeSession('latecomer', 9_999, '2026-11-28T10:05:00.000Z');
    await storeReads(store, '10:05:01', { 'fra-1': [...online['fra-1']!, late], 'ams-1': [...online['ams-1']!] }, cfg);
    clock.now = T('10:05:02');
    await n.runOnce();
    expect(connectedIn(slackTexts()).at(-1)).toBe('latecomer');

    // Discord is back: at its next attempt, the whole backlog goes out, oldest first, once.
    discordProxy.state.down = false;
    clock.now = T('10:20:00');
    await n.runOnce();
    expect(connectedIn(discordTexts())).toEqual([...users, 'latecomer']);
    expect(connectedIn(slackTexts())).toEqual([...users, 'latecomer']);
    expect(await waiting()).toEqual({});
    // Combined within Discord's size: a message per section of 20 (they do not fit two to a message), each within 2,000 characters.
    expect(discordFake.messages.size).toBe(2 * 28 + 1);
    expect(Math.max(...discordTexts().map((t) => t.length))).toBeLessThanOrEqual(2_000);
    expect((await store.outbox.health()).map((t) => [t.id, t.state, t.pending])).toEqual([[DISCORD_TARGET, 'ok', 0], [SLACK_TARGET, 'ok', 0]]);
  });

  it('a channel that fails for good does not stop another channel of the same platform', async () => {
    const cfg: NoticeConfig = {
      servers: [noticeServer('fra-1', { slackChannel: 'C0GONE' }), noticeServer('ams-1')],
      notices: { flapWindowSeconds: 0 },
      slack: { botToken: BOT_TOKEN, signingSecret: 's', adminUsers: [], noticeChannel: 'C0NOTICE' },
    };
    await storeReads(store, '10:00:00', { 'fra-1': [], 'ams-1': [] }, cfg);
    await storeReads(store, '10:01:00', { 'fra-1': [noticeSession('alice', 101)], 'ams-1': [noticeSession('bob', 102)] }, cfg);
    await new Notifier({ store, config: cfg, sinks: [slack.sink], log: quiet, pacingMs: { slack: 0 }, now: () => T('10:01:01') }).runOnce();
    expect(connectedIn(slackTexts())).toEqual(['bob']);
    expect((await store.outbox.health()).map((t) => [t.id, t.state, t.error])).toEqual([
      ['slack:C0GONE', 'failing', 'Slack API error: channel_not_found'],
      [SLACK_TARGET, 'ok', null],
    ]);
  });
});

describe('a cycle written again', () => {
  it('after a failed write whose notices already went out: its outbox items come back, and nothing is posted twice', async () => {
    const cfg: NoticeConfig = { ...bothPlatforms(['fra-1']) };
    delete cfg.discord;
    await storeRead(store, 'fra-1', '10:00:00', [], cfg);
    // The sessions write fails: events and outbox items are stored, the baseline does not advance.
    store.cycles.beforeWrite = (stage) => { if (stage === 'sessions') throw new Error('injected: sessions write failed'); };
    await expect(storeRead(store, 'fra-1', '10:01:00', [noticeSession('alice', 101)], cfg)).rejects.toThrow(/injected/);
    store.cycles.beforeWrite = undefined;
    const n = notifier(cfg, { now: () => T('10:01:01') });
    await n.runOnce();
    expect(connectedIn(slackTexts())).toEqual(['alice']);
    // The next read repeats the diff: the same event, its outbox item made again.
    await storeRead(store, 'fra-1', '10:01:30', [noticeSession('alice', 101)], cfg);
    expect(await waiting()).toEqual({ [SLACK_TARGET]: 1 });
    await n.runOnce();
    expect(connectedIn(slackTexts())).toEqual(['alice']);
    expect(await waiting()).toEqual({});
  });
});

describe('a delivery to something that is not a target', () => {
  it('(a platform without a channel, as older versions wrote) is failed for good, with the reason, and the target shows failing', async () => {
    const cfg: NoticeConfig = { ...bothPlatforms(['fra-1']) };
    await storeRead(store, 'fra-1', '10:00:00', [], cfg);
    await storeRead(store, 'fra-1', '10:01:00', [noticeSession('alice', 101)], cfg, { targets: ['slack', SLACK_TARGET] });
    await notifier(cfg, { now: () => T('10:01:01') }).runOnce();
    expect(connectedIn(slackTexts())).toEqual(['alice']);
    expect(await waiting()).toEqual({});
    const [event] = await store.queries.eventsSince(new Date(0));
    expect(event!.deliveries.map((d) => [d.target, d.state, d.lastError])).toEqual([
      ['slack', 'failed', "not a notice target: 'slack'"], [SLACK_TARGET, 'sent', null],
    ]);
    expect((await store.outbox.health()).find((t) => t.id === 'slack')).toMatchObject({ state: 'failing', error: "not a notice target: 'slack'" });
  });
});

describe('claims: two notifiers on one database', () => {
  it('racing over the same backlog, they post each notice once per channel', async () => {
    const cfg = bothPlatforms(Array.from({ length: 12 }, (_, i) => `srv-${i + 1}`));
    cfg.servers[0] = noticeServer('srv-1', { slackChannel: 'C0FRA' });
    const names = cfg.servers.map((s) => s.name);
    await storeReads(store, '10:00:00', Object.fromEntries(names.map((s) => [s, []])), cfg);
    const users: string[] = [];
    for (let cycle = 1; cycle <= 5; cycle++) {
      await storeReads(store, `10:0${cycle}:00`, Object.fromEntries(names.map((s, i) => {
        const list = Array.from({ length: cycle }, (_, k) => noticeSession(`p${i + 1}x${k + 1}`, 1000 * (i + 1) + k));
        return [s, list];
      })), cfg);
      users.push(...names.map((_, i) => `p${i + 1}x${cycle}`));
    }
    // A second process: its own connection to the same database.
    const other = await Store.open(inject('mongoUri'), store.connection.name);
    try {
      const clock = () => T('10:06:00');
      // Real pacing: each drain takes a while, so the two overlap on every target.
      const a = new Notifier({ store, config: cfg, sinks: [slack.sink, discord.sink], id: 'replica-a', log: quiet, now: clock });
      const b = new Notifier({ store: other, config: cfg, sinks: [slack.sink, discord.sink], id: 'replica-b', log: quiet, now: clock });
      await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
      await Promise.all([a.runOnce(), b.runOnce()]);
      const everywhere = [...slackFake.messages.values()].map((m) => m.text);
      expect(connectedIn(everywhere).sort()).toEqual([...users].sort());
      expect(connectedIn(discordTexts()).sort()).toEqual([...users].sort());
      expect(await waiting()).toEqual({});
      // Each target had one sender: the channel's messages are a second or more apart.
      const gaps = (path: RegExp, channel?: string) => {
        const times = slackProxy.requests.concat(discordProxy.requests)
          .filter((r) => r.method === 'POST' && path.test(r.path) && (!channel || r.body.includes(`channel=${channel}`) || r.body.includes(`"channel":"${channel}"`)))
          .map((r) => r.at);
        return times.slice(1).map((t, i) => t - times[i]!);
      };
      for (const g of [...gaps(/chat\.postMessage/, 'C0NOTICE'), ...gaps(/\/channels\/\d+\/messages$/)]) expect(g).toBeGreaterThan(900);
    } finally {
      await other.close();
    }
  });

  it('a sender that dies mid-post: its lease expires, the next posts the same message with the same nonce (Discord keeps one)', async () => {
    const cfg = bothPlatforms(['fra-1']);
    await storeRead(store, 'fra-1', '10:00:00', [], cfg);
    await storeRead(store, 'fra-1', '10:01:00', [noticeSession('alice', 101)], cfg);
    // A's Discord post reaches Discord, and then A hangs (a stopped process, a lost reply).
    let resume!: () => void;
    const hung = new Promise<void>((resolve) => { resume = resolve; });
    const dying = { ...discord.sink, post: async (...args: Parameters<typeof discord.sink.post>) => { const ref = await discord.sink.post(...args); await hung; return ref; } };
    const clock = { now: T('10:01:01') };
    const a = new Notifier({ store, config: cfg, sinks: [slack.sink, dying], id: 'replica-a', log: quiet, now: () => clock.now, pacingMs: { slack: 0, discord: 0 } });
    const aRun = a.runOnce();
    await expect.poll(() => discordFake.messages.size).toBe(1);
    // Meanwhile bob arrives: planned afresh, alice and bob would be one message (another nonce).
    await storeRead(store, 'fra-1', '10:01:30', [noticeSession('alice', 101), noticeSession('bob', 102)], cfg);
    const b = notifier(cfg, { id: 'replica-b', now: () => clock.now });
    await b.runOnce();
    expect(discordFake.messages.size).toBe(1); // A's lease holds: B did not post to Discord
    // Slack was never held up by A's hung Discord post (whichever of A and B sent bob there).
    await expect.poll(() => connectedIn(slackTexts())).toEqual(['alice', 'bob']);

    clock.now = T('10:02:02'); // A's lease (60 s) has run out
    await b.runOnce();
    const posts = discordFake.callsTo('POST', /^\/channels\/\d+\/messages$/).map((c) => c.body);
    expect(posts).toHaveLength(3);
    expect(posts[1]).toEqual(posts[0]); // the same message, the same nonce: Discord returns the first
    expect(posts[0]).toMatchObject({ enforce_nonce: true, nonce: expect.stringMatching(/^[\w-]{25}$/) });
    expect(connectedIn([posts[2].content])).toEqual(['bob']);
    resume();
    await aRun; // A wakes up, finds the target taken over, and posts nothing more
    expect(discordFake.callsTo('POST', /^\/channels\/\d+\/messages$/)).toHaveLength(3);
    expect(await waiting()).toEqual({});
  });

  it('a reconnect folded into a posted notice is edited once, whichever notifier claims it', async () => {
    const cfg = bothPlatforms(['fra-1'], 60);
    await storeRead(store, 'fra-1', '10:00:00', [noticeSession('alice', 101)], cfg);
    await storeRead(store, 'fra-1', '10:01:00', [], cfg);
    const clock = () => T('10:01:30');
    // Real pacing: both wait a second after the disconnect's post, then both want to edit.
    const a = new Notifier({ store, config: cfg, sinks: [slack.sink, discord.sink], id: 'replica-a', log: quiet, now: clock });
    const other = await Store.open(inject('mongoUri'), store.connection.name);
    try {
      const b = new Notifier({ store: other, config: cfg, sinks: [slack.sink, discord.sink], id: 'replica-b', log: quiet, now: clock });
      await a.runOnce();
      await storeRead(store, 'fra-1', '10:01:20', [noticeSession('alice', 111, '2026-11-28T10:01:15.000Z')], cfg);
      await Promise.all([a.runOnce(), b.runOnce()]);
      expect(slackFake.callsTo('chat.update')).toHaveLength(1);
      expect(discordFake.callsTo('PATCH', /^\/channels\//)).toHaveLength(1);
      // A channel's guests read notices: the real address masked (no SHOW_REAL_IPS).
      expect(slackTexts()).toEqual(['fra-1: 🔁 alice reconnected from 203.0.113.x (198.18.0.111) after 20s away']);
    } finally {
      await other.close();
    }
  });
});

describe('pacing: a burst is combined and paced per channel', () => {
  it('100 servers changing in one cycle: every change once, each channel at most one message a second, every message within its platform\'s size', { timeout: 60_000 }, async () => {
    const names = Array.from({ length: 100 }, (_, i) => `vpn-${String(i + 1).padStart(3, '0')}`);
    const cfg = bothPlatforms(names);
    await storeReads(store, '10:00:00', Object.fromEntries(names.map((s) => [s, []])), cfg);
    // IPv6 addresses: the longest lines.
    const arrival = (i: number, cycle: number) => noticeSession(`c${cycle}n${i}`, 1000 * cycle + i, `2026-11-28T10:0${cycle}:00.000Z`, `2001:db8:${cycle}:${i.toString(16)}::abcd`);
    await storeReads(store, '10:01:00', Object.fromEntries(names.map((s, i) => [s, [arrival(i, 1)]])), cfg);
    const n = new Notifier({ store, config: cfg, sinks: [slack.sink, discord.sink], log: quiet }); // real clock, real pacing
    await n.runOnce();

    const expected = names.map((_, i) => `c1n${i}`);
    expect(connectedIn(slackTexts())).toEqual(expected);
    expect(connectedIn(discordTexts())).toEqual(expected);
    const posts = (proxy: typeof slackProxy, path: RegExp) => proxy.requests.filter((r) => r.method === 'POST' && path.test(r.path));
    const slackPosts = posts(slackProxy, /chat\.postMessage/);
    const discordPosts = posts(discordProxy, /\/channels\/\d+\/messages$/);
    // Combined: a few messages for 100 changes, not 100.
    expect(slackPosts.length).toBe(1);
    expect(discordPosts.length).toBeGreaterThan(1);
    expect(discordPosts.length).toBeLessThanOrEqual(10);
    for (const list of [slackPosts, discordPosts]) {
      for (let i = 1; i < list.length; i++) expect(list[i]!.at - list[i - 1]!.at).toBeGreaterThan(950);
    }
    // Within the platforms' sizes: Discord content 2,000; Slack text 40,000 and 50 blocks of 3,000.
    expect(Math.max(...discordTexts().map((t) => t.length))).toBeLessThanOrEqual(2_000);
    for (const m of slackFake.messages.values()) {
      expect(m.text.length).toBeLessThanOrEqual(40_000);
      const blocks = m.blocks as { text: { text: string } }[];
      expect(blocks.length).toBeLessThanOrEqual(50);
      for (const b of blocks) expect(b.text.text.length).toBeLessThanOrEqual(3_000);
    }
  });
});

describe('pacing on Slack', () => {
  it('a burst too big for one Slack message goes out as several, a second apart, each change once', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `vpn-${String(i + 1).padStart(3, '0')}`);
    const cfg: NoticeConfig = { ...bothPlatforms(names) };
    delete cfg.discord;
    await storeReads(store, '10:00:00', Object.fromEntries(names.map((s) => [s, []])), cfg);
    await storeReads(store, '10:01:00', Object.fromEntries(names.map((s, i) => [s, [noticeSession(`n${i}`, 1000 + i, '2026-11-28T10:00:59.000Z', `2001:db8:1:${i.toString(16)}::abcd`)]])), cfg);
    await new Notifier({ store, config: cfg, sinks: [slack.sink], log: quiet }).runOnce();
    expect(connectedIn(slackTexts())).toEqual(names.map((_, i) => `n${i}`));
    const posts = slackProxy.requests.filter((r) => r.method === 'POST' && /chat\.postMessage/.test(r.path));
    expect(posts.length).toBe(2);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThan(950);
  });
});

describe('each target\'s state', () => {
  it('ok, retrying (error, since, next attempt), failing (error, since): stored, and logged once per change of state', async () => {
    const cfg: NoticeConfig = { ...bothPlatforms(['fra-1', 'ams-1']), servers: [noticeServer('fra-1', { slackChannel: 'C0GONE' }), noticeServer('ams-1')] };
    const logLines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done(); } }));
    const clock = { now: T('10:00:01') };
    const n = notifier(cfg, { log, now: () => clock.now });
    const people: Record<string, ReturnType<typeof noticeSession>[]> = { 'fra-1': [], 'ams-1': [] };
    let port = 100;
    const cycle = async (at: string) => {
      people['fra-1']!.push(noticeSession(`f${port}`, port++));
      people['ams-1']!.push(noticeSession(`a${port}`, port++));
      await storeReads(store, at, { 'fra-1': [...people['fra-1']!], 'ams-1': [...people['ams-1']!] }, cfg);
      clock.now = new Date(new Date(`2026-11-28T${at}.000Z`).getTime() + 1000);
      await n.runOnce();
    };
    await storeReads(store, '10:00:00', { 'fra-1': [], 'ams-1': [] }, cfg);
    discordProxy.state.down = true;
    await cycle('10:01:00');
    await cycle('10:01:03'); // Discord still backing off (until 10:01:06): not tried
    await cycle('10:01:30'); // tried again: 503
    const state = async (id: string) => (await store.outbox.health()).find((t) => t.id === id);
    expect(await state(DISCORD_TARGET)).toEqual({ id: DISCORD_TARGET, state: 'retrying', error: 'Discord API HTTP 503', since: T('10:01:01'), nextAttemptAt: T('10:01:41'), pending: 6 });
    expect(await state('slack:C0GONE')).toEqual({ id: 'slack:C0GONE', state: 'failing', error: 'Slack API error: channel_not_found', since: T('10:01:01'), nextAttemptAt: null, pending: 0 });
    expect(await state(SLACK_TARGET)).toMatchObject({ state: 'ok', error: null, pending: 0 });
    discordProxy.state.down = false;
    await cycle('10:02:00');
    expect(await state(DISCORD_TARGET)).toMatchObject({ state: 'ok', error: null, since: T('10:02:01'), nextAttemptAt: null, pending: 0 });

    const about = (target: string) => logLines.filter((l) => l.msg.startsWith(`notices to ${target}`)).map((l) => [l.level, l.msg]);
    expect(about('Discord')).toEqual([
      [40, `notices to Discord ${IDS.channel} are being retried: Discord API HTTP 503`],
      [30, `notices to Discord ${IDS.channel} are delivered again (retrying since 2026-11-28 10:01 UTC)`],
    ]);
    expect(about('Slack C0GONE')).toEqual([[50, 'notices to Slack C0GONE fail: Slack API error: channel_not_found']]);
    expect(about('Slack C0NOTICE')).toEqual([]);

    // /healthz lists each target by id; the failing one makes `ok` false, and the answer stays a 200.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-outbox-'));
    const config = { ...loadConfig({ VPNWATCH_ADMIN_TOKEN: 'admin-token-0123456789' }, dir), servers: cfg.servers, slack: cfg.slack, discord: cfg.discord };
    const web = await listen(createWebApp({ store, config, metrics: createMetrics(), live: new LiveFeed(), now: () => T('10:03:00') }));
    try {
      const health = await fetch(`${web.url}/healthz`);
      expect(health.status).toBe(200);
      const body = await health.json() as { ok: boolean; notices: unknown[] };
      expect(body.ok).toBe(false);
      expect(body.notices).toEqual([
        { id: DISCORD_TARGET, platform: 'discord', channel: IDS.channel, ok: true, state: 'ok', error: null, since: '2026-11-28T10:02:01.000Z', nextAttemptAt: null, pending: 0 },
        { id: 'slack:C0GONE', platform: 'slack', channel: 'C0GONE', ok: false, state: 'failing', error: 'Slack API error: channel_not_found', since: '2026-11-28T10:01:01.000Z', nextAttemptAt: null, pending: 0 },
        { id: SLACK_TARGET, platform: 'slack', channel: 'C0NOTICE', ok: true, state: 'ok', error: null, since: null, nextAttemptAt: null, pending: 0 },
      ]);
      // The page: a line for the channels that are not delivering; the error text for the admin only.
      type View = { noticesNote: string };
      const guest = await (await fetch(`${web.url}/view.json`)).json() as View;
      const admin = await (await fetch(`${web.url}/view.json`, { headers: { authorization: 'Bearer admin-token-0123456789' } })).json() as View;
      expect(guest.noticesNote).toBe('Notices to Slack C0GONE: failing since 2026-11-28 10:01 UTC');
      expect(admin.noticesNote).toBe('Notices to Slack C0GONE: failing since 2026-11-28 10:01 UTC: Slack API error: channel_not_found');
      // /vpn servers: the target that is not delivering, with its error.
      const reply = await dispatch('servers', { platform: 'cli', userId: 'root', userName: 'root' }, { store, kicker: {} as never, config, now: () => T('10:03:00') });
      expect(reply.lines).toEqual(['Notices to Slack C0GONE: failing since 2026-11-28 10:01 UTC: Slack API error: channel_not_found']);
      expect(reply.tone).toBe('warn');
    } finally {
      await web.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
