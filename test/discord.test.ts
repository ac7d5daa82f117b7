// The Discord adapter: the real discord.js client logging in to a local fake of Discord's REST API
// and gateway (test/fakes/fake-discord.ts), receiving INTERACTION_CREATE, and answering through the
// interaction callback and webhook routes. The store is a real MongoDB-wire server. The Kicker is
// a recording stand-in: the real one talks to OpenVPN's management interface and is tested
// against the OpenVPN lab.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordBot, registerDiscordCommands, type DiscordAdapter } from '../src/chat/discord.ts';
import type { DiscordConfig } from '../src/config.ts';
import type { DispatchDeps } from '../src/dispatch.ts';
import type { Store } from '../src/store/store.ts';
import { IDS, startFakeDiscord, vpnInteraction, type FakeDiscord } from './fakes/fake-discord.ts';
import { chatServer, recordingKicker, seedChatStore } from './support/chat.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { DeliveryError } from '../src/notify/targets.ts';

const TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.fake.token';
/** A common name that tries every trick: mentions, markdown, code, a masked link. */
const EVIL = '@everyone <@123> `tick` **bold** [click](https://example.com)';
const quiet = pino({ level: 'silent' });

const { kicker, requests: kickRequests } = recordingKicker();

let store: Store;
let fake: FakeDiscord;
let bot: DiscordAdapter;
let config: DiscordConfig;
let deps: DispatchDeps;

beforeAll(async () => {
  store = await openTestStore();
  await seedChatStore(store, EVIL, 'discord');

  fake = await startFakeDiscord({ token: TOKEN });
  config = { token: TOKEN, appId: IDS.app, guildId: IDS.guild, adminUsers: [IDS.admin], adminRoles: [IDS.adminRole], apiUrl: fake.apiBase, noticeChannel: IDS.channel };
  deps = { store, kicker, config: { servers: [chatServer('fra-1')], discord: config }, now: () => new Date('2026-11-28T10:30:00.000Z'), log: quiet };
  bot = createDiscordBot({ config, log: quiet, dispatch: deps });
  await bot.start();
});

afterAll(async () => {
  await bot?.stop();
  await fake?.close();
  await dropTestStore(store);
});

