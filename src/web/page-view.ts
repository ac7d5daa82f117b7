// What the status page shows, computed from a store snapshot and one page of sessions: cards and
// four tables of plain-text cells. Pure: no I/O, no clock (the snapshot carries its own `at`), so
// the page, the client's refresh (view.json) and the tests all see the same thing for the same
// data. Cells that depend on the clock ("3m ago", durations) carry their moment as well, and the
// page's script works their text out every second (src/web/clock-text.ts).
import { serverHealth, SOURCE_NAMES, sourceProblems, userName, type ChatStatus, type HealthState, shownError } from '../domain.ts';
import { formatBytes, formatDuration, formatStamp, formatTime, secondsBetween } from '../format.ts';
import { clockText, type Clock } from './clock-text.ts';
import type { SessionPage } from './session-list.ts';
import type { StoreSnapshot } from './snapshot.ts';
import { defaultDir, viewUrl, type SortKey, type ViewQuery } from './view-query.ts';
import { showIp, type Viewer } from './viewer.ts';
import type { TargetHealth } from '../store/outbox.ts';
import { describeTarget } from '../notify/targets.ts';

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

/** Text that depends on the clock: `text` as of the snapshot, and what the page recomputes it from. */
export interface ClockCell {
  text: string;
  clock: Clock;
}

/** A cell is plain text (the template and the client script both show it as text, never as markup), or clock text. */
export type Cell = string | ClockCell;

/** One table row. */
export interface Row {
  /** Stable identity across refreshes, so the client patches rows in place. Never a real IP. */
  key: string;
  cells: Cell[];
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
  value: Cell;
  note?: string;
  warn?: boolean;
}

export interface PageLink {
  label: string;
  /** null: the current page, or a gap (…). */
  href: string | null;
  current?: boolean;
}

export interface Pager {
  page: number;
  pages: number;
  prev: string | null;
  next: string | null;
  links: PageLink[];
}

export interface StatusView {
  /** The data version this view was built from (the live stream announces the current one). */
  version: string;
  generatedAt: string;
  generatedText: string;
  refreshSeconds: number;
  admin: boolean;
  realIpsMasked: boolean;
  cards: CardView[];
  query: ViewQuery;
  /** The server filter's choices: every known server. */
  serverOptions: { value: string; label: string }[];
  /** `64 connections`, `Showing 2 of 64 connections`, `Showing 101–200 of 4,950 connections`. */
  sessionsNote: string;
  pager: Pager;
  /** Chat platforms that are not connected ("Slack: failing since …"), or '' when all are (or none is configured). */
  chatNote: string;
  /** Notice channels that are not delivering ("Notices to Slack C0GONE: failing since …"), or '' when all are. */
  noticesNote: string;
  /** While the database does not answer: since when, and that this is the last data vpnwatch holds; else ''. */
  databaseNote: string;
  servers: Table;
  sessions: Table;
  recent: Table;
  offline: Table;
}

const clockCell = (clock: Clock, now: Date): ClockCell => ({ text: clockText(clock, now), clock });
const count = (n: number) => n.toLocaleString('en-US');

/** Unique row keys: a repeated key (same CN, same second, v1 without Client IDs) gets `~2`, `~3`. */
function uniqueKeys(keys: string[]): string[] {
  const seen = new Map<string, number>();
  return keys.map((k) => {
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return n === 1 ? k : `${k}~${n}`;
  });
}

