// The Discord adapter (discord.js): one `/vpn` slash command with a subcommand per command in
// commands/, answered over the gateway connection, and notices posted to channels over REST.
//
// An interaction is deferred first (Discord gives 3 s; SSH and MongoDB may take longer), then
// answered by editing the deferred reply with an embed. Whether the answer is private must be
// chosen when deferring, so it comes from the command (answersPrivately); when a public command
// ends in a private answer (a typo), the public placeholder is deleted and the answer is sent
// as an ephemeral follow-up. An answer Discord refuses anyway is reported to the person who
// asked, privately, with a reference to the log.
//
// start() is one connection attempt (src/chat/connection.ts retries it in the background), on a
// fresh client each time: a client destroyed after a failed login cannot log in again.
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  Client, DiscordAPIError, DiscordjsErrorCodes, Events, GatewayIntentBits, HTTPError, InteractionContextType, MessageFlags, RateLimitError, REST, Routes, SlashCommandBuilder,
  type APIMessage, type ChatInputCommandInteraction, type Interaction, type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { commands } from '../../commands/index.ts';
import type { DiscordConfig } from '../config.ts';
import type { Actor } from '../domain.ts';
import { answersPrivately, dispatch, isAdmin, type DispatchDeps } from '../dispatch.ts';
import { logger, type Logger } from '../log.ts';
import type { CommandInput } from '../command.ts';
import { escapeDiscord } from './escape.ts';
import { NO_MENTIONS, renderDiscordNotice, renderDiscordReply, type NoticeView } from './render-discord.ts';
import { type Notice } from '../notify/notice-text.ts';
import { DeliveryError, type NoticeSink, type PostOptions } from '../notify/targets.ts';

export interface DiscordAdapterDeps {
  config: DiscordConfig;
  dispatch: DispatchDeps;
  log?: Logger;
  /** How long a login waits for the gateway's READY (default 30 s). */
  readyTimeoutMs?: number;
}

