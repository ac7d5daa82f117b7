// The Slack adapter: real Bolt, over HTTP (signed slash-command POSTs to its router mounted on an
// express app, as the web server mounts it) and over Socket Mode, against a local fake of Slack's
// Web API, response_url hooks and Socket Mode websocket (test/fakes/fake-slack.ts). The store is a
// real MongoDB-wire server. The Kicker is a recording stand-in: the real one talks to OpenVPN's
// management interface and is tested against the OpenVPN lab.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackApp, type SlackAdapter } from '../src/chat/slack.ts';
import type { SlackConfig } from '../src/config.ts';
import type { DispatchDeps } from '../src/dispatch.ts';
import type { Store } from '../src/store/store.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { chatServer, recordingKicker, seedChatStore } from './support/chat.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { DeliveryError } from '../src/notify/targets.ts';
import { slackSignedHeaders, slashCommandBody } from './support/slack-request.ts';

const SIGNING_SECRET = 'test-signing-secret';
const BOT_TOKEN = 'xoxb-test-token';
const APP_TOKEN = 'xapp-test-token';
/** A common name that tries every trick: mentions, markdown, code, an HTML tag. */
const EVIL = '<!channel> <@U0ALL> @everyone `tick` *bold* <script>';
/** Refused signatures and commands are logged as warnings; the tests assert on what Slack receives instead. */
const quiet = pino({ level: 'silent' });

const { kicker, requests: kickRequests } = recordingKicker();

let store: Store;
let fake: FakeSlack;
let slack: SlackAdapter;
let web: Server;
let eventsUrl: string;
let config: SlackConfig;
let deps: DispatchDeps;

