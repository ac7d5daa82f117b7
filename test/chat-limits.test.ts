// Every answer and notice fits Slack's and Discord's limits at fleet scale: 600 servers, 5,000
// sessions with IPv6 addresses and long hostile common names, a user with 1,000 sessions
// (duplicate-cn), 100 read failures, and 100 changes on one server in one cycle. The real Bolt and
// discord.js adapters talk to fakes that refuse what the platforms refuse (test/fakes/), so an
// answer that would not fit fails here. What is cut is counted, and the answer says where the
// rest is. An answer refused anyway is reported to the asker, privately.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../src/command.ts';
import { createDiscordBot, type DiscordAdapter } from '../src/chat/discord.ts';
import { renderDiscordReply } from '../src/chat/render-discord.ts';
import { renderSlackReply } from '../src/chat/render-slack.ts';
import { escapeSlack } from '../src/chat/escape.ts';
import { createSlackApp, type SlackAdapter } from '../src/chat/slack.ts';
import type { DiscordConfig, SlackConfig } from '../src/config.ts';
import { dispatch, type DispatchDeps } from '../src/dispatch.ts';
import { userName, type KickOutcome, type KickRequest, type Actor } from '../src/domain.ts';
import { Notifier } from '../src/notify/notifier.ts';
import type { Store } from '../src/store/store.ts';
import { IDS, startFakeDiscord, vpnInteraction, type FakeDiscord } from './fakes/fake-discord.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { BUSY, DUP, FAILING, hostileName, LONG_USERNAME, seedLargeFleet, SERVER_COUNT, type LargeFleet } from './support/large-fleet.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { slackSignedHeaders, slashCommandBody } from './support/slack-request.ts';

const SIGNING_SECRET = 'limits-signing-secret';
const SLACK_TOKEN = 'xoxb-limits';
const DISCORD_TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.limits.token';
const PUBLIC_URL = 'https://vpn.example.com';
const quiet = pino({ level: 'silent' });

let store: Store;
let fleet: LargeFleet;
let slackFake: FakeSlack;
let discordFake: FakeDiscord;
let slack: SlackAdapter;
let discord: DiscordAdapter;
let web: Server;
let eventsUrl: string;
let deps: DispatchDeps;
let slackConfig: SlackConfig;
let discordConfig: DiscordConfig;

/** A Kicker that answers from the store as the real one would: a choice, or every session kicked. */
const kicker = {
  async kick(request: KickRequest): Promise<KickOutcome> {
    const sessions = (await store.queries.online(request.server)).filter((s) => userName(s) === request.target).map(({ server, ...session }) => ({ server, session }));
    if (sessions.length === 0) return { result: 'not-found', sessions: [], verified: false, message: `${request.target} is not connected` };
    if (sessions.length > 1 && request.which === undefined) {
      return { result: 'choose', verified: false, message: `${request.target} has ${sessions.length} sessions`, sessions: sessions.map((s) => ({ ...s, killed: false, gone: false })) };
    }
    return { result: 'kicked', verified: true, message: `${sessions.length} sessions ended`, sessions: sessions.map((s) => ({ ...s, killed: true, gone: true })) };
  },
  async refuse(): Promise<void> {},
};