export interface DiscordAdapter {
  /** The gateway client of the current (or last) attempt. */
  readonly client: Client;
  /**
   * One connection attempt: logs in and waits until the gateway says READY. Rejects with a
   * DeliveryError: permanent for a bad token, transient for an outage. While READY is late it
   * keeps waiting (discord.js reconnects the gateway itself) and tells `slow` why.
   */
  start(slow?: (reason: DeliveryError) => void): Promise<void>;
  stop(): Promise<void>;
  /** Posts a notice (with the delivery's nonce); resolves to the message id, its ref for editNotice. */
  postNotice(channel: string, notice: Notice, options?: PostOptions): Promise<string>;
  /** Replaces a posted notice's content (PATCH of the channel message). */
  editNotice(channel: string, messageId: string, notice: Notice): Promise<void>;
  sink: NoticeSink;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_WAIT_MS = 5_000;

/**
 * The `/vpn` command with one subcommand per command in commands/, as Discord's API takes it. In
 * guilds only (`contexts: [0]`): answers in a DM would bypass the channel the team shares, and a
 * DM has no member roles to check admins by.
 */
export function vpnCommandDefinition(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const vpn = new SlashCommandBuilder().setName('vpn').setDescription('OpenVPN: who is online, users, servers, kick').setContexts(InteractionContextType.Guild);
  for (const command of commands) {
    vpn.addSubcommand((sub) => {
      sub.setName(command.name).setDescription(command.description.slice(0, 100));
      for (const o of command.options) {
        if (o.type === 'integer') {
          sub.addIntegerOption((opt) => {
            opt.setName(o.name).setDescription(o.description).setRequired(o.required ?? false);
            if (o.min !== undefined) opt.setMinValue(o.min);
            if (o.max !== undefined) opt.setMaxValue(o.max);
            return opt;
          });
        } else {
          sub.addStringOption((opt) => opt.setName(o.name).setDescription(o.description).setRequired(o.required ?? false));
        }
      }
      return sub;
    });
  }
  return vpn.toJSON();
}

function restFor(config: DiscordConfig, extra: ConstructorParameters<typeof REST>[0] = {}): REST {
  return new REST({ version: '10', ...(config.apiUrl ? { api: config.apiUrl } : {}), ...extra }).setToken(config.token);
}

/**
 * Registers `/vpn` (for `vpnwatch discord-register`): in one guild when DISCORD_GUILD_ID is set
 * (available at once), else globally (Discord may take a while to show it everywhere).
 */
export async function registerDiscordCommands(config: DiscordConfig): Promise<{ scope: 'guild' | 'global'; applicationId: string; names: string[] }> {
  const rest = restFor(config);
  const applicationId = config.appId ?? ((await rest.get(Routes.currentApplication())) as { id: string }).id;
  const route = config.guildId ? Routes.applicationGuildCommands(applicationId, config.guildId) : Routes.applicationCommands(applicationId);
  const registered = (await rest.put(route, { body: [vpnCommandDefinition()] })) as { name: string }[];
  return { scope: config.guildId ? 'guild' : 'global', applicationId, names: registered.map((c) => c.name) };
}

/** A REST failure as the notifier needs it: transient (retry) or permanent (record and stop). */
export function discordDeliveryError(err: unknown): DeliveryError {
  if (err instanceof RateLimitError) {
    return new DeliveryError(`Discord rate limit on ${err.route} (retry after ${Math.ceil(err.retryAfter / 1000)} s)`, false, Math.max(err.retryAfter, err.timeToReset, 1000));
  }
  if (err instanceof DiscordAPIError) {
    const transient = err.status >= 500 || err.status === 408 || err.status === 429;
    return new DeliveryError(`Discord API ${err.status}: ${err.message}`, !transient);
  }
  if (err instanceof HTTPError) return new DeliveryError(`Discord API HTTP ${err.status}`, false);
  return new DeliveryError(`Discord API unreachable: ${(err as Error).message ?? String(err)}`, false);
}

/** A failed login: discord.js reports a token Discord refused (401) as TokenInvalid. */
function discordLoginError(err: unknown): DeliveryError {
  if ((err as { code?: unknown }).code === DiscordjsErrorCodes.TokenInvalid) return new DeliveryError('Discord refused DISCORD_TOKEN (401: invalid token)', true);
  if (err instanceof DeliveryError) return err;
  return discordDeliveryError(err);
}

/** Role IDs of the member who asked: a cached GuildMember has a role manager, a raw API member a list. */
function memberRoles(interaction: ChatInputCommandInteraction): string[] {
  const roles = interaction.member?.roles;
  if (!roles) return [];
  return Array.isArray(roles) ? roles : [...roles.cache.keys()];
}

export function createDiscordBot(deps: DiscordAdapterDeps): DiscordAdapter {
  const { config } = deps;
  const log = (deps.log ?? logger).child({ module: 'discord' });
  const web = deps.dispatch?.config?.web;
  const noticeView: NoticeView = { realIps: web?.showRealIps ?? false, ...(web?.publicUrl ? { publicUrl: web.publicUrl } : {}) };

  async function answer(interaction: ChatInputCommandInteraction): Promise<void> {
    const name = interaction.options.getSubcommand();
    const input: CommandInput = {};
    for (const option of interaction.options.data[0]?.options ?? []) {
      if (typeof option.value === 'string' || typeof option.value === 'number') input[option.name] = option.value;
    }
    const actor: Actor = { platform: 'discord', userId: interaction.user.id, userName: interaction.user.username, roles: memberRoles(interaction) };
    const ephemeral = answersPrivately(name, actor, deps.dispatch.config);
    await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    const reply = await dispatch({ name, input }, actor, deps.dispatch, interaction.channelId);
    try {
      if (reply.private && !ephemeral) {
        await interaction.deleteReply();
        await interaction.followUp({ ...renderDiscordReply(reply), flags: MessageFlags.Ephemeral });
      } else {
        await interaction.editReply(renderDiscordReply(reply));
      }
    } catch (err) {
      // The asker would otherwise see a placeholder forever: tell them privately. The reason is for admins.
      const ref = randomBytes(2).toString('hex');
      log.error({ err, ref, userId: actor.userId }, 'Discord did not take the answer to a /vpn interaction');
      const reason = isAdmin(actor, deps.dispatch.config) ? ` (${(err as Error).message})` : '';
      const content = `${escapeDiscord(`❌ Discord did not show the answer${reason}`.slice(0, 1500))}. It is logged under ref ${ref}.`;
      if (!ephemeral) await interaction.deleteReply().catch(() => {}); // already gone when the answer was moved out
      await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS })
        .catch((again: unknown) => log.error({ err: again, ref }, 'could not tell the asker either'));
    }
  }

  const newClient = (): Client => {
    const c = new Client({
      intents: [GatewayIntentBits.Guilds],
      allowedMentions: NO_MENTIONS,
      ...(config.apiUrl ? { rest: { api: config.apiUrl } } : {}),
    });
    c.on(Events.InteractionCreate, (interaction: Interaction) => {
      if (!interaction.isChatInputCommand() || interaction.commandName !== 'vpn') return;
      answer(interaction).catch((err: unknown) => log.error({ err, userId: interaction.user.id }, 'could not answer a /vpn interaction'));
    });
    c.on(Events.Error, (err) => log.error({ err }, 'Discord client error'));
    return c;
  };
  let client = newClient();
  let attempts = 0;
  /** Aborts the attempt under way (stop() during a login that waits for READY). */
  let attempt: AbortController | null = null;

  // Notices use a REST client of their own: no hidden retries or rate-limit waits, so the notifier
  // decides when to try again (honouring retry-after) and nothing blocks its run.
  const noticeRest = restFor(config, { retries: 0, timeout: 10_000, rejectOnRateLimit: () => true });
  const postNotice = async (channel: string, notice: Notice, options: PostOptions = {}): Promise<string> => {
    // enforce_nonce: Discord returns the message already created with this nonce (in the last few
    // minutes) instead of creating another, so a post retried after a timeout is not duplicated.
    const nonce = options.nonce ? { nonce: options.nonce, enforce_nonce: true } : {};
    try {
      const message = (await noticeRest.post(Routes.channelMessages(channel), { body: { ...renderDiscordNotice(notice, noticeView), ...nonce } })) as APIMessage;
      return message.id;
    } catch (err) {
      throw discordDeliveryError(err);
    }
  };
  const editNotice = async (channel: string, messageId: string, notice: Notice): Promise<void> => {
    try {
      await noticeRest.patch(Routes.channelMessage(channel, messageId), { body: renderDiscordNotice(notice, noticeView) });
    } catch (err) {
      throw discordDeliveryError(err);
    }
  };

  return {
    get client() {
      return client;
    },
    async start(slow) {
      // A login that failed destroyed its client (discord.js does): the next attempt needs a new one.
      if (attempts++ > 0) client = newClient();
      const readyMs = deps.readyTimeoutMs ?? READY_TIMEOUT_MS;
      const waiting = new AbortController();
      attempt = waiting;
      // No READY in time is reported, not given up: destroying a client that waits for READY
      // leaves its shard reconnecting on its own (@discordjs/ws), and discord.js retries anyway.
      const timer = setTimeout(() => slow?.(new DeliveryError(`no READY from the Discord gateway within ${readyMs / 1000} s; still trying`, false)), readyMs);
      try {
        await Promise.all([client.login(config.token), once(client, Events.ClientReady, { signal: waiting.signal })]);
      } catch (err) {
        throw discordLoginError(waiting.signal.aborted ? waiting.signal.reason : err);
      } finally {
        clearTimeout(timer);
        waiting.abort();
      }
      log.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'connected to Discord');
    },
    async stop() {
      attempt?.abort(new DeliveryError('vpnwatch is stopping', false));
      // A client still waiting for READY may never finish destroying (see start()): stop anyway.
      const destroyed = client.destroy().then(() => true);
      const timedOut = new Promise<false>((resolve) => setTimeout(() => resolve(false), STOP_WAIT_MS).unref());
      if (!(await Promise.race([destroyed, timedOut]))) log.warn(`the Discord client did not close within ${STOP_WAIT_MS / 1000} s (it was still waiting for READY)`);
    },
    postNotice,
    editNotice,
    sink: { target: 'discord', post: postNotice, edit: editNotice },
  };
}
