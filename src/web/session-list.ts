// The online sessions a view asks for: filtered by server and search text, sorted, and cut to one
// page, on the server, so a page ships at most MAX_PER_PAGE rows whatever the fleet's size. Each
// sort order is computed once per snapshot version and viewer kind (memo), and read backwards for
// the other direction; a filter is one pass over it.
import { userName } from '../domain.ts';
import type { OnlineSession } from '../store/records.ts';
import { memo, type CachedSnapshot } from './response-cache.ts';
import type { SortKey, ViewQuery } from './view-query.ts';
import { showIp, type Viewer } from './viewer.ts';

interface Indexed {
  s: OnlineSession;
  /** Sort keys (naturalKey) of the user, the server, the real IP as this viewer sees it, the virtual IP. */
  user: string;
  server: string;
  ip: string;
  virtual: string;
  since: number;
  /** What a search looks in, lower-cased: user, common name, username, server, real IP as shown, virtual IPs. */
  text: string;
}

export interface SessionPage {
  /** The rows of this page, in order. */
  sessions: OnlineSession[];
  /** Online sessions on the chosen server (all servers when none is chosen). */
  total: number;
  /** Of those, the ones the search matches: what the pages divide. */
  matched: number;
  /** 1-based, clamped to the last page. */
  page: number;
  pages: number;
  per: number;
  /** Index of the first row of this page within `matched` (0-based). */
  offset: number;
}

/**
 * A key whose plain order is natural order: case ignored, and numbers by value (`alice.9` before
 * `alice.10`, `198.18.0.9` before `198.18.0.10`). Computed once per session and snapshot: sorting
 * 5,000 names with Intl.Collator took 10-20 ms of the event loop per sort, plain comparison ~1 ms.
 */
export function naturalKey(text: string): string {
  return text.toLowerCase().replace(/\d+/g, (digits) => digits.padStart(12, '0'));
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const COMPARE: Record<SortKey, (a: Indexed, b: Indexed) => number> = {
  user: (a, b) => byKey(a.user, b.user),
  server: (a, b) => byKey(a.server, b.server),
  realIp: (a, b) => byKey(a.ip, b.ip),
  virtualIp: (a, b) => byKey(a.virtual, b.virtual),
  since: (a, b) => a.since - b.since,
  duration: (a, b) => b.since - a.since,
  in: (a, b) => a.s.bytesReceived - b.s.bytesReceived,
  out: (a, b) => a.s.bytesSent - b.s.bytesSent,
};

/**
 * The sort and search keys of each session, per kind of viewer (masked or real IPs). A session
 * record is never changed, and the snapshot keeps the records of servers whose list did not change
 * from one version to the next: their keys are made once, not again with every version.
 */
const keysOf = { masked: new WeakMap<OnlineSession, Indexed>(), real: new WeakMap<OnlineSession, Indexed>() };

function indexedSession(s: OnlineSession, viewer: Viewer): Indexed {
  const cache = viewer.realIps ? keysOf.real : keysOf.masked;
  let item = cache.get(s);
  if (!item) {
    const ip = showIp(s.realAddress, viewer)!;
    const user = userName(s);
    item = {
      s, user: naturalKey(user), server: naturalKey(s.server), ip: naturalKey(ip), virtual: naturalKey(s.virtualAddress ?? s.virtualIpv6 ?? ''),
      since: Date.parse(s.connectedAt),
      text: [user, s.commonName, s.username ?? '', s.server, ip, s.virtualAddress ?? '', s.virtualIpv6 ?? ''].join('\n').toLowerCase(),
    };
    cache.set(s, item);
  }
  return item;
}

function indexed(entry: CachedSnapshot, viewer: Viewer): Indexed[] {
  return memo(entry, `sessions|${viewer.realIps}`, () => entry.snapshot.online.map((s) => indexedSession(s, viewer)));
}

/** Ascending by `sort`; ties keep the store's order (oldest connection first), so rows do not jump between refreshes. */
function sorted(entry: CachedSnapshot, viewer: Viewer, sort: SortKey): Indexed[] {
  return memo(entry, `sorted|${viewer.realIps}|${sort}`, () => [...indexed(entry, viewer)].sort(COMPARE[sort]));
}

export function selectSessions(entry: CachedSnapshot, viewer: Viewer, q: ViewQuery): SessionPage {
  const order = sorted(entry, viewer, q.sort);
  const needle = q.q.toLowerCase();
  let total = 0;
  const matching: Indexed[] = [];
  const n = order.length;
  for (let i = 0; i < n; i++) {
    const item = order[q.dir === 'asc' ? i : n - 1 - i]!;
    if (q.server !== null && item.s.server !== q.server) continue;
    total++;
    if (needle === '' || item.text.includes(needle)) matching.push(item);
  }
  const per = q.per;
  const pages = Math.max(1, Math.ceil(matching.length / per));
  const page = Math.min(q.page, pages);
  const offset = (page - 1) * per;
  return { sessions: matching.slice(offset, offset + per).map((m) => m.s), total, matched: matching.length, page, pages, per, offset };
}

/** Every session the query matches, unpaged (what /api/status returns without page or per). */
export function selectAllSessions(entry: CachedSnapshot, viewer: Viewer, q: ViewQuery): SessionPage {
  const all = selectSessions(entry, viewer, { ...q, page: 1, per: Number.MAX_SAFE_INTEGER });
  return { ...all, per: all.matched };
}
