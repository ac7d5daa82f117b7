// What commands and notices say, before any platform touches it. Every string here is plain data
// (a common name may be `<!channel>` or `**bold**`); the renderers in src/chat/ and
// src/cli/commands.ts escape it for their medium. Nothing in this file does I/O.
import { findServer, unknownServerMessage, type Actor, type ChatStatus, type Kicker, type LiveModeInfo, type ServerConfig, type Viewer } from './domain.ts';
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
  /** The answer is a UserError: what was asked cannot be done as typed (the terminal exits 2). */
  userError?: boolean;
  /**
   * Where the whole answer is, for a platform that can show only part of it (Slack's and
   * Discord's size limits): renderers cutting rows or lines add "See all: …" with it.
   */
  fullAnswer?: FullAnswer;
  /** Machine-readable result for `vpnwatch <command> --json`; chat renderers ignore it. */
  data?: unknown;
}

/** The page (PUBLIC_URL set) and the terminal command that show a whole answer. */
export interface FullAnswer {
  /** Absolute: PUBLIC_URL plus the page's path; absent without PUBLIC_URL. */
  url?: string;
  /** Run on the vpnwatch host, e.g. `vpnwatch online fra-1 --json`. */
  command: string;
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
  /**
   * Who will read the answer, for the privacy rule (src/domain.ts): a private answer is read by
   * the person who asked; a public one by the whole channel, so it shows what any member may see.
   */
  viewer: Viewer;
  /** PUBLIC_URL: the page's address, for links to whole answers. */
  publicUrl?: string;
  /** The channel or terminal the command came from (for the kick audit record). */
  where?: string;
  /** How each server is followed now (the management streams); absent outside `vpnwatch start`. */
  modes?: () => Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands; absent outside `vpnwatch start`. */
  chat?: () => ChatStatus[];
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

/**
 * Where the whole of an answer is: the page at `pagePath` when PUBLIC_URL is set, and the
 * terminal command (`vpnwatch <words> --json`, a name with spaces quoted).
 */
export function fullAnswerAt(ctx: Pick<CommandContext, 'publicUrl'>, pagePath: string, words: string[]): FullAnswer {
  const command = ['vpnwatch', ...words.map((w) => (/[\s"']/.test(w) ? JSON.stringify(w) : w)), '--json'].join(' ');
  return { ...(ctx.publicUrl ? { url: `${ctx.publicUrl}${pagePath}` } : {}), command };
}

/** The server name as configured, or a UserError listing the known ones. */
export function checkServer(name: string, servers: ServerConfig[]): string {
  const match = findServer(name, servers);
  if (match) return match.name;
  throw new UserError(unknownServerMessage(name, servers));
}
