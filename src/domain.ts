// The plain data that flows between the parser, the poller, the store, the commands and the page,
// and the few rules every layer shares: who a session is (identity), whether a server is healthy,
// which configured server a typed name means, and who may see a real address (privacy). Pure: no
// I/O, so every layer can import it.
import { isIPv4, isIPv6 } from 'node:net';

export type StatusFormat = 'openvpn-status-v1' | 'openvpn-status-v2' | 'openvpn-status-v3';

/** One row of an OpenVPN CLIENT LIST, normalised. Field names are the `parse --json` contract. */
export interface VpnSession {
  /** As written; `UNDEF` stays `UNDEF` (a client that is not authenticated yet, or has no CN). */
  commonName: string;
  /** null when the column is absent (v1, 2.2) or `UNDEF`. */
  username: string | null;
  /** Host only: no port, no brackets, no 2.7 protocol prefix. */
  realAddress: string;
  realPort: number | null;
  /** 2.7+ prefix such as `udp4`, `udp6`, `tcp4-server`; null before 2.7. */
  protocol: string | null;
  /** null while the client has no pool address yet (authenticating, rejected, just kicked). */
  virtualAddress: string | null;
  virtualIpv6: string | null;
  bytesReceived: number;
  bytesSent: number;
  /** ISO-8601 UTC with milliseconds. */
  connectedAt: string;
  /** OpenVPN's Client ID (2.4+): the handle `client-kill` takes. Unique per OpenVPN process run. */
  clientId: number | null;
  peerId: number | null;
  cipher: string | null;
}

/** What one status text says. The object `vpnwatch parse --json` prints. */
export interface StatusSnapshot {
  format: StatusFormat;
  /** The TIME / Updated line as ISO-8601 UTC; null when the file has none. */
  updatedAt: string | null;
  /** true when the END line was seen; false for a file caught mid-rewrite. */
  complete: boolean;
  sessions: VpnSession[];
  warnings: string[];
}

export interface ManagementConfig {
  host?: string;
  port?: number;
  socket?: string;
  password?: string;
  /** `stream` keeps one connection open; `short` connects per cycle so other tools can use the interface. */
  mode: 'stream' | 'short';
}

/** One VPN server from the servers file, validated, with secrets resolved from the environment. */
export interface ServerConfig {
  name: string;
  host: string;
  port: number;
  username: string;
  privateKeyPath?: string;
  /** The passphrase of an encrypted private key, from the variable named by privateKeyPassphraseEnv. */
  privateKeyPassphrase?: string;
  password?: string;
  /** Pinned host key fingerprint, `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  hostKey?: string;
  insecureSkipHostKeyCheck: boolean;
  statusPath: string;
  /** How often OpenVPN rewrites the status file (`status FILE n`, default 60 s): bounds staleness. */
  statusRefreshSeconds: number;
  /** IANA zone for status timestamps that carry no time_t (v1, and the text columns). */
  timezone: string;
  management?: ManagementConfig;
  /** Per-server notice channels; fall back to the global ones. */
  notify?: { slackChannel?: string; discordChannel?: string };
}

/**
 * The result of reading one server once (produced in a worker thread, so plain data only).
 * `fileModifiedAt`: status-file reads only, the file's modification time from SFTP (ISO-8601, whole
 * seconds; a second clock beside the text's own TIME), or null when the read failed before the file
 * was read; absent on management reads.
 */
export type ServerRead =
  | { server: string; ok: true; snapshot: StatusSnapshot; readAt: string; durationMs: number; source: 'status-file' | 'management'; fileModifiedAt?: string | null }
  | { server: string; ok: false; error: string; readAt: string; durationMs: number; source: 'status-file' | 'management'; fileModifiedAt?: string | null };

/** summary: what changed on a server while vpnwatch was stopped for long (see the diff's table). */
export type VpnEventType = 'connected' | 'disconnected' | 'reconnected' | 'server-down' | 'server-up' | 'summary' | 'notice';

