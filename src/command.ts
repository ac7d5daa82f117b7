// What commands and notices say, before any platform touches it. Every string here is plain data
// (a common name may be `<!channel>` or `**bold**`); the renderers in src/chat/ and
// src/cli/commands.ts escape it for their medium. Nothing in this file does I/O.
import { findServer, unknownServerMessage, type Actor, type Kicker, type LiveModeInfo, type ServerConfig } from './domain.ts';
import type { Store } from './store/store.ts';

export type Tone = 'info' | 'ok' | 'warn' | 'error';

/** A platform-neutral answer to a command. */
export interface Reply {
  title: string;
  lines?: string[];
  /** Label/value pairs (Slack section fields, Discord embed fields, `Label: value` in a terminal). */
  fields?: { name: string; value: string }[];
  /** Rows as cell text; `truncated` says how many rows the full answer had. */
  table?: { columns: string[]; rows: string[][] };
  tone: Tone;
  /** Shown only to the person who asked (Slack ephemeral, Discord ephemeral). */
  private: boolean;
  footer?: string;
  /** The table shows `shown` of `total` rows; renderers add "…and N more". */
  truncated?: { shown: number; total: number };
  /** Machine-readable result for `vpnwatch <command> --json`; chat renderers ignore it. */
  data?: unknown;
}

/** What the person can fix (a typo, a missing argument): shown to them privately, not logged as a fault. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

export interface CommandOption {
  name: string;
  description: string;
  type: 'string' | 'integer';
  required?: boolean;
  min?: number;
  max?: number;
  /** In typed text, this last option takes the rest of the words (`user John Smith`). */
  rest?: boolean;
}

export type CommandInput = Record<string, string | number | undefined>;

export interface CommandContext {
  store: Store;
  /** The configured servers, to validate names and list servers never read. */
  servers: ServerConfig[];
  kicker: Kicker;
  now: () => Date;
  actor: Actor;
  /** The channel or terminal the command came from (for the kick audit record). */
  where?: string;
  /** How each server is followed now (the management streams); absent outside `vpnwatch start`. */
  modes?: () => Record<string, LiveModeInfo>;
  /** Every /vpn command (for help). */
  commands: readonly Command[];
}

/** One `/vpn <name>` command (commands/<name>.ts). */
export interface Command {
  name: string;
  description: string;
  options: CommandOption[];
  adminOnly: boolean;
  /** Whether the answer is private by default: adapters that must choose before running (Discord's deferReply) use it. */
  private: boolean;
  run(input: CommandInput, ctx: CommandContext): Promise<Reply>;
  /** Called instead of run when a non-admin tries an admin command (kick records the attempt). */
  refused?(input: CommandInput, ctx: CommandContext): Promise<void>;
  /**
   * Called instead of answering with the problem when the words fail dispatch's checks (a
   * required one missing): kick lets its kicker decide and record the attempt.
   */
  rejected?(input: CommandInput, problem: UserError, ctx: CommandContext): Promise<Reply>;
}

/** How to type a command where the person is: `/vpn kick bob all` in chat, `vpnwatch kick bob all` in a terminal. */
export function invocation(actor: Actor, text: string): string {
  return actor.platform === 'cli' ? `vpnwatch ${text}` : `/vpn ${text}`;
}

/** A usage line such as `kick <name> [server] [which]`. */
export function usage(command: Command): string {
  return [command.name, ...command.options.map((o) => (o.required ? `<${o.name}>` : `[${o.name}]`))].join(' ');
}

/** The server name as configured, or a UserError listing the known ones. */
export function checkServer(name: string, servers: ServerConfig[]): string {
  const match = findServer(name, servers);
  if (match) return match.name;
  throw new UserError(unknownServerMessage(name, servers));
}