beforeAll(async () => {
  store = await openTestStore();
  fleet = await seedLargeFleet(store);
  slackFake = await startFakeSlack({ botToken: SLACK_TOKEN, channels: ['C0NOTICE'] });
  discordFake = await startFakeDiscord({ token: DISCORD_TOKEN });
  slackConfig = { botToken: SLACK_TOKEN, signingSecret: SIGNING_SECRET, adminUsers: ['U0ADMIN'], apiUrl: slackFake.apiUrl, noticeChannel: 'C0NOTICE' };
  discordConfig = { token: DISCORD_TOKEN, appId: IDS.app, guildId: IDS.guild, adminUsers: [IDS.admin], adminRoles: [IDS.adminRole], apiUrl: discordFake.apiBase, noticeChannel: IDS.channel };
  // One clock for the adapters and the Replies the tests compare with.
  const now = new Date();
  deps = {
    store, kicker, log: quiet, now: () => now,
    config: { servers: fleet.servers, slack: slackConfig, discord: discordConfig, web: { showRealIps: false, publicUrl: PUBLIC_URL } },
  };
  slack = createSlackApp({ config: slackConfig, dispatch: deps, log: quiet });
  await slack.start();
  const app = express();
  app.use(slack.router!);
  web = app.listen(0, '127.0.0.1');
  await new Promise((r) => web.once('listening', r));
  eventsUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/slack/events`;
  discord = createDiscordBot({ config: discordConfig, dispatch: deps, log: quiet });
  await discord.start();
}, 180_000);

afterAll(async () => {
  await discord?.stop();
  await slack?.stop();
  web?.closeAllConnections();
  await new Promise((r) => web?.close(r));
  await slackFake?.close();
  await discordFake?.close();
  if (store) await dropTestStore(store);
});

// ---- asking, as each platform delivers a command -----------------------------------------------

let asked = 0;
/** Sends `/vpn text` as a signed slash command; resolves with every post to its response_url once `count` arrived. */
async function askSlack(text: string, userId = 'U0ADMIN', count = 1): Promise<any[]> {
  const path = `/response/limits-${++asked}`;
  const body = slashCommandBody({ text, userId, responseUrl: `${slackFake.base}${path}`, triggerId: `${asked}.1` });
  const res = await fetch(eventsUrl, { method: 'POST', headers: slackSignedHeaders(body, SIGNING_SECRET), body });
  expect(res.status).toBe(200);
  const posts = () => slackFake.calls.filter((c) => c.path === path).map((c) => c.body);
  await expect.poll(() => posts().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(count);
  return posts();
}

/** Sends `/vpn sub` as an interaction; resolves with the interaction's calls once `count` arrived. */
async function askDiscord(sub: string, options: { name: string; type: 3 | 4; value: string | number }[] = [], from: { userId: string; roles?: string[] } = { userId: IDS.admin }, count = 2) {
  const interaction = vpnInteraction(sub, options, from);
  discordFake.dispatch('INTERACTION_CREATE', interaction);
  const mine = () => discordFake.rest.filter((c) => c.path.includes(`/${interaction.id}/`) || c.path.includes(`/${interaction.token}`));
  await expect.poll(() => mine().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(count);
  return { interaction, calls: mine() };
}

const slackTexts = (payload: any): string[] => payload.blocks.flatMap((b: any) => (b.text ? [b.text.text] : b.fields ? b.fields.map((f: any) => f.text) : b.elements.map((e: any) => e.text)));

/** What a cut note says: "…and 30 more (showing 25 of 55)". */
function cutNote(text: string): { hidden: number; shown: number; total: number } | null {
  const m = /…and ([\d,]+) more \(showing ([\d,]+) of ([\d,]+)\)/.exec(text);
  const n = (s: string) => Number(s.replace(/,/g, ''));
  return m ? { hidden: n(m[1]!), shown: n(m[2]!), total: n(m[3]!) } : null;
}

/** The rows a Slack answer shows: the lines of the sections after the column header, up to the next context. */
function slackRows(payload: any, columns: string[]): string[] {
  const start = payload.blocks.findIndex((b: any) => b.type === 'context' && b.elements[0].text === escapeSlack(columns.join(' · ')));
  const rows: string[] = [];
  for (const b of payload.blocks.slice(start + 1)) {
    if (b.type !== 'section') break;
    rows.push(...b.text.text.split('\n'));
  }
  return rows;
}

describe('the fakes refuse what Slack and Discord refuse', () => {
  const section = (text: string) => ({ type: 'section', text: { type: 'plain_text', text } });
  const postSlack = async (payload: object) => (await fetch(`${slackFake.apiUrl}chat.postMessage`, {
    method: 'POST', headers: { authorization: `Bearer ${SLACK_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'C0NOTICE', ...payload }),
  })).json();

  it('Slack: 50 blocks, 3,000 per section, 150 per header, 10 fields of 2,000, 10 context elements, 40,000 of text, ~13,000 in all', async () => {
    expect(await postSlack({ text: 'x', blocks: Array.from({ length: 50 }, () => section('x')) })).toMatchObject({ ok: true });
    expect(await postSlack({ text: 'x', blocks: Array.from({ length: 51 }, () => section('x')) })).toMatchObject({ ok: false, error: 'invalid_blocks', errors: ['no more than 50 items allowed [json-pointer:/blocks]'] });
    expect(await postSlack({ text: 'x', blocks: [section('x'.repeat(3000))] })).toMatchObject({ ok: true });
    expect(await postSlack({ text: 'x', blocks: [section('x'.repeat(3001))] })).toMatchObject({ ok: false, error: 'invalid_blocks', errors: ['must be less than 3001 characters [json-pointer:/blocks/0/text/text]'] });
    expect(await postSlack({ text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] })).toMatchObject({ error: 'invalid_blocks', errors: ['must be less than 151 characters [json-pointer:/blocks/0/text/text]'] });
    const field = (n: number) => ({ type: 'plain_text', text: 'f'.repeat(n) });
    expect(await postSlack({ text: 'x', blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => field(1)) }] })).toMatchObject({ error: 'invalid_blocks' });
    expect(await postSlack({ text: 'x', blocks: [{ type: 'section', fields: [field(2001)] }] })).toMatchObject({ error: 'invalid_blocks', errors: ['must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]'] });
    expect(await postSlack({ text: 'x', blocks: [{ type: 'context', elements: Array.from({ length: 11 }, () => field(1)) }] })).toMatchObject({ error: 'invalid_blocks' });
    expect(await postSlack({ text: 'x', blocks: [section('')] })).toMatchObject({ error: 'invalid_blocks', errors: ['must be more than 0 characters [json-pointer:/blocks/0/text/text]'] });
    expect(await postSlack({ text: 'x'.repeat(40_001) })).toMatchObject({ ok: false, error: 'msg_too_long' });
    expect(await postSlack({ text: 'x', blocks: Array.from({ length: 5 }, () => section('x'.repeat(2700))) })).toMatchObject({ ok: false, error: 'msg_blocks_too_long' });
  });

  it('Slack: a response_url refuses the same with HTTP 400, and takes 5 posts', async () => {
    const url = `${slackFake.base}/response/fake-check`;
    const post = (payload: object) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const refused = await post({ text: 'x', blocks: [section('x'.repeat(3001))] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ ok: false, error: 'invalid_blocks' });
    for (let i = 0; i < 4; i++) expect((await post({ text: 'ok' })).status).toBe(200);
    expect((await post({ text: 'sixth' })).status).toBe(404);
  });

  it('Discord: 400 with code 50035 and the errors object for content, embeds and their fields, and 6,000 in all', async () => {
    const post = async (body: object) => {
      const res = await fetch(`${discordFake.apiBase}/v10/channels/${IDS.channel}/messages`, { method: 'POST', headers: { authorization: `Bot ${DISCORD_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    const max = (n: number) => ({ _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${n} or fewer in length.` }] });
    expect((await post({ content: 'x'.repeat(2000) })).status).toBe(200);
    expect(await post({ content: 'x'.repeat(2001) })).toEqual({ status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: { content: max(2000) } } });
    expect((await post({ embeds: [{ description: 'd'.repeat(4097) }] })).body.errors).toEqual({ embeds: { 0: { description: max(4096) } } });
    expect((await post({ embeds: [{ title: 't'.repeat(257) }] })).body.errors).toEqual({ embeds: { 0: { title: max(256) } } });
    expect((await post({ embeds: [{ fields: Array.from({ length: 26 }, () => ({ name: 'n', value: 'v' })) }] })).body.errors).toEqual({ embeds: { 0: { fields: max(25) } } });
    expect((await post({ embeds: [{ fields: [{ name: 'n'.repeat(257), value: 'v'.repeat(1025) }] }] })).body.errors).toEqual({ embeds: { 0: { fields: { 0: { name: max(256), value: max(1024) } } } } });
    expect((await post({ embeds: [{ fields: [{ name: 'n', value: '' }] }] })).body.errors).toEqual({ embeds: { 0: { fields: { 0: { value: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }] } } } } } });
    expect((await post({ embeds: [{ description: 'd', footer: { text: 'f'.repeat(2049) } }] })).body.errors).toEqual({ embeds: { 0: { footer: { text: max(2048) } } } });
    expect((await post({ embeds: Array.from({ length: 11 }, () => ({ description: 'd' })) })).body.errors).toEqual({ embeds: max(10) });
    expect((await post({ embeds: [{ description: 'd'.repeat(4000) }, { description: 'd'.repeat(2001) }] })).body.errors)
      .toEqual({ embeds: { _errors: [{ code: 'MAX_EMBED_SIZE_EXCEEDED', message: 'Embed size exceeds maximum size of 6000' }] } });
    expect(await post({})).toEqual({ status: 400, body: { message: 'Cannot send an empty message', code: 50006 } });
  });
});