/**
 * How a session ended, as stored on the session and shown in `/vpn user`: disconnected (it left
 * the list), kicked (after /vpn kick), replaced (a new instance took its address and port).
 */
export type SessionEnd = 'disconnected' | 'kicked' | 'replaced';

export interface VpnEvent {
  type: VpnEventType;
  server: string;
  /** When vpnwatch observed the change (ISO-8601 UTC). */
  at: string;
  /** connected / disconnected / reconnected: the session concerned (for reconnected, the new one). */
  session?: VpnSession;
  /** reconnected: the session that ended. */
  previous?: VpnSession;
  /** disconnected: how it ended. */
  endedBy?: SessionEnd;
  /** server-down: the last error. */
  error?: string;
  /**
   * server-down / server-up: the last good read before the outage; summary: the last good read
   * before vpnwatch stopped (ISO-8601), null if there was none.
   */
  since?: string | null;
  /** A change seen on the first read after vpnwatch restarted: it happened between these times. */
  gap?: { from: string; to: string };
  /** notice (an alert, its resolved line, the daily digest): the text, and the text for a channel's guests. */
  text?: string;
  guestText?: string;
  /** summary: how many sessions came, went and came back while vpnwatch was stopped. */
  counts?: { connected: number; disconnected: number; reconnected: number };
}

/** Who asked for something in chat or the terminal (for the audit log and admin checks). */
export interface Actor {
  platform: 'slack' | 'discord' | 'cli';
  userId: string;
  userName: string;
  /** Discord role IDs of the member, where known. */
  roles?: string[];
}

/**
 * A kick as the admin asked for it, words as typed: the kicker decides whether it can be carried
 * out (src/kick/kicker.ts checkKickRequest) and records every attempt, usage errors included.
 */
export interface KickRequest {
  /** The user (common name, or username for UNDEF clients) whose sessions to end; '' when none was given. */
  target: string;
  /** A configured server's name (any letter case). */
  server?: string;
  /** Several sessions: 'all', or the Client ID of one; absent means "ask if more than one". */
  which?: string;
  by: Actor;
  /** Channel or terminal the request came from. */
  where?: string;
}

export interface KickedSession {
  server: string;
  session: VpnSession;
  /** The management interface accepted client-kill for it. */
  killed: boolean;
  /** A fresh read after the kill no longer lists it. */
  gone: boolean;
  error?: string;
}

export interface KickOutcome {
  /**
   * 'choose': several sessions and no `which`; nothing was done, `sessions` lists the choices.
   * 'invalid': a usage error (no name, an unknown server, a choice that is not `all` or a listed
   * Client ID); nothing was done, `message` says what to change.
   */
  result: 'kicked' | 'partial' | 'not-found' | 'failed' | 'choose' | 'invalid';
  sessions: KickedSession[];
  /** Every kicked session was confirmed gone on a fresh read. */
  verified: boolean;
  message: string;
}

/** Ends VPN sessions through the OpenVPN management interface (src/kick.ts). */
export interface Kicker {
  /** Carries out the kick, or says why it cannot; every attempt is recorded in the audit log. */
  kick(request: KickRequest): Promise<KickOutcome>;
  /** Records an attempt refused before the kicker was asked (not an admin), like any other. */
  refuse(request: KickRequest, reason: string): Promise<void>;
}

/**
 * How a server is read right now (src/management-stream.ts), for `/vpn servers` and the page:
 * - stream: the long-lived management connection is open (connects show within a second);
 * - reconnecting: stream configured but not connected (first connect included); the file poll
 *   updates the server meanwhile, and lastError says why;
 * - short: a management connection per read; lastError is the last read's failure, if it failed;
 * - file-only: no management configured.
 */
export type LiveMode = 'stream' | 'reconnecting' | 'short' | 'file-only';

export interface LiveModeInfo {
  mode: LiveMode;
  /** When the server entered this mode (ISO-8601). */
  since: string;
  lastError?: string;
  /** The last management read handed to the poller (ISO-8601). */
  lastReadAt?: string;
  /**
   * The replica that polls the server (holds its lease); null while none does (a takeover is
   * due); absent where replicas are not known.
   */
  heldBy?: string | null;
}

