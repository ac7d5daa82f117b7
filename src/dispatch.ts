// From "/vpn online fra-1" (or Discord's structured options, or a terminal) to a Reply: command
// lookup, argument checks, the admin check, and the one place errors become answers. A UserError
// is shown privately as it is; anything else is logged with a short reference and shown as that
// reference, so a user can quote it and an operator can find the stack trace.
import { randomBytes } from 'node:crypto';
import { commands, findCommand } from '../commands/index.ts';
import type { Config } from './config.ts';
import type { Actor, ChatStatus, Kicker, LiveModeInfo, Viewer } from './domain.ts';
import { formatAgo, formatTime } from './format.ts';
import { logger, type Logger } from './log.ts';
import type { DatabaseState } from './store/database-watch.ts';
import { usage, UserError, type Command, type CommandContext, type CommandInput, type Reply } from './command.ts';
import type { Store } from './store/store.ts';

export interface DispatchDeps {
  store: Store;
  kicker: Kicker;
  /** servers: for name checks; slack/discord: the admin lists; web: SHOW_REAL_IPS (default false) and PUBLIC_URL. */
  config: Pick<Config, 'servers' | 'slack' | 'discord'> & { web?: Pick<Config['web'], 'showRealIps' | 'publicUrl'> };
  now?: () => Date;
  log?: Logger;
  /** How each server is followed now (the management streams). */
  modes?: () => Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands. */
  chat?: () => ChatStatus[];
  /**
   * Whether the database answers (src/store/database-watch.ts). While it does not, every command
   * says so at once instead of waiting for a query to time out (Slack wants an answer in 3 s).
   */
  database?: () => DatabaseState;
}

export interface CommandRequest {
  name: string;
  input: CommandInput;
}

/** Words of typed text; "double", 'single' and “smart” quotes keep a name with spaces together. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|“([^”]*)”|‘([^’]*)’|(\S+)/g;
  for (const m of text.matchAll(pattern)) words.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]!);
  return words;
}

/** "kick bob fra-1" → { name: 'kick', input: { name: 'bob', server: 'fra-1' } }; empty text is help. */
export function parseCommandText(text: string): CommandRequest {
  const [name, ...words] = splitWords(text.trim());
  if (!name) return { name: 'help', input: {} };
  const command = findCommand(name);
  if (!command) throw new UserError(`Unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}`);
  const input: CommandInput = {};
  command.options.forEach((option, i) => {
    const isLast = i === command.options.length - 1;
    const value = option.rest && isLast ? words.slice(i).join(' ') : words[i];
    if (value) input[option.name] = value;
  });
  const last = command.options.at(-1);
  if (words.length > command.options.length && !last?.rest) {
    throw new UserError(`Too many words for ${command.name}. Usage: ${usage(command)}`);
  }
  return { name: command.name, input };
}

/** The input with each option present, typed and in range, or a UserError saying what is wrong. */
export function checkInput(command: Command, raw: CommandInput): CommandInput {
  const input: CommandInput = {};
  for (const option of command.options) {
    const value = raw[option.name];
    const text = value === undefined ? '' : String(value).trim();
    if (text === '') {
      if (option.required) throw new UserError(`Missing <${option.name}>. Usage: ${usage(command)}`);
      continue;
    }
    if (option.type === 'string') {
      input[option.name] = text;
      continue;
    }
    const n = Number(text);
    const inRange = Number.isInteger(n) && (option.min === undefined || n >= option.min) && (option.max === undefined || n <= option.max);
    if (!inRange) {
      const range = option.min !== undefined && option.max !== undefined ? ` from ${option.min} to ${option.max}` : '';
      throw new UserError(`<${option.name}> must be a whole number${range}, not '${text}'`);
    }
    input[option.name] = n;
  }
  return input;
}

/** Slack admins by user ID; Discord admins by user ID or any of their role IDs; the terminal is trusted. */
export function isAdmin(actor: Actor, config: DispatchDeps['config']): boolean {
  switch (actor.platform) {
    case 'cli':
      return true;
    case 'slack':
      return config.slack?.adminUsers.includes(actor.userId) ?? false;
    case 'discord':
      return (config.discord?.adminUsers.includes(actor.userId) ?? false)
        || (actor.roles ?? []).some((role) => config.discord?.adminRoles.includes(role) ?? false);
  }
}