describe('Replies beyond every limit', () => {
  const long = (n: number, i = 0) => `${i}${'&<>*_`@'.repeat(Math.ceil(n / 7))}`.slice(0, n);
  const fullAnswer = { url: `${PUBLIC_URL}/?server=srv-001`, command: 'vpnwatch online srv-001 --json' };
  const replies: Record<string, Reply> = {
    'every part longer than a platform takes': {
      title: long(10_000),
      lines: Array.from({ length: 100 }, (_, i) => long(5000, i)),
      fields: Array.from({ length: 30 }, (_, i) => ({ name: long(300, i), value: long(3000, i) })),
      table: { columns: Array.from({ length: 8 }, (_, i) => long(400, i)), rows: Array.from({ length: 1000 }, (_, i) => Array.from({ length: 8 }, (_, j) => long(500, i * 8 + j))) },
      truncated: { shown: 1000, total: 1_000_000 }, footer: long(5000), fullAnswer, tone: 'warn', private: false,
    },
    'a full embed: fields and footer at their share, many short lines': {
      title: 'full', lines: Array.from({ length: 500 }, (_, i) => long(100, i)),
      fields: [{ name: long(256), value: long(768) }, { name: long(256, 1), value: long(768, 1) }],
      footer: 'f'.repeat(2000), fullAnswer, tone: 'info', private: false,
    },
    'more parts than a platform takes': {
      title: 'many', lines: Array.from({ length: 3000 }, (_, i) => String(i)),
      fields: Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, value: String(i) })),
      table: { columns: ['c'], rows: Array.from({ length: 5000 }, (_, i) => [String(i)]) }, fullAnswer, tone: 'info', private: false,
    },
  };

  it.each(Object.keys(replies))('Slack takes one with %s, cut', async (name) => {
    const res = await fetch(`${slackFake.apiUrl}chat.postMessage`, {
      method: 'POST', headers: { authorization: `Bearer ${SLACK_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'C0NOTICE', ...renderSlackReply(replies[name]!) }),
    });
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it.each(Object.keys(replies))('Discord takes one with %s, cut', async (name) => {
    const res = await fetch(`${discordFake.apiBase}/v10/channels/${IDS.channel}/messages`, {
      method: 'POST', headers: { authorization: `Bot ${DISCORD_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ embeds: renderDiscordReply(replies[name]!).embeds }),
    });
    expect([res.status, await res.json().then((b) => b.errors ?? null)]).toEqual([200, null]);
  });
});