function sessionsTable(snapshot: StoreSnapshot, viewer: Viewer, q: ViewQuery, page: SessionPage): Table {
  const unhealthy = new Set(snapshot.servers.filter((s) => !serverHealth(s).healthy).map((s) => s.name));
  const keys = uniqueKeys(page.sessions.map((s) => (s.clientId !== null ? `${s.server}#${s.clientId}` : `${s.server}#${s.commonName}#${s.connectedAt}`)));
  const column = (label: string, sort: SortKey, extra: Partial<Column> = {}): Column => {
    const active = q.sort === sort;
    const dir = active ? (q.dir === 'asc' ? 'desc' : 'asc') : defaultDir(sort);
    return { label, ...extra, href: viewUrl({ ...q, sort, dir, page: 1 }), ...(active ? { sorted: q.dir === 'asc' ? 'ascending' : 'descending' } : {}) };
  };
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
    rows: page.sessions.map((s, i) => {
      const ip = showIp(s.realAddress, viewer)!;
      return {
        key: keys[i]!,
        cells: [
          userName(s),
          s.server,
          viewer.realIps && s.realPort !== null ? `${ip}:${s.realPort}` : ip,
          s.virtualAddress ?? s.virtualIpv6 ?? '—',
          formatTime(s.connectedAt),
          clockCell({ since: s.connectedAt }, snapshot.at),
          formatBytes(s.bytesReceived),
          formatBytes(s.bytesSent),
        ],
        ...(unhealthy.has(s.server) ? { dot: 'warn', title: `${s.server} is not answering: as of its last good read` } : { dot: 'on' }),
      };
    }),
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
      const mode = snapshot.modes[s.name];
      return {
        key: s.name,
        cells: [
          s.name,
          String(s.onlineCount),
          health.label,
          s.lastGoodAt ? clockCell({ ago: s.lastGoodAt.toISOString() }, snapshot.at) : 'never',
          // A mode's error can name hosts too: only the admin reads it whole.
          clockCell({ mode: mode ? { ...mode, ...(mode.lastError ? { lastError: shownError(mode.lastError, viewer)! } : {}) } : null, source: s.source }, snapshot.at),
          // The last read's error, and any source's (the status file may fail while the management
          // stream serves): whole for the admin, the cause for everyone else.
          [...new Set([s.lastResult !== 'ok' ? shownError(s.lastError, viewer) : null,
            ...sourceProblems(s.sources, mode).filter((p) => p.error !== s.lastError).map((p) => `${SOURCE_NAMES[p.source]}: ${shownError(p.error, viewer)}`)])]
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
        r.disconnectedAt ? clockCell({ ago: r.disconnectedAt.toISOString() }, snapshot.at) : '—',
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
      cells: [u.name, clockCell({ ago: u.lastSeen.toISOString() }, snapshot.at), u.lastServer ?? '—', showIp(u.lastIp, viewer) ?? '—', String(u.sessionCount)],
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

/** One line for the notice channels that are not delivering; their errors (the platforms' answers) for the admin only. */
function noticesNote(notices: TargetHealth[], viewer: Viewer): string {
  return notices.filter((t) => t.state !== 'ok').map((t) => describeTarget(t, { error: viewer.admin })).join('; ');
}

/** Page links: first, last, and two either side of the current one, with gaps between. */
function pagerOf(q: ViewQuery, page: SessionPage): Pager {
  const url = (n: number) => viewUrl({ ...q, page: n });
  const wanted = [...new Set([1, page.page - 2, page.page - 1, page.page, page.page + 1, page.page + 2, page.pages])]
    .filter((n) => n >= 1 && n <= page.pages).sort((a, b) => a - b);
  const links: PageLink[] = [];
  wanted.forEach((n, i) => {
    if (i > 0 && n - wanted[i - 1]! > 1) links.push({ label: '…', href: null });
    links.push(n === page.page ? { label: String(n), href: null, current: true } : { label: String(n), href: url(n) });
  });
  return {
    page: page.page, pages: page.pages, links,
    prev: page.page > 1 ? url(page.page - 1) : null,
    next: page.page < page.pages ? url(page.page + 1) : null,
  };
}

function sessionsNote(snapshot: StoreSnapshot, q: ViewQuery, page: SessionPage): string {
  const all = snapshot.online.length;
  const filtered = q.server !== null || q.q !== '';
  if (page.pages > 1) {
    const range = `${count(page.offset + 1)}–${count(page.offset + page.sessions.length)}`;
    return filtered ? `Showing ${range} of ${count(page.matched)} (of ${count(all)} connections)` : `Showing ${range} of ${count(all)} connections`;
  }
  return filtered ? `Showing ${count(page.matched)} of ${count(all)} connections` : `${count(all)} connections`;
}

/** Mean of the online sessions' start times: the average connection time is now minus this. */
function meanConnectedAt(snapshot: StoreSnapshot): string | null {
  if (!snapshot.online.length) return null;
  let sum = 0;
  for (const s of snapshot.online) sum += Date.parse(s.connectedAt);
  return new Date(Math.round(sum / snapshot.online.length)).toISOString();
}

/** The page's view model for one page of sessions. */
export function statusView(snapshot: StoreSnapshot, viewer: Viewer, q: ViewQuery, page: SessionPage, refreshSeconds: number): StatusView {
  const { stats } = snapshot;
  const mean = meanConnectedAt(snapshot);
  return {
    version: snapshot.version,
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
      { id: 'averageConnection', label: 'Average connection time', value: mean === null ? '—' : clockCell({ since: mean }, snapshot.at) },
    ],
    query: { ...q, page: page.page },
    serverOptions: snapshot.servers.map((s) => ({ value: s.name, label: `${s.name} (${s.onlineCount})` })),
    sessionsNote: sessionsNote(snapshot, q, page),
    pager: pagerOf(q, page),
    chatNote: chatNote(snapshot.chat ?? [], viewer),
    noticesNote: noticesNote(snapshot.notices ?? [], viewer),
    databaseNote: snapshot.databaseDown
      ? `The database has not answered since ${formatTime(snapshot.databaseDown.since)}: this is the last data vpnwatch holds. Polling goes on; what changes is stored and shown once it is back.`
      : '',
    servers: serversTable(snapshot, viewer),
    sessions: sessionsTable(snapshot, viewer, q, page),
    recent: recentTable(snapshot, viewer),
    offline: offlineTable(snapshot, viewer),
  };
}
