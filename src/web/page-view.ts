// What the status page shows, computed from a store snapshot: cards and four tables of plain-text
// cells. Pure: no I/O, no clock (the snapshot carries its own `at`), so the page, the client's
// refresh (view.json) and the tests all see the same thing for the same data. Built in steps so
// thousands of rows do not hold the event loop.
import { serverHealth, SOURCE_NAMES, sourceProblems, userName, type ChatStatus, type HealthState } from '../domain.ts';
import { describeMode, formatAgo, formatBytes, formatDuration, formatStamp, formatTime, secondsBetween } from '../format.ts';
import type { OnlineSession } from '../store/records.ts';
import { defaultDir, viewUrl, type SortKey, type ViewQuery } from './view-query.ts';
import { showIp, type StoreSnapshot, type Viewer } from './viewer.ts';

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
      column('Connected since', 'since'),
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
          s.lastGoodAt ? formatAgo(s.lastGoodAt, snapshot.at) : 'never',
          describeMode(snapshot.modes[s.name], s.source, snapshot.at),
          [s.lastResult !== 'ok' ? s.lastError : null, ...sourceProblems(s.sources, snapshot.modes[s.name]).filter((p) => p.error !== s.lastError).map((p) => `${SOURCE_NAMES[p.source]}: ${p.error}`)]
            .filter(Boolean).join(' · '),
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
        r.disconnectedAt ? formatAgo(r.disconnectedAt, snapshot.at) : '—',
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
      cells: [u.name, formatAgo(u.lastSeen, snapshot.at), u.lastServer ?? '—', showIp(u.lastIp, viewer) ?? '—', String(u.sessionCount)],
      dot: 'off',
    })),
  };
}

const CHAT_NAMES: Record<ChatStatus['platform'], string> = { slack: 'Slack', discord: 'Discord' };

/** One line for the chat platforms that are not connected; their errors (hosts, tokens' fate) for the admin only. */
function chatNote(chat: ChatStatus[], viewer: Viewer): string {
  const down = chat.filter((c) => c.state !== 'ok');
  if (!down.length) return '';
  return `Chat: ${down.map((c) => `${CHAT_NAMES[c.platform]} ${c.state} since ${formatTime(c.since)}${viewer.admin && c.error ? ` (${c.error})` : ''}`).join('; ')}`;
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
    generatedText: formatStamp(snapshot.at),
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
