// The one place that reads process.env and the servers file. Everything is validated with zod and
// every problem is reported at once, naming the file and key; the result is a frozen Config that
// the composition root hands down. No other module reads the environment.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import { parseEnv } from 'node:util';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { ServerConfig } from './domain.ts';
import { errorMessage } from './log.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface SlackConfig {
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  noticeChannel?: string;
  adminUsers: string[];
  apiUrl?: string;
}

export interface DiscordConfig {
  token: string;
  appId?: string;
  guildId?: string;
  noticeChannel?: string;
  adminUsers: string[];
  adminRoles: string[];
  apiUrl?: string;
}

/** How long history and the raw records are kept (src/store/history.ts, jobs/history-rollup.ts). */
export interface HistoryConfig {
  /** Minute samples per server: HISTORY_MINUTES_DAYS (default 7); then only their hourly roll-up. */
  minutesDays: number;
  /** Hourly samples and per-user days: HISTORY_HOURS_DAYS (default 400). */
  hoursDays: number;
  /** Sessions, events and the kick audit: RETENTION_DAYS (default 400). */
  retentionDays: number;
}

/** Each alert is off when its setting is null. */
export interface AlertConfig {
  /** A user online from this many different real IPs at once (ALERT_SHARED_ACCOUNT_IPS). */
  sharedAccountIps: number | null;
  /** A user's traffic in one UTC day (received + sent) over this many bytes (ALERT_DAILY_QUOTA_GB). */
  dailyQuotaBytes: number | null;
  /** A server's online count falling by more than this percent in one read (ALERT_ONLINE_DROP_PERCENT)… */
  onlineDropPercent: number | null;
  /** …from at least this many online (ALERT_ONLINE_DROP_MIN_ONLINE): 2 of 3 leaving is no outage. */
  onlineDropMinOnline: number;
}

/** Who may look at the page, the API and the stream: anyone who reaches the port, or signed-in viewers. */
export type PageAccess = 'public' | 'viewers';

/**
 * Which proxies in front of vpnwatch are believed about the client (X-Forwarded-For, -Proto,
 * -Host): false (none, the default), a hop count, or addresses and CIDRs (with Express's names
 * loopback, linklocal, uniquelocal), as Express's `trust proxy` takes them.
 */
export type TrustProxy = false | number | string[];

export interface WebConfig {
  /** undefined: every interface (IPv4 and IPv6), as most servers do; HOST=127.0.0.1 keeps it local. */
  host?: string;
  port: number;
  refreshSeconds: number;
  adminToken?: string;
  /** A read-only sign-in (bearer token or the login form) for PAGE_ACCESS=viewers. */
  viewerToken?: string;
  /** A bearer token that /metrics alone accepts (Prometheus). */
  metricsToken?: string;
  showRealIps: boolean;
  pageAccess: PageAccess;
  trustProxy: TrustProxy;
  /** A header carrying the signed-in user's name, set by an authenticating proxy (oauth2-proxy): honoured only from trustProxy addresses. */
  authProxyHeader?: string;
  /** Where people reach the page (PUBLIC_URL, no trailing slash), for "see all" links in chat when an answer is cut to fit. */
  publicUrl?: string;
}

export interface Config {
  /** Where the embedded database keeps its files and its address (for CLI commands beside `start`). */
  dataDir: string;
  mongodbUri?: string;
  serversFile: string;
  /** No servers file: `start` runs the built-in demo fleet instead. */
  demo: boolean;
  servers: ServerConfig[];
  poll: {
    intervalSeconds: number;
    concurrency: number;
    timeoutSeconds: number;
    /** Consecutive failed, incomplete or stale reads before a server-down event. */
    downAfter: number;
  };
  management: { statusIntervalSeconds: number };
  web: WebConfig;
  notices: { flapWindowSeconds: number };
  history: HistoryConfig;
  /** The daily digest to the notice channels; absent: off (DIGEST_TIME unset). */
  digest?: { time: string; timezone: string };
  alerts: AlertConfig;
  slack?: SlackConfig;
  discord?: DiscordConfig;
  logLevel: string;
  /** This process among the services sharing the database (VPNWATCH_REPLICA_ID; default host name + pid). */
  replicaId: string;
  /** PATH, searched for a mongod binary by the embedded default. */
  searchPath?: string;
}

type Env = Record<string, string | undefined>;

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const list = z.preprocess(emptyToUndefined, z.string().optional()).transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []));
const int = (fallback: number, min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number({ error: (issue) => (issue.code === 'invalid_type' ? 'must be a number' : undefined) })
    .int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback));
