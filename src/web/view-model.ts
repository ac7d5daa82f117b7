// What the status page and the JSON API show, computed from what the store returns. Pure: no I/O,
// no clock (the snapshot carries its own `at`), so the page, the client's refresh (view.json) and
// the tests all see the same thing for the same data.
//
// Privacy rule: maskIp and Viewer in src/domain.ts (one rule for the page, the API and chat).
// Unless the viewer may see real IPs, real ports are dropped with the address's host part.
import { serverHealth, shownIp, userName, type ChatStatus, type HealthState, type LiveModeInfo, type Stats, type Viewer, type VpnSession } from '../domain.ts';
import { describeMode } from '../format.ts';
import type { OnlineSession, ServerState, SessionRecord, StoredEvent, UserRecord, UserReport } from '../store/store.ts';

/** Everything the page needs from the store, read at one moment. */
export interface StoreSnapshot {
  at: Date;
  stats: Stats;
  servers: ServerState[];
  /** How each server is followed now, by name (missing: status file only). */
  modes: Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands (absent or empty: no chat). */
  chat?: ChatStatus[];
  online: OnlineSession[];
  recent: SessionRecord[];
  offline: UserRecord[];
}

// The web layer's callers import these from here.
export { maskIp, type Viewer } from '../domain.ts';

// ---- formatting ---------------------------------------------------------------------------------

const showIp = (address: string | null, viewer: Viewer): string | null => (address === null ? null : shownIp(address, viewer));

