// Chat cannot take the service down: `vpnwatch start` (startService, the demo fleet through the
// real pipeline) with Slack answering 503, a bad Slack token, a Discord gateway that never says
// READY, a bad Discord token. Each time the page answers and polling runs; each platform connects
// in the background, retries what may pass and not what cannot, logs each problem once, and says
// why in /healthz, in `/vpn servers` on the other platform, and on the page.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startService, type Service } from '../src/main.ts';
import { IDS, startFakeDiscord, vpnInteraction, type FakeDiscord } from './fakes/fake-discord.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { slackSignedHeaders, slashCommandBody } from './support/slack-request.ts';

const SLACK_TOKEN = 'xoxb-outage';
const SIGNING_SECRET = 'outage-secret';
const DISCORD_TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.outage.token';

interface Running {
  service: Service;
  slackFake: FakeSlack;
  discordFake: FakeDiscord;
  logs: { level: number; msg: string; platform?: string }[];
  base: string;
  dir: string;
}

/** Starts the service against the fakes, with the tokens given (a token the fake does not know is a bad one). */
async function run(tokens: { slack: string; discord: string }, prepare: (fakes: { slackFake: FakeSlack; discordFake: FakeDiscord }) => void = () => {}): Promise<Running> {
  const slackFake = await startFakeSlack({ botToken: SLACK_TOKEN });
  const discordFake = await startFakeDiscord({ token: DISCORD_TOKEN });
  prepare({ slackFake, discordFake });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-outage-'));
  const uri = new URL(inject('mongoUri'));
  uri.pathname = `/vpnwatch_outage_${crypto.randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', MONGODB_URI: uri.toString(), VPNWATCH_DATA_DIR: path.join(dir, 'data'),
    SLACK_BOT_TOKEN: tokens.slack, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_ADMIN_USERS: 'U0ADMIN', SLACK_API_URL: slackFake.apiUrl,
    DISCORD_TOKEN: tokens.discord, DISCORD_APP_ID: IDS.app, DISCORD_GUILD_ID: IDS.guild, DISCORD_ADMIN_USERS: IDS.admin, DISCORD_API_URL: discordFake.apiBase,
  }, dir);
  const logs: Running['logs'] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logs.push(JSON.parse(String(chunk))); done(); } }));
  const service = await startService(config, { log, discordReadyTimeoutMs: 1000 });
  return { service, slackFake, discordFake, logs, base: `http://127.0.0.1:${service.port}`, dir };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.service.stop();
  await r.service.db.store.connection.dropDatabase().catch(() => {});
  await r.slackFake.close();
  await r.discordFake.close();
  fs.rmSync(r.dir, { recursive: true, force: true });
}

async function health(r: Running): Promise<{ status: number; body: any }> {
  const res = await fetch(`${r.base}/healthz`);
  return { status: res.status, body: await res.json() };
}

/** The page answers, and polling runs: the demo servers are read and stored. */
async function servesAndPolls(r: Running): Promise<void> {
  const page = await fetch(`${r.base}/`);
  expect(page.status).toBe(200);
  await expect.poll(async () => (await health(r)).body.servers.filter((s: any) => s.lastResult === 'ok').length, { timeout: 30_000 }).toBe(3);
}

const logged = (r: Running, level: number, text: string) => r.logs.filter((l) => l.level === level && l.msg.includes(text));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Slack answering 503 at start, and a Discord gateway that never says READY', () => {
  let r: Running;
  beforeAll(async () => {
    r = await run({ slack: SLACK_TOKEN, discord: DISCORD_TOKEN }, ({ slackFake, discordFake }) => {
      slackFake.answerNext('auth.test', { status: 503, body: 'upstream unavailable' }, { status: 503, body: 'upstream unavailable' });
      discordFake.sendReady = false;
    });
  }, 60_000);
  afterAll(() => stop(r));

  it('starts anyway: the page answers and polling runs, while both platforms are retried', async () => {
    const { status, body } = await health(r);
    expect(status).toBe(200);
    expect(body.chat.discord).toMatchObject({ state: expect.stringMatching(/^(connecting|retrying)$/) });
    await servesAndPolls(r);
    await expect.poll(async () => (await health(r)).body.chat.discord, { timeout: 10_000 })
      .toMatchObject({ state: 'retrying', error: 'no READY from the Discord gateway within 1 s; still trying' });
    expect((await health(r)).body.ok).toBe(true);
  }, 60_000);

  it('Slack connects once it answers again; its outage was logged once, not per attempt', async () => {
    await expect.poll(async () => (await health(r)).body.chat.slack.state, { timeout: 20_000 }).toBe('ok');
    expect(r.slackFake.callsTo('auth.test')).toHaveLength(3);
    expect(logged(r, 40, 'cannot connect to Slack (Slack auth.test with SLACK_BOT_TOKEN failed: Slack API HTTP 503)')).toHaveLength(1);
  }, 30_000);

  it('Discord connects once the gateway says READY', async () => {
    r.discordFake.sendReady = true;
    await expect.poll(async () => (await health(r)).body.chat.discord, { timeout: 30_000 }).toMatchObject({ state: 'ok', error: null });
    expect(logged(r, 40, 'cannot connect to Discord yet (no READY from the Discord gateway within 1 s; still trying)')).toHaveLength(1);
  }, 40_000);
});