describe('every answer fits, at 600 servers and 5,000 sessions', () => {
  /** Each command as a reader asks it, and who asks. */
  const cases: { text: string; slackUser: string; discordFrom: { userId: string; roles?: string[] } }[] = [
    { text: 'online', slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: `online ${BUSY}`, slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: `user ${DUP}`, slackUser: 'U0ADMIN', discordFrom: { userId: IDS.admin } },
    { text: `user ${hostileName(1234)}`, slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: `user ${LONG_USERNAME}`, slackUser: 'U0ADMIN', discordFrom: { userId: IDS.admin } },
    { text: `kick ${DUP}`, slackUser: 'U0ADMIN', discordFrom: { userId: IDS.member, roles: [IDS.adminRole] } },
    { text: 'servers', slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: 'recent 50', slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: 'stats', slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
    { text: 'help', slackUser: 'U0MEMBER', discordFrom: { userId: IDS.member } },
  ];

  /** The Reply the adapters render, as dispatch gives it. */
  const replyFor = (text: string, actor: Actor) => dispatch(text, actor, deps);

  /** The Discord options for typed text: the first word is the subcommand, then the options in order. */
  async function discordOptions(text: string) {
    const [sub, ...words] = text.split(' ');
    const names: Record<string, string[]> = { online: ['server'], user: ['name'], kick: ['name', 'server', 'which'], recent: ['n'] };
    return { sub: sub!, options: words.map((value, i) => (sub === 'recent' ? { name: 'n', type: 4 as const, value: Number(value) } : { name: names[sub!]![i]!, type: 3 as const, value })) };
  }

  it.each(cases)('Slack: /vpn $text', async ({ text, slackUser }) => {
    const before = slackFake.rejections.length;
    const [payload] = await askSlack(text, slackUser);
    expect(slackFake.rejections.slice(before)).toEqual([]);
    const reply = await replyFor(text, { platform: 'slack', userId: slackUser, userName: slackUser === 'U0ADMIN' ? 'ada' : 'mel' });
    expect(payload.blocks[0].text.text).toContain(escapeSlack(reply.title).slice(0, 100));
    if (!reply.table) return;
    // The rows shown are the Reply's first rows, in order, and the note counts the rest.
    const rows = slackRows(payload, reply.table.columns);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows).toEqual(reply.table.rows.slice(0, rows.length).map((r) => escapeSlack(r.join(' · ')).slice(0, 3000)));
    const total = reply.truncated?.total ?? reply.table.rows.length;
    const note = slackTexts(payload).map(cutNote).find(Boolean) ?? null;
    if (rows.length < total) {
      expect(note).toEqual({ hidden: total - rows.length, shown: rows.length, total });
      expect(payload.blocks.at(-1).elements.at(-1)).toEqual({ type: 'mrkdwn', text: `<${escapeSlack(reply.fullAnswer!.url!)}|See all on the status page>` });
    } else {
      expect(note).toBeNull();
    }
  });

  it.each(cases)('Discord: /vpn $text', async ({ text, discordFrom }) => {
    const before = discordFake.rejections.length;
    const { sub, options } = await discordOptions(text);
    const { calls } = await askDiscord(sub, options, discordFrom);
    expect(discordFake.rejections.slice(before)).toEqual([]);
    const answer = calls.find((c) => c.method === 'PATCH' || (c.method === 'POST' && c.path.startsWith('/webhooks/')))!;
    const [embed] = answer.body.embeds;
    const lines: string[] = embed.description.split('\n');
    const reply = await replyFor(text, { platform: 'discord', userId: discordFrom.userId, userName: 'x', ...(discordFrom.roles ? { roles: discordFrom.roles } : {}) });
    if (!reply.table) return;
    const rows = lines.filter((l) => l.startsWith('• '));
    expect(rows.length).toBeGreaterThan(0);
    const total = reply.truncated?.total ?? reply.table.rows.length;
    const note = lines.map(cutNote).find(Boolean) ?? null;
    if (rows.length < total) {
      expect(note).toEqual({ hidden: total - rows.length, shown: rows.length, total });
      expect(lines.at(-1)).toBe(`See all: <${reply.fullAnswer!.url}>`);
    } else {
      expect(note).toBeNull();
    }
  });

  it('counts what it cuts against the fleet: /vpn online says how many are online in all', async () => {
    const online = (await store.queries.online()).length;
    expect(online).toBeGreaterThan(4900);
    const [payload] = await askSlack('online', 'U0MEMBER');
    expect(slackTexts(payload).map(cutNote).find(Boolean)!.total).toBe(online);
    expect(payload.blocks[0].text.text).toBe(`${online} online (${new Set((await store.queries.online()).map(userName)).size} users)`);
    // 600 servers: one summary line naming the ones whose counts are not current.
    expect(slackTexts(payload)[1]).toMatch(new RegExp(`^${SERVER_COUNT} servers; ${FAILING} not current: srv-500 \\(last read error: showing its last good read\\)`));
  });

  it('without PUBLIC_URL, points to the terminal command instead', async () => {
    const { web: _web, ...withoutUrl } = deps.config;
    const previous = deps.config;
    deps.config = { ...withoutUrl, web: { showRealIps: false } };
    try {
      const [payload] = await askSlack(`user ${DUP}`);
      expect(payload.blocks.at(-1).elements.at(-1)).toEqual({ type: 'plain_text', text: `See all: vpnwatch user ${DUP} --json (on the vpnwatch host)`, emoji: true });
      const { calls } = await askDiscord('online', [], { userId: IDS.member });
      expect(calls.at(-1)!.body.embeds[0].description.split('\n').at(-1)).toBe('See all: vpnwatch online --json (on the vpnwatch host)');
    } finally {
      deps.config = previous;
    }
  });

  it('an admin kicking all 978 sessions of a shared certificate gets the result table, cut to fit, on both', async () => {
    const before = [slackFake.rejections.length, discordFake.rejections.length];
    const [payload] = await askSlack(`kick ${DUP} all`);
    expect(payload.blocks[0].text.text).toBe(`✅ Kicked ${DUP}`);
    const { calls } = await askDiscord('kick', [{ name: 'name', type: 3, value: DUP }, { name: 'which', type: 3, value: 'all' }]);
    expect(calls.at(-1)!.body.embeds[0].description).toMatch(/…and [\d,]+ more \(showing \d+ of 978\)/);
    expect([slackFake.rejections.length, discordFake.rejections.length]).toEqual(before);
  });
});