/** `45s`, `12m 5s`, `3h 12m`, `2d 4h`: two units at most, for a glance. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Decimal units, as network traffic is usually counted: `999 B`, `1.2 kB`, `523 MB`. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** `2026-11-28 09:00:12` (UTC; the page says so in its column headers). */
export function formatTime(at: Date | string): string {
  const iso = typeof at === 'string' ? at : at.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

const secondsBetween = (from: Date | string, to: Date): number => (to.getTime() - new Date(from).getTime()) / 1000;
const ago = (from: Date, now: Date): string => `${formatDuration(secondsBetween(from, now))} ago`;

/** The summary cards' numbers; the same rules as Store.stats(), from data already read. */
// ---- the page's view model ----------------------------------------------------------------------

/** A coloured badge: green online, grey offline, amber failing or stale, red down. */
export type Dot = 'on' | 'off' | 'warn' | 'bad';

export interface Column {
  label: string;
  title?: string;
  /** CSS class of every cell in the column: `num` (right-aligned), `error`. */
  cls?: string;
  /** The row's badge is drawn in this column. */
  dot?: boolean;
  /** Sortable columns: the link that sorts by them, and their current direction. */
  href?: string;
  sorted?: 'ascending' | 'descending';
}

/** One table row. Cells are plain text: the template and the client script both show them as text, never as markup. */
export interface Row {
  /** Stable identity across refreshes, so the client patches rows in place. Never a real IP. */
  key: string;
  cells: string[];
  dot?: Dot;
  title?: string;
}

/** The class attribute of one cell: its column's class, plus the row's badge in the badge column. */
export function cellClass(column: Column | undefined, row: Row): string {
  const dot = column?.dot && row.dot ? `dot ${row.dot}` : '';
  return column?.cls ? (dot ? `${column.cls} ${dot}` : column.cls) : dot;
}

export interface Table {
  columns: Column[];
  rows: Row[];
}

export interface CardView {
  id: 'usersOnline' | 'activeConnections' | 'activeServers' | 'averageConnection';
  label: string;
  value: string;
  note?: string;
  warn?: boolean;
}

export const SORT_KEYS = ['user', 'server', 'realIp', 'virtualIp', 'since', 'duration', 'in', 'out'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';

export interface ViewQuery {
  /** Only this server's connections; null for all. */
  server: string | null;
  sort: SortKey;
  dir: SortDir;
}

export const DEFAULT_QUERY: ViewQuery = { server: null, sort: 'user', dir: 'asc' };

export interface StatusView {
  generatedAt: string;
  generatedText: string;
  refreshSeconds: number;
  admin: boolean;
  realIpsMasked: boolean;
  cards: CardView[];
  query: ViewQuery;
  /** The server filter's choices: every known server. */
  serverOptions: { value: string; label: string }[];
  /** `Showing 12 of 40 connections` when filtered. */
  sessionsNote: string;
  /** Chat platforms that are not connected ("Slack: failing since …"), or '' when all are (or none is configured). */
  chatNote: string;
  servers: Table;
  sessions: Table;
  recent: Table;
  offline: Table;
}

/** Reads `?server=&sort=&dir=`; anything unknown falls back to the default, never an error. */
export function parseViewQuery(raw: Record<string, unknown>, serverNames: readonly string[]): ViewQuery {
  const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const server = pick(raw.server);
  const sort = pick(raw.sort) as SortKey | undefined;
  const dir = pick(raw.dir);
  return {
    server: server && serverNames.includes(server) ? server : null,
    sort: sort && SORT_KEYS.includes(sort) ? sort : DEFAULT_QUERY.sort,
    dir: dir === 'asc' || dir === 'desc' ? dir : sort && SORT_KEYS.includes(sort) ? defaultDir(sort) : DEFAULT_QUERY.dir,
  };
}

/** Names sort A→Z first; amounts and durations biggest first. */
function defaultDir(sort: SortKey): SortDir {
  return sort === 'duration' || sort === 'in' || sort === 'out' ? 'desc' : 'asc';
}

/** The page's URL for a view, defaults left out: `/` or `/?server=fra-1&sort=in&dir=desc`. */
export function viewUrl(q: ViewQuery): string {
  const params = new URLSearchParams();
  if (q.server) params.set('server', q.server);
  if (q.sort !== DEFAULT_QUERY.sort || q.dir !== DEFAULT_QUERY.dir) {
    params.set('sort', q.sort);
    params.set('dir', q.dir);
  }
  const text = params.toString();
  return text ? `/?${text}` : '/';
}

/** A cache key for one rendering of one view. */
export function viewKey(viewer: Viewer, q: ViewQuery): string {
  return `${viewer.admin ? 'admin' : 'anon'}|${viewer.realIps ? 'ips' : 'masked'}|${q.server ?? ''}|${q.sort}|${q.dir}`;
}

/** Rows formatted per step of statusViewSteps. */
const STEP_ROWS = 500;

// Numeric collation sorts `alice.9` before `alice.10` and `198.18.0.9` before `198.18.0.10`.
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Unique row keys: a repeated key (same CN, same second, v1 without Client IDs) gets `~2`, `~3`. */
function uniqueKeys(keys: string[]): string[] {
  const seen = new Map<string, number>();
  return keys.map((k) => {
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return n === 1 ? k : `${k}~${n}`;
  });
}

function* sessionsTable(snapshot: StoreSnapshot, viewer: Viewer, q: ViewQuery): Generator<void, Table> {
  const now = snapshot.at;
  const unhealthy = new Set(snapshot.servers.filter((s) => !serverHealth(s).healthy).map((s) => s.name));
  const chosen = q.server ? snapshot.online.filter((s) => s.server === q.server) : snapshot.online;
  const items: { s: OnlineSession; user: string; ip: string; since: number }[] = [];
  for (const s of chosen) {
    items.push({ s, user: userName(s), ip: showIp(s.realAddress, viewer)!, since: Date.parse(s.connectedAt) });
    if (items.length % STEP_ROWS === 0) yield;
  }
  const compare: Record<SortKey, (a: (typeof items)[number], b: (typeof items)[number]) => number> = {
    user: (a, b) => collator.compare(a.user, b.user),
    server: (a, b) => collator.compare(a.s.server, b.s.server),
    realIp: (a, b) => collator.compare(a.ip, b.ip),
    virtualIp: (a, b) => collator.compare(a.s.virtualAddress ?? a.s.virtualIpv6 ?? '', b.s.virtualAddress ?? b.s.virtualIpv6 ?? ''),
    since: (a, b) => a.since - b.since,
    duration: (a, b) => b.since - a.since,
    in: (a, b) => a.s.bytesReceived - b.s.bytesReceived,
    out: (a, b) => a.s.bytesSent - b.s.bytesSent,
  };
  const sign = q.dir === 'asc' ? 1 : -1;
  // Ties keep the store's order (oldest connection first), so rows do not jump between refreshes.
  items.sort((a, b) => sign * compare[q.sort](a, b));
  yield;
  const keys = uniqueKeys(items.map(({ s }) => (s.clientId !== null ? `${s.server}#${s.clientId}` : `${s.server}#${s.commonName}#${s.connectedAt}`)));

  const column = (label: string, sort: SortKey, extra: Partial<Column> = {}): Column => {
    const active = q.sort === sort;
    const dir = active ? (q.dir === 'asc' ? 'desc' : 'asc') : defaultDir(sort);
    return { label, ...extra, href: viewUrl({ ...q, sort, dir }), ...(active ? { sorted: q.dir === 'asc' ? 'ascending' : 'descending' } : {}) };
  };
  const rows: Row[] = [];
  for (let i = 0; i < items.length; i++) {
    const { s, user, ip } = items[i]!;
    rows.push({
      key: keys[i]!,
      cells: [
        user,
        s.server,
        viewer.realIps && s.realPort !== null ? `${ip}:${s.realPort}` : ip,
        s.virtualAddress ?? s.virtualIpv6 ?? '—',
        formatTime(s.connectedAt),
        formatDuration(secondsBetween(s.connectedAt, now)),
        formatBytes(s.bytesReceived),
        formatBytes(s.bytesSent),
      ],
      ...(unhealthy.has(s.server) ? { dot: 'warn', title: `${s.server} is not answering: as of its last good read` } : { dot: 'on' }),
    });
    if (i % STEP_ROWS === STEP_ROWS - 1) yield;
  }
  return {
    columns: [
      column('User', 'user', { dot: true }),
      column('Server', 'server'),
      column('Real IP', 'realIp', viewer.realIps ? {} : { title: 'Masked: sign in as admin to see full addresses' }),
      column('Virtual IP', 'virtualIp'),
      column('Connected since (UTC)', 'since'),
      column('Duration', 'duration', { cls: 'num' }),
      column('In', 'in', { cls: 'num', title: 'Bytes received from the client' }),
      column('Out', 'out', { cls: 'num', title: 'Bytes sent to the client' }),
    ],
    rows,
  };
}

/** The badge of each health state. */
const HEALTH_DOT: Record<HealthState, Dot> = { ok: 'on', never: 'off', failing: 'warn', down: 'bad' };

function serversTable(snapshot: StoreSnapshot, viewer: Viewer): Table {
  return {
    columns: [
      { label: 'Server' }, { label: 'Online', cls: 'num' }, { label: 'Health', dot: true }, { label: 'Last good read' },
      { label: 'Mode' }, { label: 'Error', cls: 'error' },
    ],
    rows: snapshot.servers.map((s) => {
      const health = serverHealth(s);
      return {
        key: s.name,
        cells: [
          s.name,
          String(s.onlineCount),
          health.label,
          s.lastGoodAt ? ago(s.lastGoodAt, snapshot.at) : 'never',
          describeMode(snapshot.modes[s.name], s.source, snapshot.at),
          s.lastError ?? '',
        ],
        dot: HEALTH_DOT[health.state],
        ...(viewer.admin && s.host ? { title: s.host } : {}),
      };
    }),
  };
}

function recentTable(snapshot: StoreSnapshot, viewer: Viewer): Table {
  return {
    columns: [
      { label: 'User', dot: true }, { label: 'Server' }, { label: 'Real IP' }, { label: 'Disconnected' },
      { label: 'Duration', cls: 'num' }, { label: 'In', cls: 'num' }, { label: 'Out', cls: 'num' }, { label: 'Ended by' },
    ],
    rows: snapshot.recent.map((r) => ({
      key: r.id,
      cells: [
        r.user,
        r.server,
        showIp(r.realAddress, viewer)!,
        r.disconnectedAt ? ago(r.disconnectedAt, snapshot.at) : '—',
        r.disconnectedAt ? formatDuration(secondsBetween(r.connectedAt, r.disconnectedAt)) : '—',
        formatBytes(r.bytesReceived),
        formatBytes(r.bytesSent),
        r.endedBy ?? '',
      ],
      dot: 'off',
    })),
  };
}

function offlineTable(snapshot: StoreSnapshot, viewer: Viewer): Table {
  return {
    columns: [{ label: 'User', dot: true }, { label: 'Last seen' }, { label: 'Last server' }, { label: 'Last real IP' }, { label: 'Sessions', cls: 'num' }],
    rows: snapshot.offline.map((u) => ({
      key: u.name,
      cells: [u.name, ago(u.lastSeen, snapshot.at), u.lastServer ?? '—', showIp(u.lastIp, viewer) ?? '—', String(u.sessionCount)],
      dot: 'off',
    })),
  };
}

const CHAT_NAMES: Record<ChatStatus['platform'], string> = { slack: 'Slack', discord: 'Discord' };

/** One line for the chat platforms that are not connected; their errors (hosts, tokens' fate) for the admin only. */
function chatNote(chat: ChatStatus[], viewer: Viewer): string {
  const down = chat.filter((c) => c.state !== 'ok');
  if (!down.length) return '';
  return `Chat: ${down.map((c) => `${CHAT_NAMES[c.platform]} ${c.state} since ${formatTime(c.since)} UTC${viewer.admin && c.error ? ` (${c.error})` : ''}`).join('; ')}`;
}

/**
 * The page's view model, built in steps: each `yield` is a point where the caller may let other
 * work run (thousands of rows take tens of milliseconds).
 */
export function* statusViewSteps(snapshot: StoreSnapshot, viewer: Viewer, q: ViewQuery, refreshSeconds: number): Generator<void, StatusView> {
  const { stats } = snapshot;
  const sessions = yield* sessionsTable(snapshot, viewer, q);
  return {
    generatedAt: snapshot.at.toISOString(),
    generatedText: `${formatTime(snapshot.at)} UTC`,
    refreshSeconds,
    admin: viewer.admin,
    realIpsMasked: !viewer.realIps,
    cards: [
      { id: 'usersOnline', label: 'Users online', value: String(stats.usersOnline) },
      { id: 'activeConnections', label: 'Active connections', value: String(stats.activeConnections) },
      {
        id: 'activeServers', label: 'Active servers', value: `${stats.activeServers} / ${stats.totalServers}`,
        note: stats.unhealthyServers ? `${stats.unhealthyServers} unhealthy` : 'all healthy', warn: stats.unhealthyServers > 0,
      },
      { id: 'averageConnection', label: 'Average connection time', value: stats.averageConnectionSeconds === null ? '—' : formatDuration(stats.averageConnectionSeconds) },
    ],
    query: q,
    serverOptions: snapshot.servers.map((s) => ({ value: s.name, label: `${s.name} (${s.onlineCount})` })),
    sessionsNote: q.server ? `Showing ${sessions.rows.length} of ${snapshot.online.length} connections` : `${sessions.rows.length} connections`,
    chatNote: chatNote(snapshot.chat ?? [], viewer),
    servers: serversTable(snapshot, viewer),
    sessions,
    recent: recentTable(snapshot, viewer),
    offline: offlineTable(snapshot, viewer),
  };
}

// ---- the JSON API -------------------------------------------------------------------------------

export interface ApiSession {
  server: string;
  user: string;
  commonName: string;
  username: string | null;
  realAddress: string;
  realPort: number | null;
  protocol: string | null;
  virtualAddress: string | null;
  virtualIpv6: string | null;
  connectedAt: string;
  connectedSeconds: number;
  bytesReceived: number;
  bytesSent: number;
  clientId: number | null;
}

export interface ApiServer {
  name: string;
  host?: string | null;
  healthy: boolean;
  lastResult: ServerState['lastResult'];
  lastPollAt: string | null;
  lastGoodAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  down: boolean;
  source: string | null;
  /** 'stream', 'reconnecting', 'short' or 'file-only' where known. */
  mode: LiveModeInfo['mode'] | null;
  onlineCount: number;
}

export interface ApiStatus {
  generatedAt: string;
  realIpsMasked: boolean;
  counts: Stats;
  servers: ApiServer[];
  sessions: ApiSession[];
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function apiSession(s: OnlineSession, viewer: Viewer, now: Date): ApiSession {
  return {
    server: s.server, user: userName(s), commonName: s.commonName, username: s.username,
    realAddress: showIp(s.realAddress, viewer)!, realPort: viewer.realIps ? s.realPort : null, protocol: s.protocol,
    virtualAddress: s.virtualAddress, virtualIpv6: s.virtualIpv6, connectedAt: s.connectedAt,
    connectedSeconds: Math.max(0, Math.floor(secondsBetween(s.connectedAt, now))),
    bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, clientId: s.clientId,
  };
}

export function apiServer(s: ServerState, viewer: Viewer, mode?: LiveModeInfo): ApiServer {
  return {
    name: s.name, ...(viewer.admin ? { host: s.host } : {}), healthy: serverHealth(s).healthy, lastResult: s.lastResult,
    lastPollAt: iso(s.lastPollAt), lastGoodAt: iso(s.lastGoodAt), lastError: s.lastError, consecutiveFailures: s.consecutiveFailures,
    down: s.down, source: s.source, mode: mode?.mode ?? null, onlineCount: s.onlineCount,
  };
}

export function buildApiStatus(snapshot: StoreSnapshot, viewer: Viewer): ApiStatus {
  return {
    generatedAt: snapshot.at.toISOString(),
    realIpsMasked: !viewer.realIps,
    counts: snapshot.stats,
    servers: snapshot.servers.map((s) => apiServer(s, viewer, snapshot.modes[s.name])),
    sessions: snapshot.online.map((s) => apiSession(s, viewer, snapshot.at)),
  };
}

export interface ApiSessionRecord {
  id: string;
  server: string;
  user: string;
  commonName: string;
  username: string | null;
  realAddress: string;
  realPort: number | null;
  virtualAddress: string | null;
  virtualIpv6: string | null;
  connectedAt: string;
  disconnectedAt: string | null;
  bytesReceived: number;
  bytesSent: number;
  endedBy: string | null;
}

export function apiSessionRecord(r: SessionRecord, viewer: Viewer): ApiSessionRecord {
  return {
    id: r.id, server: r.server, user: r.user, commonName: r.commonName, username: r.username,
    realAddress: showIp(r.realAddress, viewer)!, realPort: viewer.realIps ? r.realPort : null,
    virtualAddress: r.virtualAddress, virtualIpv6: r.virtualIpv6, connectedAt: r.connectedAt.toISOString(),
    disconnectedAt: iso(r.disconnectedAt), bytesReceived: r.bytesReceived, bytesSent: r.bytesSent, endedBy: r.endedBy,
  };
}

export interface ApiUser {
  name: string;
  online: boolean;
  firstSeen: string;
  lastSeen: string;
  lastIp: string | null;
  lastServer: string | null;
  sessionCount: number;
  totalBytesReceived: number;
  totalBytesSent: number;
  sessions: ApiSession[];
  recent: ApiSessionRecord[];
}

export function apiUser(report: UserReport, viewer: Viewer, now: Date): ApiUser {
  const u = report.user;
  return {
    name: u.name, online: report.online.length > 0, firstSeen: u.firstSeen.toISOString(), lastSeen: u.lastSeen.toISOString(),
    lastIp: showIp(u.lastIp, viewer), lastServer: u.lastServer, sessionCount: u.sessionCount,
    totalBytesReceived: report.totalBytesReceived, totalBytesSent: report.totalBytesSent,
    sessions: report.online.map((s) => apiSession(s, viewer, now)),
    recent: report.recent.map((r) => apiSessionRecord(r, viewer)),
  };
}

export interface ApiEventSession {
  user: string;
  commonName: string;
  realAddress: string;
  virtualAddress: string | null;
  connectedAt: string;
  bytesReceived: number;
  bytesSent: number;
}

export interface ApiEvent {
  id: string;
  type: StoredEvent['type'];
  server: string;
  at: string;
  user: string | null;
  session?: ApiEventSession;
  previous?: ApiEventSession;
  endedBy?: string;
  error?: string;
}

function apiEventSession(s: VpnSession, viewer: Viewer): ApiEventSession {
  return {
    user: userName(s), commonName: s.commonName, realAddress: showIp(s.realAddress, viewer)!, virtualAddress: s.virtualAddress,
    connectedAt: s.connectedAt, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent,
  };
}

/** An event without its delivery bookkeeping (the notifier's business), addresses masked. */
export function apiEvent(e: StoredEvent, viewer: Viewer): ApiEvent {
  return {
    id: e.id, type: e.type, server: e.server, at: e.at, user: e.user,
    ...(e.session ? { session: apiEventSession(e.session, viewer) } : {}),
    ...(e.previous ? { previous: apiEventSession(e.previous, viewer) } : {}),
    ...(e.endedBy ? { endedBy: e.endedBy } : {}),
    ...(e.error ? { error: e.error } : {}),
  };
}

/** The connection report's rows (admin only, so addresses in full): one per session overlapping the range. */
export function reportRows(records: SessionRecord[], now: Date): (string | number | null)[][] {
  return records.map((r) => [
    r.server, r.user, r.commonName, r.username, r.realAddress, r.realPort,
    r.virtualAddress, r.connectedAt.toISOString(), iso(r.disconnectedAt),
    Math.max(0, Math.round(secondsBetween(r.connectedAt, r.disconnectedAt ?? now))), r.bytesReceived, r.bytesSent, r.endedBy,
  ]);
}

export const REPORT_HEADER = [
  'server', 'user', 'common_name', 'username', 'real_address', 'real_port', 'virtual_address',
  'connected_at', 'disconnected_at', 'duration_seconds', 'bytes_received', 'bytes_sent', 'ended_by',
];