/**
 * How a chat platform's connection stands (src/chat/connection.ts), for /healthz, `/vpn servers`
 * and the page:
 * - connecting: the first attempt is under way;
 * - ok: connected (Slack: the token checked, and in Socket Mode the socket open; Discord: READY);
 * - retrying: a transient failure (unreachable, 5xx, rate limit, no READY in time); tried again with backoff;
 * - failing: a permanent failure (a bad token): not tried again until the configuration changes.
 */
export type ChatState = 'ok' | 'connecting' | 'retrying' | 'failing';

export interface ChatStatus {
  platform: 'slack' | 'discord';
  state: ChatState;
  /** When it entered this state (ISO-8601). */
  since: string;
  /** The failure behind retrying or failing; null otherwise. */
  error: string | null;
  /**
   * With replicas, for a connection only one may keep (the Discord gateway, Slack's Socket Mode):
   * the replica that keeps it (the status is as that one published it); null while none does.
   */
  heldBy?: string | null;
}

// ---- identity -----------------------------------------------------------------------------------

/**
 * Who a session is: a common name at a real address and port. Clients listed without a port
 * (OpenVPN 2.4.0-2.4.6 v4-mapped, IPv6 before 2.7) can share a common name behind one address
 * (duplicate-cn), so for them when they connected is part of the key: every source carries it (v1
 * as text in the server's zone, v2/v3 and `status 3` as time_t) and it is fixed for the instance's
 * life. Without `connectedAt` (a `>LOG:` line names only CN/address) no port-less session matches.
 */
export function sessionKey(s: Pick<VpnSession, 'commonName' | 'realAddress' | 'realPort'> & { connectedAt?: string }): string {
  if (s.realPort === null && s.connectedAt !== undefined) return `${s.commonName}\n${s.realAddress}\n\n${s.connectedAt}`;
  return `${s.commonName}\n${s.realAddress}\n${s.realPort ?? ''}`;
}

/**
 * Who a session belongs to: its common name, or its username where OpenVPN has no common name
 * (`verify-client-cert none` without `username-as-common-name` lists every client as UNDEF).
 */
export function userName(s: Pick<VpnSession, 'commonName' | 'username'>): string {
  return s.commonName === 'UNDEF' && s.username ? s.username : s.commonName;
}

/** Listed with a pool address (IPv4, IPv6 or, for TAP bridges, a MAC): the client is really in. */
export function isOnline(s: VpnSession): boolean {
  return s.virtualAddress !== null || s.virtualIpv6 !== null;
}

// ---- health -------------------------------------------------------------------------------------

/**
 * How the last read of a server (or of one of its sources) went: ok, or why it was not used
 * (future: its time is ahead of vpnwatch's clock); 'never' before the first.
 */
export type ReadResult = 'ok' | 'error' | 'incomplete' | 'stale' | 'future' | 'never';

/** Where a read comes from: the status file over SFTP, or `status 3` over the management interface. */
export type SourceName = 'status-file' | 'management';

/** The state of one source of a server, kept whatever the server's own health. */
export interface SourceState {
  result: ReadResult;
  /** Why the last read was not ok (for the admin), or null. */
  error: string | null;
  /** When this result began (the first read that gave it). */
  since: Date | null;
  lastReadAt: Date | null;
  lastGoodAt: Date | null;
}

/** What the health rule looks at (the store's server record has these fields). */
export interface ServerHealthInput {
  lastResult: ReadResult;
  down: boolean;
  consecutiveFailures: number;
}

/**
 * ok: the last read was good. failing: the last read(s) could not be used, fewer than
 * SERVER_DOWN_AFTER in a row. down: that many in a row (a server-down event was sent). never: not
 * read yet (or not known to the store at all).
 */
export type HealthState = 'ok' | 'failing' | 'down' | 'never';

export interface ServerHealth {
  state: HealthState;
  /** Only `ok` is healthy: the online list is current. Otherwise it is the last good read's. */
  healthy: boolean;
  /** For a table cell: `ok`, `failing (stale, 2 in a row)`, `down`, `never read`. */
  label: string;
}