/** A whole number in range, or undefined when unset (an alert that is off). */
const optionalInt = (min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).optional());
const bool = (fallback: boolean) =>
  z.preprocess(emptyToUndefined, z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }).optional())
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v)));
const url = z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).optional());

/** Tokens that open the page or the admin view: long enough that guessing (rate-limited, too) gets nowhere. */
export const MIN_TOKEN_LENGTH = 16;
const secret = (name: string) => z.preprocess(emptyToUndefined, z.string()
  .min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters (make one with: openssl rand -hex 24)`)
  .refine((v) => !/\s/.test(v), `must not contain spaces (${name} is sent as a bearer token)`)
  .optional());

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** One TRUST_PROXY entry: an address, a CIDR (address/bits), address/netmask, or one of Express's names. */
function validProxyEntry(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  if (/^\d{1,3}$/.test(bits)) return Number(bits) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(bits) === 4;
}

/**
 * TRUST_PROXY as Express takes it, or the problem as text. `true` (trust every hop) is refused: a
 * client could then name any address in X-Forwarded-For and step around the sign-in rate limit.
 */
export function parseTrustProxy(value: string | undefined): TrustProxy | string {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false' || v === 'off' || v === 'no' || v === '0') return false;
  if (/^\d+$/.test(v)) return Number(v) <= 20 ? Number(v) : 'a hop count must be at most 20';
  if (v === 'true' || v === 'yes' || v === 'on') {
    return 'true would trust every client\'s X-Forwarded-For: give the proxy\'s addresses (e.g. 10.0.0.2 or 10.0.0.0/24, or loopback) or the number of proxies in front';
  }
  const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => !validProxyEntry(e));
  if (bad.length) return `not an address, CIDR or hop count: ${bad.join(', ')} (e.g. 10.0.0.2, 10.0.0.0/24, loopback, or 1)`;
  return entries;
}

const envSchema = z.object({
  VPNWATCH_ENV_FILE: optionalString,
  VPNWATCH_DATA_DIR: optionalString,
  VPNWATCH_SERVERS_FILE: optionalString,
  VPNWATCH_REPLICA_ID: z.preprocess(emptyToUndefined, z.string().regex(/^[\w.:-]{1,100}$/, 'must be 1-100 letters, digits, dots, colons, dashes or underscores').optional()),
  MONGODB_URI: z.preprocess(emptyToUndefined, z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional()),
  POLL_INTERVAL: int(30, 5, 86_400),
  POLL_CONCURRENCY: int(16, 1, 1000),
  POLL_TIMEOUT: int(15, 1, 600),
  SERVER_DOWN_AFTER: int(3, 1, 100),
  MANAGEMENT_STATUS_INTERVAL: int(2, 1, 3600),
  HOST: optionalString,
  PORT: int(8080, 0, 65_535),
  PAGE_REFRESH: int(5, 1, 3600),
  VPNWATCH_ADMIN_TOKEN: secret('VPNWATCH_ADMIN_TOKEN'),
  VPNWATCH_VIEWER_TOKEN: secret('VPNWATCH_VIEWER_TOKEN'),
  METRICS_TOKEN: secret('METRICS_TOKEN'),
  SHOW_REAL_IPS: bool(false),
  PAGE_ACCESS: z.preprocess(emptyToUndefined, z.enum(['public', 'viewers'], { error: 'must be public or viewers' }).optional()),
  TRUST_PROXY: z.preprocess(emptyToUndefined, z.string().optional()).transform((v, ctx): TrustProxy => {
    const parsed = parseTrustProxy(v);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  }),
  AUTH_PROXY_HEADER: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name such as X-Forwarded-User').optional()),
  PUBLIC_URL: z.preprocess(emptyToUndefined, z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  FLAP_WINDOW: int(60, 0, 3600),
  HISTORY_MINUTES_DAYS: int(7, 1, 90),
  HISTORY_HOURS_DAYS: int(400, 1, 3660),
  RETENTION_DAYS: int(400, 1, 3660),
  DIGEST_TIME: z.preprocess(emptyToUndefined, z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour), such as 08:30').optional()),
  DIGEST_TZ: z.preprocess(emptyToUndefined, z.string().default('UTC').superRefine((zone, ctx) => {
    if (!validTimeZone(zone)) ctx.addIssue({ code: 'custom', message: `unknown time zone '${zone}' (use an IANA name such as Europe/Berlin)` });
  })),
  ALERT_SHARED_ACCOUNT_IPS: optionalInt(2, 100),
  ALERT_DAILY_QUOTA_GB: z.preprocess(emptyToUndefined, z.coerce.number({ error: 'must be a number' }).positive('must be more than 0').optional()),
  ALERT_ONLINE_DROP_PERCENT: optionalInt(1, 100),
  ALERT_ONLINE_DROP_MIN_ONLINE: int(10, 1, 1_000_000),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_NOTICE_CHANNEL: optionalString,
  SLACK_ADMIN_USERS: list,
  SLACK_API_URL: url,
  DISCORD_TOKEN: optionalString,
  DISCORD_APP_ID: optionalString,
  DISCORD_GUILD_ID: optionalString,
  DISCORD_NOTICE_CHANNEL: optionalString,
  DISCORD_ADMIN_USERS: list,
  DISCORD_ADMIN_ROLES: list,
  DISCORD_API_URL: url,
});

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

const serverSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, dots, dashes or underscores'),
  host: z.string().min(1, 'must not be empty'),
  port: z.number().int().min(1).max(65_535).default(22),
  username: z.string().min(1, 'must not be empty'),
  privateKeyPath: z.string().min(1).optional(),
  privateKeyPassphraseEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the name of an environment variable').optional(),
  passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the name of an environment variable').optional(),
  hostKey: z.string().regex(FINGERPRINT, "must be a fingerprint like 'SHA256:' + 43 base64 characters, as `ssh-keygen -lf` prints it").optional(),
  insecureSkipHostKeyCheck: z.boolean().default(false),
  statusPath: z.string().min(1).default('/etc/openvpn/openvpn-status.log'),
  statusRefresh: z.number().int().min(1).max(3600).default(60),
  timezone: z.string().default('UTC'),
  management: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65_535).optional(),
    socket: z.string().min(1).optional(),
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the name of an environment variable').optional(),
    mode: z.enum(['stream', 'short']).default('stream'),
  }).strict().refine((m) => (m.port === undefined) !== (m.socket === undefined), 'needs either port (TCP on the server\'s loopback) or socket (a unix socket path), not both').optional(),
  notify: z.object({ slackChannel: z.string().optional(), discordChannel: z.string().optional() }).strict().optional(),
}).strict();

const serversFileSchema = z.object({ servers: z.array(serverSchema).min(1, 'lists no servers') }).strict();

function issuePath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

export interface LoadOptions {
  /**
   * A server without hostKey is not a problem: for `vpnwatch check`, which shows the key the
   * server offers so the admin can pin it. Nothing else logs in to such a server.
   */
  hostKeyOptional?: boolean;
}

/** Reads the servers file into ServerConfigs, adding every problem found to `problems`. */
function readServersFile(file: string, env: Env, problems: string[], options: LoadOptions): ServerConfig[] {
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, 'utf8'), { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) problems.push(`${file}: not valid YAML: ${err.message.split('\n')[0]}`);
    else problems.push(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    return [];
  }
  // A bare list of servers is accepted too.
  const parsed = serversFileSchema.safeParse(Array.isArray(raw) ? { servers: raw } : raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${file}: ${issuePath(issue.path) || '(top level)'}: ${issue.message}`);
    return [];
  }
  const baseDir = path.dirname(file);
  const seen = new Set<string>();
  return parsed.data.servers.map((s, i) => {
    const at = `${file}: servers[${i}] (${s.name})`;
    if (seen.has(s.name)) problems.push(`${at}.name: '${s.name}' is used by another server`);
    seen.add(s.name);
    if (!s.hostKey && !s.insecureSkipHostKeyCheck && !options.hostKeyOptional) {
      problems.push(`${at}.hostKey: required (pin the server's SHA256 fingerprint: run \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server, or \`vpnwatch check ${s.name}\` here, which shows the key the server offers), or set insecureSkipHostKeyCheck: true`);
    }
    if (!s.privateKeyPath && !s.passwordEnv) problems.push(`${at}: needs privateKeyPath or passwordEnv`);
    if (!validTimeZone(s.timezone)) problems.push(`${at}.timezone: unknown time zone '${s.timezone}' (use an IANA name such as Europe/Berlin)`);
    let privateKeyPath: string | undefined;
    if (s.privateKeyPath) {
      privateKeyPath = path.resolve(baseDir, expandHome(s.privateKeyPath));
      if (!fs.existsSync(privateKeyPath)) problems.push(`${at}.privateKeyPath: no file at ${privateKeyPath}`);
    }
    let privateKeyPassphrase: string | undefined;
    if (s.privateKeyPassphraseEnv) {
      if (!s.privateKeyPath) problems.push(`${at}.privateKeyPassphraseEnv: only used with privateKeyPath`);
      privateKeyPassphrase = env[s.privateKeyPassphraseEnv];
      if (!privateKeyPassphrase) problems.push(`${at}.privateKeyPassphraseEnv: environment variable ${s.privateKeyPassphraseEnv} is not set`);
    }
    let password: string | undefined;
    if (s.passwordEnv) {
      password = env[s.passwordEnv];
      if (!password) problems.push(`${at}.passwordEnv: environment variable ${s.passwordEnv} is not set`);
    }
    let managementPassword: string | undefined;
    if (s.management?.passwordEnv) {
      managementPassword = env[s.management.passwordEnv];
      if (!managementPassword) problems.push(`${at}.management.passwordEnv: environment variable ${s.management.passwordEnv} is not set`);
    }
    const server: ServerConfig = {
      name: s.name,
      host: s.host,
      port: s.port,
      username: s.username,
      insecureSkipHostKeyCheck: s.insecureSkipHostKeyCheck,
      statusPath: s.statusPath,
      statusRefreshSeconds: s.statusRefresh,
      timezone: s.timezone,
    };
    if (privateKeyPath) server.privateKeyPath = privateKeyPath;
    if (privateKeyPassphrase) server.privateKeyPassphrase = privateKeyPassphrase;
    if (password) server.password = password;
    if (s.hostKey) server.hostKey = s.hostKey;
    if (s.management) {
      server.management = { mode: s.management.mode };
      if (s.management.socket) server.management.socket = s.management.socket;
      else { server.management.host = s.management.host; server.management.port = s.management.port!; }
      if (managementPassword) server.management.password = managementPassword;
    }
    if (s.notify) server.notify = { ...s.notify };
    return server;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The environment with a `.env` file (in cwd, or at VPNWATCH_ENV_FILE) filled in underneath:
 * variables already set in the real environment win, as with dotenv.
 */
function withDotEnv(env: Env, cwd: string, problems: string[]): Env {
  const file = path.resolve(cwd, env.VPNWATCH_ENV_FILE ?? '.env');
  if (!fs.existsSync(file)) {
    if (env.VPNWATCH_ENV_FILE) problems.push(`environment: VPNWATCH_ENV_FILE: no file at ${file}`);
    return env;
  }
  try {
    return { ...parseEnv(fs.readFileSync(file, 'utf8')), ...env };
  } catch (err) {
    problems.push(`${file}: cannot read: ${errorMessage(err)}`);
    return env;
  }
}

/**
 * Reads and validates the whole configuration. Throws ConfigError listing every problem.
 * `cwd` resolves relative paths (the servers file, the data folder, .env).
 */
export function loadConfig(processEnv: Env = process.env, cwd = process.cwd(), options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const env = withDotEnv(processEnv, cwd, problems);
  const parsedEnv = envSchema.safeParse(env);
  if (!parsedEnv.success) {
    for (const issue of parsedEnv.error.issues) problems.push(`environment: ${issuePath(issue.path)}: ${issue.message}`);
  }
  const e = parsedEnv.success ? parsedEnv.data : envSchema.parse({});

  const serversFile = path.resolve(cwd, e.VPNWATCH_SERVERS_FILE ?? 'servers.yml');
  const explicitServersFile = e.VPNWATCH_SERVERS_FILE !== undefined;
  const haveServersFile = fs.existsSync(serversFile);
  if (explicitServersFile && !haveServersFile) problems.push(`environment: VPNWATCH_SERVERS_FILE: no file at ${serversFile}`);
  const servers = haveServersFile ? readServersFile(serversFile, env, problems, options) : [];

  let slack: SlackConfig | undefined;
  if (e.SLACK_BOT_TOKEN) {
    if (!e.SLACK_SIGNING_SECRET && !e.SLACK_APP_TOKEN) {
      problems.push('environment: SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)');
    }
    slack = { botToken: e.SLACK_BOT_TOKEN, adminUsers: e.SLACK_ADMIN_USERS };
    if (e.SLACK_SIGNING_SECRET) slack.signingSecret = e.SLACK_SIGNING_SECRET;
    if (e.SLACK_APP_TOKEN) slack.appToken = e.SLACK_APP_TOKEN;
    if (e.SLACK_NOTICE_CHANNEL) slack.noticeChannel = e.SLACK_NOTICE_CHANNEL;
    if (e.SLACK_API_URL) slack.apiUrl = e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`;
  } else if (e.SLACK_SIGNING_SECRET || e.SLACK_APP_TOKEN) {
    problems.push('environment: SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set');
  }

  let discord: DiscordConfig | undefined;
  if (e.DISCORD_TOKEN) {
    discord = { token: e.DISCORD_TOKEN, adminUsers: e.DISCORD_ADMIN_USERS, adminRoles: e.DISCORD_ADMIN_ROLES };
    if (e.DISCORD_APP_ID) discord.appId = e.DISCORD_APP_ID;
    if (e.DISCORD_GUILD_ID) discord.guildId = e.DISCORD_GUILD_ID;
    if (e.DISCORD_NOTICE_CHANNEL) discord.noticeChannel = e.DISCORD_NOTICE_CHANNEL;
    if (e.DISCORD_API_URL) discord.apiUrl = e.DISCORD_API_URL.replace(/\/$/, '');
  }

  if (e.HISTORY_HOURS_DAYS < e.HISTORY_MINUTES_DAYS) problems.push(`environment: HISTORY_HOURS_DAYS: must be at least HISTORY_MINUTES_DAYS (${e.HISTORY_MINUTES_DAYS}): hours are rolled up from minutes`);
  // The header names who is signed in: only a proxy at a known address may set it (a hop count
  // says how many proxies there are, not which ones, so anyone could send it straight to the port).
  if (e.AUTH_PROXY_HEADER && !Array.isArray(e.TRUST_PROXY)) {
    problems.push('environment: AUTH_PROXY_HEADER: needs TRUST_PROXY set to the authenticating proxy\'s addresses (e.g. 10.0.0.2 or loopback), or anyone could send the header');
  }
  if (e.VPNWATCH_VIEWER_TOKEN && e.VPNWATCH_VIEWER_TOKEN === e.VPNWATCH_ADMIN_TOKEN) {
    problems.push('environment: VPNWATCH_VIEWER_TOKEN: must differ from VPNWATCH_ADMIN_TOKEN');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const config: Config = {
    dataDir: path.resolve(cwd, e.VPNWATCH_DATA_DIR ?? 'data'),
    serversFile,
    demo: !haveServersFile,
    servers,
    poll: { intervalSeconds: e.POLL_INTERVAL, concurrency: e.POLL_CONCURRENCY, timeoutSeconds: e.POLL_TIMEOUT, downAfter: e.SERVER_DOWN_AFTER },
    management: { statusIntervalSeconds: e.MANAGEMENT_STATUS_INTERVAL },
    web: {
      port: e.PORT, refreshSeconds: e.PAGE_REFRESH, showRealIps: e.SHOW_REAL_IPS, trustProxy: e.TRUST_PROXY,
      // Private by default: the page says who connects, from where and when. The demo fleet is
      // simulated, so its page is open and `npm start` shows something at once.
      pageAccess: e.PAGE_ACCESS ?? (haveServersFile ? 'viewers' : 'public'),
    },
    notices: { flapWindowSeconds: e.FLAP_WINDOW },
    history: { minutesDays: e.HISTORY_MINUTES_DAYS, hoursDays: e.HISTORY_HOURS_DAYS, retentionDays: e.RETENTION_DAYS },
    alerts: {
      sharedAccountIps: e.ALERT_SHARED_ACCOUNT_IPS ?? null,
      dailyQuotaBytes: e.ALERT_DAILY_QUOTA_GB === undefined ? null : Math.round(e.ALERT_DAILY_QUOTA_GB * 1e9),
      onlineDropPercent: e.ALERT_ONLINE_DROP_PERCENT ?? null,
      onlineDropMinOnline: e.ALERT_ONLINE_DROP_MIN_ONLINE,
    },
    logLevel: e.LOG_LEVEL,
    replicaId: e.VPNWATCH_REPLICA_ID ?? `${os.hostname()}-${process.pid}`,
  };
  if (e.MONGODB_URI) config.mongodbUri = e.MONGODB_URI;
  if (e.VPNWATCH_ADMIN_TOKEN) config.web.adminToken = e.VPNWATCH_ADMIN_TOKEN;
  if (e.VPNWATCH_VIEWER_TOKEN) config.web.viewerToken = e.VPNWATCH_VIEWER_TOKEN;
  if (e.METRICS_TOKEN) config.web.metricsToken = e.METRICS_TOKEN;
  if (e.AUTH_PROXY_HEADER) config.web.authProxyHeader = e.AUTH_PROXY_HEADER.toLowerCase();
  if (e.HOST) config.web.host = e.HOST;
  if (e.PUBLIC_URL) config.web.publicUrl = e.PUBLIC_URL.replace(/\/+$/, '');
  if (e.DIGEST_TIME) config.digest = { time: e.DIGEST_TIME, timezone: e.DIGEST_TZ };
  if (env.PATH) config.searchPath = env.PATH;
  if (slack) config.slack = slack;
  if (discord) config.discord = discord;
  return deepFreeze(config);
}
