// The plain data that flows between the parser, the poller, the store, the commands and the page.
// Types only: no behaviour lives here, so every layer can import it without dragging in I/O.

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

/** The result of reading one server once (produced in a worker thread, so plain data only). */
export type ServerRead =
  | { server: string; ok: true; snapshot: StatusSnapshot; readAt: string; durationMs: number; source: 'status-file' | 'management' }
  | { server: string; ok: false; error: string; readAt: string; durationMs: number; source: 'status-file' | 'management' };

export type VpnEventType = 'connected' | 'disconnected' | 'reconnected' | 'server-down' | 'server-up';

/** How a session ended, as stored on the session and shown in `/vpn user`. */
export type SessionEnd = 'disconnected' | 'kicked' | 'replaced' | 'server-restarted';

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
}

/** Who asked for something in chat or the terminal (for the audit log and admin checks). */
export interface Actor {
  platform: 'slack' | 'discord' | 'cli';
  userId: string;
  userName: string;
  /** Discord role IDs of the member, where known. */
  roles?: string[];
}

export interface KickRequest {
  /** The user (common name, or username for UNDEF clients) whose sessions to end. */
  target: string;
  server?: string;
  /** Several sessions: 'all', or one Client ID to pick; absent means "ask if more than one". */
  which?: 'all' | number;
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
  /** 'choose': several sessions and no `which`; nothing was done, `sessions` lists the choices. */
  result: 'kicked' | 'partial' | 'not-found' | 'failed' | 'choose';
  sessions: KickedSession[];
  /** Every kicked session was confirmed gone on a fresh read. */
  verified: boolean;
  message: string;
}

/** Ends VPN sessions through the OpenVPN management interface (src/kick.ts). */
export interface Kicker {
  kick(request: KickRequest): Promise<KickOutcome>;
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
}
