// One Discord gateway for all replicas (issue 14): two `vpnwatch start` services (startService,
// in this process) on one database and one local fake of Discord. Only the replica holding the
// gateway's lease logs in; the other says who keeps it and how it stands; when the holder stops,
// the other takes the lease and logs in, and interactions reach it. Notices go out over REST
// from any replica whatever the gateway does.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startSimulatedServer, type SimulatedServer } from '../src/demo/simulated-server.ts';
import { startService, type Service } from '../src/main.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';
import { IDS, startFakeDiscord, vpnInteraction, type FakeDiscord } from './fakes/fake-discord.ts';

const TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAx.gateway.token';
const silent = pino({ level: 'silent' });

describe('the Discord gateway lease over two replicas', () => {
  let fake: FakeDiscord;
  let sim: SimulatedServer;
  let dir: string;
  let uri: string;
  const services = new Map<string, Service>();

  async function start(id: string): Promise<Service> {
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', MONGODB_URI: uri, VPNWATCH_REPLICA_ID: id, POLL_INTERVAL: '5', VPNWATCH_SERVERS_FILE: path.join(dir, 'servers.yml'),
      SIM_PASSWORD: sim.config.password!,
      DISCORD_TOKEN: TOKEN, DISCORD_APP_ID: IDS.app, DISCORD_GUILD_ID: IDS.guild, DISCORD_ADMIN_USERS: IDS.admin, DISCORD_API_URL: fake.apiBase, DISCORD_NOTICE_CHANNEL: IDS.channel,
    }, dir);
    const service = await startService(config, { log: silent });
    services.set(id, service);
    return service;
  }

  const identifies = () => fake.frames.filter((f) => f.op === 2).length;
  const discordHealth = async (id: string) => ((await (await fetch(`http://127.0.0.1:${services.get(id)!.port}/healthz`)).json()) as { chat: { discord: Record<string, unknown> } }).chat.discord;

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    sim = await startSimulatedServer({ name: 'sim-gw', statusRefreshSeconds: 5 });
    sim.setStatus(writeStatus(2, [], new Date(Math.floor(Date.now() / 1000) * 1000).toISOString()));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-gateway-'));
    const c = sim.config;
    fs.writeFileSync(path.join(dir, 'servers.yml'), `servers:\n  - { name: ${c.name}, host: ${c.host}, port: ${c.port}, username: ${c.username}, passwordEnv: SIM_PASSWORD, hostKey: '${c.hostKey}', statusPath: ${c.statusPath}, statusRefresh: 5 }\n`);
    const u = new URL(inject('mongoUri'));
    u.pathname = `/vpnwatch_gateway_${crypto.randomBytes(4).toString('hex')}`;
    uri = u.toString();
  });

  afterAll(async () => {
    const any = [...services.values()][0];
    for (const s of services.values()) await s.stop().catch(() => {});
    await any?.db.store.connection.dropDatabase().catch(() => {});
    await fake?.close();
    await sim?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('only the replica that holds the lease logs in; the other says which one keeps the gateway', async () => {
    await start('gw-a');
    await expect.poll(() => identifies(), { timeout: 15_000 }).toBe(1);
    await start('gw-b');
    // Several lease ticks (POLL_INTERVAL 5: a tick is 1.7 s): the second replica never logs in.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(identifies()).toBe(1);
    await expect.poll(() => discordHealth('gw-b'), { timeout: 10_000 }).toMatchObject({ state: 'ok', heldBy: 'gw-a' });
    expect(await discordHealth('gw-a')).toMatchObject({ state: 'ok', heldBy: 'gw-a' });
  }, 60_000);

  it('when the holder stops, the other replica takes the lease, logs in and answers', async () => {
    await services.get('gw-a')!.stop();
    services.delete('gw-a');
    await expect.poll(() => identifies(), { timeout: 15_000 }).toBe(2);
    await expect.poll(() => discordHealth('gw-b'), { timeout: 10_000 }).toMatchObject({ state: 'ok', heldBy: 'gw-b' });
    // An interaction on the gateway now reaches gw-b, which answers over REST.
    const interaction = vpnInteraction('servers', [], { userId: IDS.member });
    fake.dispatch('INTERACTION_CREATE', interaction);
    await expect.poll(() => fake.rest.filter((c) => c.path.includes(`/${interaction.id}/`) || c.path.includes(interaction.token)).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