/**
 * Whether the answer to `name` will be private, known before running it: Discord must choose
 * when it defers. Unknown commands and refusals are private.
 */
export function answersPrivately(name: string, actor: Actor, config: DispatchDeps['config']): boolean {
  const command = findCommand(name);
  if (!command) return true;
  return command.private || (command.adminOnly && !isAdmin(actor, config));
}

/**
 * Who reads the answer to `command`, for the privacy rule: the terminal is trusted; a private
 * answer is read by the person who asked (real IPs if they are an admin); a public one by the
 * whole channel, so it shows real IPs only where SHOW_REAL_IPS lets everyone see them.
 */
export function viewerFor(command: Command, actor: Actor, config: DispatchDeps['config']): Viewer {
  const admin = isAdmin(actor, config);
  const everyone = config.web?.showRealIps ?? false;
  const readByAskerOnly = actor.platform === 'cli' || answersPrivately(command.name, actor, config);
  return { admin, realIps: everyone || (admin && readByAskerOnly) };
}

const ADMIN_SETTING: Record<Actor['platform'], string> = {
  slack: 'SLACK_ADMIN_USERS',
  discord: 'DISCORD_ADMIN_USERS (or your role in DISCORD_ADMIN_ROLES)',
  cli: '',
};

function refusal(command: Command, actor: Actor): Reply {
  return {
    title: `Only VPN admins can use ${command.name}`,
    lines: [`Ask an admin to do it, or to add your user ID (${actor.userId}) to ${ADMIN_SETTING[actor.platform]}.`],
    tone: 'error',
    private: true,
  };
}

function databaseDown(state: DatabaseState, now: Date): Reply {
  return {
    title: 'The database does not answer: no VPN data right now',
    lines: [`It has not answered since ${formatTime(state.since)} (${formatAgo(state.since, now)}). vpnwatch keeps polling and will store and announce what changes once it is back; the status page shows the last data it holds.`],
    tone: 'error',
    private: true,
  };
}

/** Runs one command for `actor`. Never throws: every failure becomes a private Reply. */
export async function dispatch(request: string | CommandRequest, actor: Actor, deps: DispatchDeps, where?: string): Promise<Reply> {
  const log = (deps.log ?? logger).child({ module: 'dispatch' });
  const now = deps.now ?? (() => new Date());
  let name = typeof request === 'string' ? '' : request.name;
  try {
    const { name: commandName, input } = typeof request === 'string' ? parseCommandText(request) : request;
    name = commandName;
    const command = findCommand(commandName);
    if (!command) throw new UserError(`Unknown command '${commandName}'. Commands: ${commands.map((c) => c.name).join(', ')}`);
    const ctx: CommandContext = {
      store: deps.store, servers: deps.config.servers, kicker: deps.kicker, now, actor, commands, viewer: viewerFor(command, actor, deps.config),
      ...(deps.config.web?.publicUrl ? { publicUrl: deps.config.web.publicUrl } : {}),
      ...(where ? { where } : {}), ...(deps.modes ? { modes: deps.modes } : {}), ...(deps.chat ? { chat: deps.chat } : {}),
    };
    const database = deps.database?.();
    if (database && !database.up && command.name !== 'help') return databaseDown(database, now());
    if (command.adminOnly && !isAdmin(actor, deps.config)) {
      log.warn({ command: command.name, platform: actor.platform, userId: actor.userId }, 'admin command refused');
      // The refusal is the answer even when recording it fails.
      await command.refused?.(input, ctx).catch((err: unknown) => log.error({ err, command: command.name }, 'could not record a refused command'));
      return refusal(command, actor);
    }
    let checked: CommandInput;
    try {
      checked = checkInput(command, input);
    } catch (err) {
      if (err instanceof UserError && command.rejected) return await command.rejected(input, err, ctx);
      throw err;
    }
    return await command.run(checked, ctx);
  } catch (err) {
    if (err instanceof UserError) return { title: err.message, tone: 'warn', private: true, userError: true };
    const ref = randomBytes(2).toString('hex');
    log.error({ err, ref, command: name, platform: actor.platform, userId: actor.userId }, 'command failed');
    return { title: `Something went wrong (ref ${ref})`, lines: ['The error is logged under this reference.'], tone: 'error', private: true };
  }
}