/** The one health rule, for the page, the API, /healthz, /metrics and the commands. */
export function serverHealth(s: ServerHealthInput | undefined): ServerHealth {
  if (!s || s.lastResult === 'never') return { state: 'never', healthy: false, label: 'never read' };
  if (s.down) return { state: 'down', healthy: false, label: 'down' };
  if (s.lastResult !== 'ok') return { state: 'failing', healthy: false, label: `failing (${s.lastResult}, ${s.consecutiveFailures} in a row)` };
  return { state: 'ok', healthy: true, label: 'ok' };
}

/** A source of a server that needs an operator: what it says and since when. */
export interface SourceProblem {
  source: SourceName;
  result: ReadResult | 'reconnecting';
  error: string;
  since: Date | null;
}

/**
 * The sources of a server that are not being read: the status file's last read was not ok (even
 * when the management stream keeps the server current), or the management stream is reconnecting.
 */
export function sourceProblems(sources: Partial<Record<SourceName, SourceState>>, mode?: LiveModeInfo): SourceProblem[] {
  const problems: SourceProblem[] = [];
  for (const source of ['status-file', 'management'] as const) {
    const s = sources[source];
    if (s && s.result !== 'ok' && s.result !== 'never') problems.push({ source, result: s.result, error: s.error ?? s.result, since: s.since });
  }
  if (mode?.mode === 'reconnecting' && mode.lastError && !problems.some((p) => p.source === 'management')) {
    problems.push({ source: 'management', result: 'reconnecting', error: mode.lastError, since: new Date(mode.since) });
  }
  return problems;
}

/** "status file" / "management interface": a source as people name it. */
export const SOURCE_NAMES: Record<SourceName, string> = { 'status-file': 'status file', management: 'management interface' };

/** The fleet's totals: the page's cards, `/vpn stats` and `/api/status`. */
export interface Stats {
  usersOnline: number;
  activeConnections: number;
  activeServers: number;
  unhealthyServers: number;
  totalServers: number;
  /** Mean age of the online sessions, in seconds; null with nobody online. */
  averageConnectionSeconds: number | null;
}

export function fleetStats(servers: ServerHealthInput[], online: Pick<VpnSession, 'commonName' | 'username' | 'connectedAt'>[], now: Date): Stats {
  const healthy = servers.filter((s) => serverHealth(s).healthy).length;
  let ageSum = 0;
  for (const s of online) ageSum += (now.getTime() - Date.parse(s.connectedAt)) / 1000;
  return {
    usersOnline: new Set(online.map(userName)).size,
    activeConnections: online.length,
    activeServers: healthy,
    unhealthyServers: servers.length - healthy,
    totalServers: servers.length,
    averageConnectionSeconds: online.length ? Math.round(ageSum / online.length) : null,
  };
}

// ---- server lookup ------------------------------------------------------------------------------

/**
 * The configured server a typed name means: the exact name, else the one name that matches
 * ignoring letter case (`FRA-1` for `fra-1`). undefined when none matches.
 */
export function findServer<S extends { name: string }>(name: string, servers: readonly S[]): S | undefined {
  const exact = servers.find((s) => s.name === name);
  if (exact) return exact;
  const folded = servers.filter((s) => s.name.toLowerCase() === name.toLowerCase());
  return folded.length === 1 ? folded[0] : undefined;
}

/** "No server 'fra-9'. Known: fra-1, ams-1" (or that none are configured). */
export function unknownServerMessage(name: string, servers: readonly { name: string }[]): string {
  const known = servers.map((s) => s.name).join(', ');
  return known ? `No server '${name}'. Known: ${known}` : `No server '${name}': no servers are configured`;
}

// ---- privacy ------------------------------------------------------------------------------------

/**
 * Who is looking, for the one privacy rule of the page, the API and chat. Real client addresses,
 * SSH hosts and internal error texts are for the admin (the page's admin token; in chat, the
 * configured admin users and roles) or for everyone where SHOW_REAL_IPS is set.
 */