describe('notices: 100 changes in one cycle', () => {
  it('each platform gets one message per server that fits, saying how many changes it leaves out and where to see them', async () => {
    const before = [slackFake.rejections.length, discordFake.rejections.length];
    const notifier = new Notifier({
      store, sinks: [slack.sink, discord.sink], log: quiet, maxLines: 100,
      config: { servers: fleet.servers, slack: slackConfig, discord: discordConfig, notices: { flapWindowSeconds: 0 } },
    });
    await notifier.runOnce();
    expect([slackFake.rejections.length, discordFake.rejections.length]).toEqual(before);
    expect(await store.outbox.targetsWithWork()).toEqual([]);

    const busySlack = [...slackFake.messages.values()].find((m) => m.text.startsWith(`${BUSY}:`))!;
    const busyDiscord = [...discordFake.messages.values()].find((m) => m.content.startsWith(`${BUSY}:`))!;
    for (const [text, link] of [[busySlack.text, `${PUBLIC_URL}/?server=${BUSY}`], [busyDiscord.content as string, `<${PUBLIC_URL}/?server=${BUSY}>`]] as const) {
      const shown = text.split('\n').filter((l) => /^(🟢|🔴)/.test(l)).length;
      expect(shown).toBeGreaterThan(0);
      // Every change is either shown or counted.
      expect(text.split('\n').at(-1)).toBe(`…and ${100 - shown} more changes: ${link}`);
      // A channel's guests read notices: addresses masked (no SHOW_REAL_IPS).
      expect(text).toContain('from 2001:db8:…');
      expect(text).not.toMatch(/2001:db8:[0-9a-f]+:[0-9a-f]+:1234/);
    }
  });
});