describe('a bad Slack token', () => {
  let r: Running;
  beforeAll(async () => { r = await run({ slack: 'xoxb-revoked', discord: DISCORD_TOKEN }); }, 60_000);
  afterAll(() => stop(r));

  it('the service runs; /healthz says ok: false and why, still with HTTP 200', async () => {
    await servesAndPolls(r);
    await expect.poll(async () => (await health(r)).body.chat.slack?.state, { timeout: 10_000 }).toBe('failing');
    const { status, body } = await health(r);
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    expect(body.mongo).toBe(true);
    expect(body.chat.slack).toEqual({ state: 'failing', error: 'Slack auth.test with SLACK_BOT_TOKEN failed: Slack API error: invalid_auth', since: expect.any(String) });
  }, 60_000);

  it('is logged once and not tried again', async () => {
    await pause(3000); // longer than the first backoff: a retry would have come
    expect(r.slackFake.callsTo('auth.test')).toHaveLength(1);
    expect(r.logs.filter((l) => l.level === 50 && l.msg.startsWith('Slack is off'))).toHaveLength(1);
  }, 10_000);

  it('Discord\'s /vpn servers says so, and so does the page', async () => {
    await expect.poll(async () => (await health(r)).body.chat.discord?.state, { timeout: 10_000 }).toBe('ok');
    const interaction = vpnInteraction('servers', [], { userId: IDS.member });
    r.discordFake.dispatch('INTERACTION_CREATE', interaction);
    await expect.poll(() => r.discordFake.rest.some((c) => c.method === 'PATCH' && c.path.includes(interaction.token)), { timeout: 10_000 }).toBe(true);
    const edit = r.discordFake.rest.find((c) => c.method === 'PATCH' && c.path.includes(interaction.token))!;
    expect(edit.body.embeds[0].description).toMatch(/\nSlack is not connected and needs an admin \(since \d{4}-\d\d-\d\d \d\d:\d\d UTC\)\n/);
    const page = await (await fetch(`${r.base}/`)).text();
    expect(page).toMatch(/<p class="chat-note" id="chat-note">Chat: Slack failing since \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/p>/);
  }, 30_000);
});

describe('a bad Discord token', () => {
  let r: Running;
  beforeAll(async () => { r = await run({ slack: SLACK_TOKEN, discord: 'MTAwMDAwMDAwMDAwMDAwMDAx.revoked.token' }); }, 60_000);
  afterAll(() => stop(r));

  it('the service runs; /healthz and Slack\'s /vpn servers say why', async () => {
    await servesAndPolls(r);
    await expect.poll(async () => (await health(r)).body.chat, { timeout: 10_000 }).toEqual({
      slack: { state: 'ok', error: null, since: expect.any(String) },
      // The gateway is kept by one replica (the one holding its lease): this one, the only one.
      discord: { state: 'failing', error: 'Discord refused DISCORD_TOKEN (401: invalid token)', since: expect.any(String), heldBy: expect.any(String) },
    });
    expect((await health(r)).body.ok).toBe(false);

    // A slash command to the service's own /slack/events, signed as Slack signs it.
    const body = slashCommandBody({ text: 'servers', responseUrl: `${r.slackFake.base}/response/outage` });
    const res = await fetch(`${r.base}/slack/events`, { method: 'POST', headers: slackSignedHeaders(body, SIGNING_SECRET), body });
    expect(res.status).toBe(200);
    await expect.poll(() => r.slackFake.callsTo('response').length, { timeout: 10_000 }).toBe(1);
    const texts = JSON.stringify(r.slackFake.callsTo('response')[0]!.body.blocks);
    expect(texts).toMatch(/Discord is not connected and needs an admin \(since \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
  }, 60_000);
});