beforeAll(async () => {
  store = await openTestStore();
  await seedChatStore(store, EVIL, 'slack');

  fake = await startFakeSlack({ botToken: BOT_TOKEN, appToken: APP_TOKEN, channels: ['C0NOTICE'] });
  config = { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, adminUsers: ['U0ADMIN'], apiUrl: fake.apiUrl, noticeChannel: 'C0NOTICE' };
  deps = { store, kicker, config: { servers: [chatServer('fra-1')], slack: config }, now: () => new Date('2026-11-28T10:30:00.000Z'), log: quiet };
  slack = createSlackApp({ config, dispatch: deps, log: quiet });
  await slack.start();
  // Mounted the way the web server mounts it: Bolt's router on an express app, before any body parser.
  const app = express();
  app.use(slack.router!);
  web = app.listen(0, '127.0.0.1');
  await new Promise((r) => web.once('listening', r));
  eventsUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/slack/events`;
});

afterAll(async () => {
  await slack?.stop();
  web?.closeAllConnections();
  await new Promise((r) => web?.close(r));
  await fake?.close();
  await dropTestStore(store);
});

let responses = 0;
/** A slash-command form body as Slack sends it; typed text arrives with &, <, > as entities. */
function slashCommand(text: string, userId = 'U0ADMIN') {
  const id = ++responses;
  const body = slashCommandBody({ text, userId, responseUrl: `${fake.base}/response/${id}`, triggerId: `${id}.1.abc` });
  return { body, responsePath: `/response/${id}` };
}

const signed = (body: string, timestamp = Math.floor(Date.now() / 1000), secret = SIGNING_SECRET) => slackSignedHeaders(body, secret, timestamp);

async function responseTo(path: string) {
  await expect.poll(() => fake.calls.some((c) => c.path === path), { timeout: 10_000 }).toBe(true);
  return fake.calls.find((c) => c.path === path)!.body;
}

/** Every text Slack would show or parse, from a payload's blocks. */
const texts = (payload: any): string[] => JSON.stringify(payload.blocks).match(/"text":"(?:[^"\\]|\\.)*"/g)!.map((t) => JSON.parse(t.slice(7)));

describe('/vpn over HTTP (signed requests)', () => {
  it('acks at once, then answers through response_url with Block Kit, in the channel for online', async () => {
    const { body, responsePath } = slashCommand('online');
    const res = await fetch(eventsUrl, { method: 'POST', headers: signed(body), body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    const payload = await responseTo(responsePath);
    expect(payload).toMatchObject({ response_type: 'in_channel', text: '2 online', link_names: false, parse: 'none', mrkdwn: false });
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '2 online', emoji: true } });
    expect(texts(payload)).toContain('User · Server · Real IP · Virtual IP · Connected since · Received / Sent');
    expect(texts(payload)).toContain([
      '&lt;!channel&gt; &lt;@U0ALL&gt; @everyone `tick` *bold* &lt;script&gt; · fra-1 · 203.0.113.x · 198.18.0.102 · 2026-11-28 09:00 UTC (1h 30m) · 1 kB / 2 kB',
      'alice · fra-1 · 203.0.113.x · 198.18.0.101 · 2026-11-28 09:00 UTC (1h 30m) · 1 kB / 2 kB',
    ].join('\n'));
  });

  it('renders a common name full of mentions and markup as text: escaped, in plain_text, never mrkdwn', async () => {
    const { body, responsePath } = slashCommand(`user "${EVIL}"`);
    await fetch(eventsUrl, { method: 'POST', headers: signed(body), body });
    const payload = await responseTo(responsePath);
    expect(payload.response_type).toBe('ephemeral');
    const raw = JSON.stringify(payload);
    for (const live of ['<!channel>', '<@U0ALL>', '<script>']) expect(raw).not.toContain(live);
    expect(raw).not.toContain('"type":"mrkdwn"');
    expect(payload.text).toBe('&lt;!channel&gt; &lt;@U0ALL&gt; @everyone `tick` *bold* &lt;script&gt;: online on fra-1');
  });

  it('rejects a bad signature and a stale timestamp with 401, and runs nothing', async () => {
    const before = fake.callsTo('response').length;
    const { body } = slashCommand('online');
    const forged = await fetch(eventsUrl, { method: 'POST', headers: signed(body, undefined, 'not-the-secret'), body });
    expect(forged.status).toBe(401);
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    const stale = await fetch(eventsUrl, { method: 'POST', headers: signed(body, sixMinutesAgo), body });
    expect(stale.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.callsTo('response').length).toBe(before);
  });

  it('refuses kick to a non-admin privately, and lets an admin kick', async () => {
    const refused = slashCommand('kick alice', 'U0MEMBER');
    await fetch(eventsUrl, { method: 'POST', headers: signed(refused.body), body: refused.body });
    const refusal = await responseTo(refused.responsePath);
    expect(refusal.response_type).toBe('ephemeral');
    expect(texts(refusal)).toEqual(['❌ Only VPN admins can use kick', 'Ask an admin to do it, or to add your user ID (U0MEMBER) to SLACK_ADMIN_USERS.']);
    expect(kickRequests).toEqual([]);

    const allowed = slashCommand('kick alice all');
    await fetch(eventsUrl, { method: 'POST', headers: signed(allowed.body), body: allowed.body });
    const done = await responseTo(allowed.responsePath);
    expect(done.response_type).toBe('ephemeral');
    expect(texts(done)[0]).toBe('✅ Kicked alice');
    expect(kickRequests).toEqual([{ target: 'alice', which: 'all', where: 'C0OPS', by: { platform: 'slack', userId: 'U0ADMIN', userName: 'ada' } }]);
  });
});

describe('notices', () => {
  const ESCAPED_EVIL = '&lt;!channel&gt; &lt;@U0ALL&gt; @everyone `tick` *bold* &lt;script&gt;';

  it('posts with chat.postMessage, escaped, in plain_text, with link_names off and no parsing; answers with a ref to the message', async () => {
    const ref = await slack.postNotice('C0NOTICE', { server: 'fra-1', lines: [{ kind: 'connected', text: `🟢 ${EVIL} connected from 203.0.113.102 (198.18.0.102)`, guestText: `🟢 ${EVIL} connected from 203.0.113.x (198.18.0.102)` }], omitted: 0 });
    const [call] = fake.callsTo('chat.postMessage');
    expect(call!.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    const text = `fra-1: 🟢 ${ESCAPED_EVIL} connected from 203.0.113.x (198.18.0.102)`;
    expect(call!.body).toMatchObject({ channel: 'C0NOTICE', link_names: 'false', parse: 'none', mrkdwn: 'false', text });
    expect(call!.body.blocks).toEqual([{ type: 'section', text: { type: 'plain_text', text, emoji: true } }]);
    const [ts] = [...fake.messages].find(([, m]) => m.text === text)!;
    expect(JSON.parse(ref!)).toEqual({ channel: 'C0NOTICE', ts });
  });

  it('edits a posted notice with chat.update: same channel and ts, escaped, in plain_text, no parsing', async () => {
    const ref = await slack.postNotice('C0NOTICE', { server: 'fra-1', lines: [{ kind: 'disconnected', text: `🔴 ${EVIL} disconnected after 5m`, guestText: `🔴 ${EVIL} disconnected after 5m` }], omitted: 0 });
    const { ts } = JSON.parse(ref!);
    await slack.editNotice('C0NOTICE', ref!, { server: 'fra-1', lines: [{ kind: 'reconnected', text: `🔁 ${EVIL} reconnected after 12s away`, guestText: `🔁 ${EVIL} reconnected after 12s away` }], omitted: 0 });
    const [update] = fake.callsTo('chat.update');
    const text = `fra-1: 🔁 ${ESCAPED_EVIL} reconnected after 12s away`;
    expect(update!.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    expect(update!.body).toEqual({ channel: 'C0NOTICE', ts, text, blocks: [{ type: 'section', text: { type: 'plain_text', text, emoji: true } }], link_names: 'false', parse: 'none' });
    expect(fake.messages.get(ts)).toMatchObject({ channel: 'C0NOTICE', text, edits: 1 });
  });

  it('classifies edit failures like post failures: a deleted message is permanent, a 429 transient', async () => {
    const notice = { server: 'fra-1', lines: [{ kind: 'server-up' as const, text: '✅ fra-1 is back up', guestText: '✅ fra-1 is back up' }], omitted: 0 };
    const ref = (await slack.postNotice('C0NOTICE', notice))!;
    fake.answerNext('chat.update', { status: 429, headers: { 'retry-after': '4' } });
    expect(await slack.editNotice('C0NOTICE', ref, notice).catch((e: DeliveryError) => e)).toMatchObject({ permanent: false, retryAfterMs: 4000 });
    fake.deleteMessage(JSON.parse(ref).ts);
    await expect(slack.editNotice('C0NOTICE', ref, notice)).rejects.toEqual(new DeliveryError('Slack API error: message_not_found', true));
  });

  it('classifies failures: a missing channel is permanent, a 429 is transient with its retry-after', async () => {
    const notice = { server: 'fra-1', lines: [{ kind: 'server-up' as const, text: '✅ fra-1 is back up', guestText: '✅ fra-1 is back up' }], omitted: 0 };
    await expect(slack.postNotice('C0GONE', notice)).rejects.toEqual(new DeliveryError('Slack API error: channel_not_found', true));
    fake.answerNext('chat.postMessage', { status: 429, headers: { 'retry-after': '7' } }, { status: 503, body: 'upstream' });
    const limited = await slack.postNotice('C0NOTICE', notice).catch((e: DeliveryError) => e);
    expect(limited).toMatchObject({ permanent: false, retryAfterMs: 7000 });
    await expect(slack.postNotice('C0NOTICE', notice)).rejects.toMatchObject({ message: 'Slack API HTTP 503', permanent: false });
    const badToken = createSlackApp({ config: { ...config, botToken: 'xoxb-revoked' }, dispatch: deps, log: quiet });
    await expect(badToken.postNotice('C0NOTICE', notice)).rejects.toEqual(new DeliveryError('Slack API error: invalid_auth', true));
    await expect(badToken.start()).rejects.toThrow('Slack auth.test with SLACK_BOT_TOKEN failed: Slack API error: invalid_auth');
  });
});

describe('/vpn over Socket Mode', () => {
  it('connects with the app token, acks the envelope, and answers through response_url', async () => {
    const socket = createSlackApp({ config: { botToken: BOT_TOKEN, appToken: APP_TOKEN, adminUsers: [], apiUrl: fake.apiUrl }, dispatch: deps, log: quiet });
    expect(socket.mode).toBe('socket');
    expect(socket.router).toBeNull();
    await socket.start();
    try {
      await fake.socketConnected;
      expect(fake.callsTo('apps.connections.open')[0]!.headers.authorization).toBe(`Bearer ${APP_TOKEN}`);
      const ack = await fake.sendSlashCommand({
        team_id: 'T0FAKE', channel_id: 'C0OPS', user_id: 'U0MEMBER', user_name: 'mel', command: '/vpn', text: 'stats',
        api_app_id: 'A0VPN', response_url: `${fake.base}/response/socket-1`, trigger_id: '9.9.9',
      });
      expect(ack).toEqual({ envelope_id: 'env-1', payload: {} });
      const payload = await responseTo('/response/socket-1');
      expect(payload.response_type).toBe('in_channel');
      expect(texts(payload)).toEqual(['VPN totals', 'Users online\n2', 'Active connections\n2', 'Active servers\n1 of 1', 'Unhealthy servers\n0', 'Average connection time\n1h 30m']);
    } finally {
      await socket.stop();
    }
  });
});

describe('privacy: the page\'s rule, in chat', () => {
  const realIpOf = (payload: any) => texts(payload).find((t) => t.startsWith('fra-1 · '))!.split(' · ')[1];

  it('a private answer shows an admin real addresses and anyone else masked ones', async () => {
    const asAdmin = slashCommand('user alice', 'U0ADMIN');
    await fetch(eventsUrl, { method: 'POST', headers: signed(asAdmin.body), body: asAdmin.body });
    const admin = await responseTo(asAdmin.responsePath);
    expect(admin.response_type).toBe('ephemeral');
    expect(realIpOf(admin)).toBe('203.0.113.101');
    expect(texts(admin)).toContain('Last IP\n203.0.113.101 on fra-1');

    const asMember = slashCommand('user alice', 'U0MEMBER');
    await fetch(eventsUrl, { method: 'POST', headers: signed(asMember.body), body: asMember.body });
    const member = await responseTo(asMember.responsePath);
    expect(realIpOf(member)).toBe('203.0.113.x');
    expect(texts(member)).toContain('Last IP\n203.0.113.x on fra-1');
  });

  it('an answer in the channel is masked whoever asks, unless SHOW_REAL_IPS lets everyone see', async () => {
    const asAdmin = slashCommand('online', 'U0ADMIN');
    await fetch(eventsUrl, { method: 'POST', headers: signed(asAdmin.body), body: asAdmin.body });
    expect(JSON.stringify(await responseTo(asAdmin.responsePath))).not.toContain('203.0.113.10');

    deps.config = { ...deps.config, web: { showRealIps: true } };
    try {
      const asMember = slashCommand('online', 'U0MEMBER');
      await fetch(eventsUrl, { method: 'POST', headers: signed(asMember.body), body: asMember.body });
      expect(JSON.stringify(await responseTo(asMember.responsePath))).toContain('· 203.0.113.101 ·');
    } finally {
      const { web: _web, ...rest } = deps.config;
      deps.config = rest;
    }
  });

  it('notices show real addresses only with SHOW_REAL_IPS', async () => {
    const line = { kind: 'connected' as const, text: '🟢 alice connected from 203.0.113.101 (198.18.0.101)', guestText: '🟢 alice connected from 203.0.113.x (198.18.0.101)' };
    const open = createSlackApp({ config, dispatch: { ...deps, config: { ...deps.config, web: { showRealIps: true } } }, log: quiet });
    const shown = async (adapter: SlackAdapter) => fake.messages.get(JSON.parse((await adapter.postNotice('C0NOTICE', { server: 'fra-1', lines: [line], omitted: 0 }))!).ts)!.text;
    expect(await shown(slack)).toBe('fra-1: 🟢 alice connected from 203.0.113.x (198.18.0.101)');
    expect(await shown(open)).toBe('fra-1: 🟢 alice connected from 203.0.113.101 (198.18.0.101)');
  });
});