export interface Viewer {
  admin: boolean;
  /** Real IPs (and the error texts that may hold addresses) in full: the admin, or everyone with SHOW_REAL_IPS. */
  realIps: boolean;
}

/**
 * "Network-prefix masking": a client's real address keeps only its network part: an IPv4 address
 * its /24 (`203.0.113.x`), an IPv6 address its /32 (`2001:db8:…`), an IPv4-mapped IPv6 address is
 * treated as IPv4, and anything else (a hostname) becomes `hidden`. Virtual (pool) addresses are
 * internal and never masked.
 */
export function maskIp(address: string): string {
  const host = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return maskIp(mapped[1]!);
  if (isIPv4(host)) return `${host.slice(0, host.lastIndexOf('.'))}.x`;
  if (isIPv6(host)) {
    const [head = ''] = host.toLowerCase().split('::');
    const groups = head ? head.split(':') : [];
    // Groups elided by "::" are zero: "2001:db8::5" keeps 2001:db8, "::1" keeps 0:0.
    while (groups.length < 2) groups.push('0');
    return `${groups.slice(0, 2).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}:…`;
  }
  return 'hidden';
}

/** A real address as `viewer` may see it. */
export function shownIp(address: string, viewer: Viewer): string {
  return viewer.realIps ? address : maskIp(address);
}

/*
 * What a viewer other than the admin may read of a server's error. The full texts name hosts,
 * ports, paths, user names and, for a status line that cannot be read, a client's real address:
 * `fra-1 (10.0.0.5:22): connection refused; is sshd listening on port 22?`. Everyone else gets
 * the cause alone, from a fixed list (`connection refused`), never a piece of the text itself, so
 * no future message can leak through a pattern that did not foresee it.
 */

/** Patterns of the texts src/ssh.ts, src/poll/read-servers.ts and src/openvpn/ produce, first match wins. */
const CAUSES: [RegExp, string][] = [
  [/host key|hostKey/, 'SSH host key not accepted'],
  [/authentication failed|cannot (read|use) (privateKeyPath|the private key)|no privateKeyPath or password/, 'SSH sign-in failed'],
  // The SSH server's tunnel to the management interface failed: the interface, not SSH, is down.
  [/could not open .* for us/, 'management interface unavailable'],
  [/connection refused|ECONNREFUSED/i, 'connection refused'],
  [/ENOTFOUND|EAI_AGAIN|getaddrinfo/, 'host name not found'],
  [/cannot reach the host|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL/, 'host unreachable'],
  [/timed out|timeout|no answer within|took longer than|no SSH session within|no SSH handshake in time|stopped answering keepalives|did not answer|sent no greeting/i, 'timed out'],
  [/refused the password|asks for a password|management password/, 'management password refused'],
  [/management interface|management connection|management session/, 'management interface unavailable'],
  [/no such file/, 'status file not found'],
  [/permission denied/i, 'permission denied reading the status file'],
  [/refused an SFTP session/, 'SFTP not available'],
  [/-byte limit/, 'status file too large'],
  [/status file is stale|management status is stale/, 'status file is stale'],
  [/ahead of vpnwatch's clock/, 'status time is in the future (check the server\'s timezone and clock)'],
  [/no END line/, 'status file incomplete (no END line)'],
  [/line \d+:|not a server status file|status text is empty|CLIENT LIST|header/, 'status file could not be read'],
  [/connection dropped|closed the connection|connection was closed|closed by|ECONNRESET|EPIPE|SSH error|handshake failed/, 'connection dropped'],
];

/** The cause of a server error, without hosts, ports, paths or addresses. */
export function publicCause(error: string): string {
  for (const [pattern, cause] of CAUSES) if (pattern.test(error)) return cause;
  return 'read failed (the admin sees the details)';
}

/** An error as this viewer may read it: whole for the admin, the cause for everyone else. */
export function shownError(error: string | null, viewer: { admin: boolean }): string | null {
  return error === null || viewer.admin ? error : publicCause(error);
}