/** The interaction's callback and its later webhook calls, once `count` of them arrived. */
async function answerTo(interaction: { id: string; token: string }, count: number) {
  const mine = () => fake.rest.filter((c) => c.path.includes(`/${interaction.id}/`) || c.path.includes(`/${interaction.token}`));
  await expect.poll(() => mine().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
  return mine();
}

describe('the gateway session', () => {
  it('identifies with the Guilds intent only and comes up ready', () => {
    const identify = fake.frames.find((f) => f.op === 2);
    expect(identify.d.token).toBe(TOKEN);
    expect(identify.d.intents).toBe(1); // GatewayIntentBits.Guilds
    expect(bot.client.isReady()).toBe(true);
  });
});

describe('/vpn interactions', () => {
  it('defers (type 5), then edits the reply with an embed; common names render literally and mention nobody', async () => {
    const interaction = vpnInteraction('online', [], { userId: IDS.member });
    fake.dispatch('INTERACTION_CREATE', interaction);
    const [callback, edit] = await answerTo(interaction, 2);
    expect(callback).toMatchObject({ method: 'POST', path: `/interactions/${interaction.id}/${interaction.token}/callback`, body: { type: 5 } });
    expect(callback!.body.data?.flags ?? 0).toBe(0); // public: online is for the channel
    expect(edit).toMatchObject({ method: 'PATCH', path: `/webhooks/${IDS.app}/${interaction.token}/messages/@original` });
    expect(edit!.body.allowed_mentions).toEqual({ parse: [] });
    const [embed] = edit!.body.embeds;
    expect(embed.description.split('\n')).toEqual([
      '**2 online**',
      'fra-1: 2',
      '*User · Server · Real IP · Virtual IP · Connected since · Received / Sent*',
      '• **\\@everyone \\<\\@123\\> \\`tick\\` \\*\\*bold\\*\\* \\[click](https://example.com)** fra-1 · 203.0.113.x · 198.18.0.102 · 2026-11-28 09:00 UTC (1h 30m) · 1 kB / 2 kB',
      '• **alice** fra-1 · 203.0.113.x · 198.18.0.101 · 2026-11-28 09:00 UTC (1h 30m) · 1 kB / 2 kB',
    ]);
  });

  it('defers privately (flags 64) for a private command, and answers with fields', async () => {
    const interaction = vpnInteraction('user', [{ name: 'name', type: 3, value: 'alice' }], { userId: IDS.member });
    fake.dispatch('INTERACTION_CREATE', interaction);
    const [callback, edit] = await answerTo(interaction, 2);
    expect(callback!.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(edit!.body.embeds[0].description.split('\n')[0]).toBe('**alice: online on fra-1**');
    expect(edit!.body.embeds[0].fields[0]).toEqual({ name: 'Last seen', value: 'now', inline: true });
  });

  it('refuses kick to a member without the admin user or role, privately', async () => {
    const interaction = vpnInteraction('kick', [{ name: 'name', type: 3, value: 'alice' }], { userId: IDS.member });
    fake.dispatch('INTERACTION_CREATE', interaction);
    const [callback, edit] = await answerTo(interaction, 2);
    expect(callback!.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(edit!.body.embeds[0].description).toBe([
      '**Only VPN admins can use kick**',
      `Ask an admin to do it, or to add your user ID (${IDS.member}) to DISCORD\\_ADMIN\\_USERS (or your role in DISCORD\\_ADMIN\\_ROLES).`,
    ].join('\n'));
    expect(kickRequests).toEqual([]);
  });

  it('lets a member with an admin role kick, passing the choice and who asked', async () => {
    const interaction = vpnInteraction('kick', [{ name: 'name', type: 3, value: 'alice' }, { name: 'which', type: 3, value: 'all' }], { userId: IDS.member, roles: [IDS.adminRole] });
    fake.dispatch('INTERACTION_CREATE', interaction);
    const [, edit] = await answerTo(interaction, 2);
    expect(edit!.body.embeds[0].description.split('\n')[0]).toBe('**Kicked alice**');
    expect(kickRequests).toHaveLength(1);
    expect(kickRequests[0]).toMatchObject({ target: 'alice', which: 'all', where: IDS.channel, by: { platform: 'discord', userId: IDS.member, userName: 'mel' } });
    expect(kickRequests[0]!.by.roles).toContain(IDS.adminRole);
  });

  it('moves a private answer to a public command out of the channel: deletes the placeholder, follows up ephemerally', async () => {
    const interaction = vpnInteraction('online', [{ name: 'server', type: 3, value: 'fra-9' }], { userId: IDS.member });
    fake.dispatch('INTERACTION_CREATE', interaction);
    const calls = await answerTo(interaction, 3);
    expect(calls.map((c) => `${c.method} ${c.path.replace(interaction.token, 'TOKEN')}`)).toEqual([
      `POST /interactions/${interaction.id}/TOKEN/callback`,
      `DELETE /webhooks/${IDS.app}/TOKEN/messages/@original`,
      `POST /webhooks/${IDS.app}/TOKEN`,
    ]);
    expect(calls[2]!.body).toMatchObject({ flags: 64, allowed_mentions: { parse: [] } });
    expect(calls[2]!.body.embeds[0].description).toBe("**No server 'fra-9'. Known: fra-1**");
  });
});

describe('command registration', () => {
  it('puts /vpn with one subcommand per command into the guild', async () => {
    const result = await registerDiscordCommands(config);
    expect(result).toEqual({ scope: 'guild', applicationId: IDS.app, names: ['vpn'] });
    const [put] = fake.callsTo('PUT', /\/commands$/);
    expect(put!.path).toBe(`/applications/${IDS.app}/guilds/${IDS.guild}/commands`);
    const [vpn] = put!.body;
    expect(vpn.name).toBe('vpn');
    // In guilds only: no DMs, where there is no channel to share and no roles to check.
    expect(vpn.contexts).toEqual([0]);
    expect(vpn.options.map((o: any) => o.name)).toEqual(['online', 'user', 'kick', 'servers', 'recent', 'stats', 'top', 'help']);
    const kick = vpn.options.find((o: any) => o.name === 'kick');
    expect(kick.options.map((o: any) => [o.name, o.type, o.required])).toEqual([['name', 3, true], ['server', 3, false], ['which', 3, false]]);
    const recent = vpn.options.find((o: any) => o.name === 'recent');
    expect(recent.options[0]).toMatchObject({ name: 'n', type: 4, min_value: 1, max_value: 50 });
  });

  it('registers globally without a guild, looking up the application id when none is configured', async () => {
    const { appId: _appId, guildId: _guildId, ...global } = config;
    expect(await registerDiscordCommands(global)).toEqual({ scope: 'global', applicationId: IDS.app, names: ['vpn'] });
    expect(fake.callsTo('GET', /^\/applications\/@me$/)).toHaveLength(1);
    const put = fake.callsTo('PUT', /\/commands$/).at(-1)!;
    expect(put.path).toBe(`/applications/${IDS.app}/commands`);
    expect(put.body[0].contexts).toEqual([0]);
  });
});

describe('notices', () => {
  const ESCAPED_EVIL = '\\@everyone \\<\\@123\\> \\`tick\\` \\*\\*bold\\*\\* \\[click](https://example.com)';

  it('posts to the channel with no mentions parsed and the name escaped; answers with the message id', async () => {
    const id = await bot.postNotice(IDS.channel, { server: 'fra-1', lines: [{ kind: 'connected', text: `🟢 ${EVIL} connected from 203.0.113.102 (198.18.0.102)`, guestText: `🟢 ${EVIL} connected from 203.0.113.x (198.18.0.102)` }], omitted: 0 });
    const [post] = fake.callsTo('POST', /^\/channels\/\d+\/messages$/);
    expect(post!.headers.authorization).toBe(`Bot ${TOKEN}`);
    const content = `fra-1: 🟢 ${ESCAPED_EVIL} connected from 203.0.113.x (198.18.0.102)`;
    expect(post!.body).toEqual({ content, allowed_mentions: { parse: [] } });
    expect(fake.messages.get(id)).toMatchObject({ channel_id: IDS.channel, content });
  });

  it('edits a posted notice with PATCH of the channel message, escaped, with no mentions parsed', async () => {
    const id = await bot.postNotice(IDS.channel, { server: 'fra-1', lines: [{ kind: 'disconnected', text: `🔴 ${EVIL} disconnected after 5m`, guestText: `🔴 ${EVIL} disconnected after 5m` }], omitted: 0 });
    await bot.editNotice(IDS.channel, id, { server: 'fra-1', lines: [{ kind: 'reconnected', text: `🔁 ${EVIL} reconnected after 12s away`, guestText: `🔁 ${EVIL} reconnected after 12s away` }], omitted: 0 });
    const [patch] = fake.callsTo('PATCH', /^\/channels\//);
    const content = `fra-1: 🔁 ${ESCAPED_EVIL} reconnected after 12s away`;
    expect(patch).toMatchObject({ path: `/channels/${IDS.channel}/messages/${id}`, body: { content, allowed_mentions: { parse: [] } } });
    expect(patch!.headers.authorization).toBe(`Bot ${TOKEN}`);
    expect(fake.messages.get(id)).toMatchObject({ content });
  });

  it('classifies edit failures like post failures: a deleted message is permanent, a 5xx transient', async () => {
    const notice = { server: 'fra-1', lines: [{ kind: 'server-up' as const, text: '✅ fra-1 is back up', guestText: '✅ fra-1 is back up' }], omitted: 0 };
    const id = await bot.postNotice(IDS.channel, notice);
    fake.answerNext(`PATCH /channels/${IDS.channel}/messages/${id}`, { status: 503, body: { message: 'Service Unavailable' } });
    await expect(bot.editNotice(IDS.channel, id, notice)).rejects.toMatchObject({ message: 'Discord API HTTP 503', permanent: false });
    fake.deleteMessage(id);
    await expect(bot.editNotice(IDS.channel, id, notice)).rejects.toEqual(new DeliveryError('Discord API 404: Unknown Message', true));
  });

  it('classifies failures: unknown channel and bad token are permanent, 429 and 5xx transient', async () => {
    const notice = { server: 'fra-1', lines: [{ kind: 'server-up' as const, text: '✅ fra-1 is back up', guestText: '✅ fra-1 is back up' }], omitted: 0 };
    await expect(bot.postNotice('399999999999999999', notice)).rejects.toEqual(new DeliveryError('Discord API 404: Unknown Channel', true));
    const route = `POST /channels/${IDS.channel}/messages`;
    fake.answerNext(route, { status: 429, headers: { 'retry-after': '3' }, body: { message: 'You are being rate limited.', retry_after: 3, global: false } });
    const limited = await bot.postNotice(IDS.channel, notice).catch((e: DeliveryError) => e);
    // discord.js adds its 50 ms safety offset to retry-after.
    expect(limited).toMatchObject({ permanent: false, retryAfterMs: 3050 });
    fake.answerNext(route, { status: 502, body: { message: 'Bad Gateway' } });
    await expect(bot.postNotice(IDS.channel, notice)).rejects.toMatchObject({ message: 'Discord API HTTP 502', permanent: false });
    const revoked = createDiscordBot({ config: { ...config, token: 'revoked.token.x' }, dispatch: {} as never, log: quiet });
    await expect(revoked.postNotice(IDS.channel, notice)).rejects.toEqual(new DeliveryError('Discord API 401: 401: Unauthorized', true));
  });
});

describe('privacy: the page\'s rule, in chat', () => {
  const realIpOf = (description: string) => description.split('\n').find((l) => l.startsWith('• **fra-1**'))!.split(' · ')[0]!.replace('• **fra-1** ', '');
  it('a private answer shows an admin (by user or by role) real addresses and anyone else masked ones', async () => {
    const askers: [{ userId: string; roles?: string[] }, string][] = [[{ userId: IDS.admin }, '203.0.113.101'], [{ userId: IDS.member, roles: [IDS.adminRole] }, '203.0.113.101'], [{ userId: IDS.member }, '203.0.113.x']];
    for (const [from, ip] of askers) {
      const interaction = vpnInteraction('user', [{ name: 'name', type: 3, value: 'alice' }], from);
      fake.dispatch('INTERACTION_CREATE', interaction);
      const [, edit] = await answerTo(interaction, 2);
      const [embed] = edit!.body.embeds;
      expect(realIpOf(embed.description)).toBe(ip);
      // A field value starts a line: its leading `203.` is escaped so it is never a numbered list.
      expect(embed.fields[1]).toEqual({ name: 'Last IP', value: `${ip.replace('.', '\\.')} on fra-1`, inline: true });
    }
  });

  it('an answer in the channel is masked whoever asks, unless SHOW_REAL_IPS lets everyone see', async () => {
    const online = async (from: { userId: string }) => {
      const interaction = vpnInteraction('online', [], from);
      fake.dispatch('INTERACTION_CREATE', interaction);
      const [, edit] = await answerTo(interaction, 2);
      return edit!.body.embeds[0].description as string;
    };
    expect(await online({ userId: IDS.admin })).not.toContain('203.0.113.10');
    deps.config = { ...deps.config, web: { showRealIps: true } };
    try {
      expect(await online({ userId: IDS.member })).toContain('· 203.0.113.101 ·');
    } finally {
      const { web: _web, ...rest } = deps.config;
      deps.config = rest;
    }
  });

  it('notices show real addresses only with SHOW_REAL_IPS', async () => {
    const line = { kind: 'connected' as const, text: '🟢 alice connected from 203.0.113.101 (198.18.0.101)', guestText: '🟢 alice connected from 203.0.113.x (198.18.0.101)' };
    const open = createDiscordBot({ config, dispatch: { ...deps, config: { ...deps.config, web: { showRealIps: true } } }, log: quiet });
    const shown = async (adapter: DiscordAdapter) => fake.messages.get(await adapter.postNotice(IDS.channel, { server: 'fra-1', lines: [line], omitted: 0 })).content;
    expect(await shown(bot)).toBe('fra-1: 🟢 alice connected from 203.0.113.x (198.18.0.101)');
    expect(await shown(open)).toBe('fra-1: 🟢 alice connected from 203.0.113.101 (198.18.0.101)');
  });
});