describe('notices of many short changes fill a message and no more', () => {
  const lines = Array.from({ length: 600 }, (_, i) => {
    const text = `🔴 u${i}${'*'.repeat(i % 17)} disconnected after 5m`;
    return { kind: 'disconnected' as const, text, guestText: text };
  });
  const notice = { server: 'srv-002', lines, omitted: 0 };

  it('Slack', async () => {
    const ref = JSON.parse((await slack.postNotice('C0NOTICE', notice))!);
    const text = slackFake.messages.get(ref.ts)!.text;
    const shown = text.split('\n').length - 2;
    expect(text.split('\n').at(-1)).toBe(`…and ${600 - shown} more changes: ${PUBLIC_URL}/?server=srv-002`);
  });

  it('Discord', async () => {
    const content: string = discordFake.messages.get(await discord.postNotice(IDS.channel, notice))!.content;
    const shown = content.split('\n').length - 2;
    expect(content.split('\n').at(-1)).toBe(`…and ${600 - shown} more changes: <${PUBLIC_URL}/?server=srv-002>`);
    // Full: one more line would not have fitted.
    expect(content.length).toBeGreaterThan(2000 - 60);
  });
});

describe('an answer the platform refuses anyway', () => {
  it('Slack: the asker is told privately, with the reason for an admin and a reference for anyone', async () => {
    for (const [userId, reason] of [['U0ADMIN', ' (HTTP 400 invalid_blocks no more than 50 items allowed [json-pointer:/blocks])'], ['U0MEMBER', '']] as const) {
      slackFake.answerNext('response', { status: 400, body: { ok: false, error: 'invalid_blocks', errors: ['no more than 50 items allowed [json-pointer:/blocks]'] } });
      const [refused, told] = await askSlack('stats', userId, 2);
      expect(refused.response_type).toBe('in_channel');
      expect(told).toMatchObject({ response_type: 'ephemeral', replace_original: false, mrkdwn: false });
      expect(told.text).toMatch(new RegExp(`^❌ Slack did not show the answer${reason.replace(/[()[\]]/g, '\\$&')}\\. It is logged under ref [0-9a-f]{4}\\.$`));
    }
  });

  it('Discord: the placeholder goes and the asker is told in an ephemeral follow-up', async () => {
    const interaction = vpnInteraction('stats', [], { userId: IDS.admin });
    discordFake.answerNext(`PATCH /webhooks/${IDS.app}/${interaction.token}/messages/@original`, {
      status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: { embeds: { 0: { description: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 4096 or fewer in length.' }] } } } } },
    });
    discordFake.dispatch('INTERACTION_CREATE', interaction);
    const mine = () => discordFake.rest.filter((c) => c.path.includes(`/${interaction.id}/`) || c.path.includes(`/${interaction.token}`));
    await expect.poll(() => mine().length, { timeout: 10_000 }).toBe(4);
    const [, , removed, told] = mine();
    expect(`${removed!.method} ${removed!.path}`).toBe(`DELETE /webhooks/${IDS.app}/${interaction.token}/messages/@original`);
    expect(told).toMatchObject({ method: 'POST', path: `/webhooks/${IDS.app}/${interaction.token}`, body: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(told!.body.content).toMatch(/^❌ Discord did not show the answer \(Invalid Form Body\nembeds\[0\]\.description\[BASE\\_TYPE\\_MAX\\_LENGTH\]: Must be 4096 or fewer in length\.\)\. It is logged under ref [0-9a-f]{4}\.$/);
  });
});
