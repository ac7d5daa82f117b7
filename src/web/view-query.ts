// The connections list's query string, the same on `/`, `/view.json` and `/api/status`:
// `?server=&q=&sort=&dir=&page=&per=`, read leniently (anything unknown falls back to the default,
// never an error), and the URL of a view.

export const SORT_KEYS = ['user', 'server', 'realIp', 'virtualIp', 'since', 'duration', 'in', 'out'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';

/** Rows per page: the default, and the most one page ships (a page of 5,000 rows took ~100 ms to render). */
export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 500;
/** Longer searches are cut: nobody types more, and the search is a scan of every session. */
const MAX_SEARCH_LENGTH = 100;

export interface ViewQuery {
  /** Only this server's connections; null for all. */
  server: string | null;
  /** Text the user, common name, real or virtual IP or server must contain (case-insensitive); '' for none. */
  q: string;
  sort: SortKey;
  dir: SortDir;
  /** 1-based; a page past the end shows the last one. */
  page: number;
  per: number;
  /** Whether `page` or `per` was asked for: /api/status without them returns every session. */
  paged: boolean;
}

export const DEFAULT_QUERY: ViewQuery = { server: null, q: '', sort: 'user', dir: 'asc', page: 1, per: DEFAULT_PER_PAGE, paged: false };

const wholeNumber = (v: string | undefined): number | null => (v !== undefined && /^\d{1,7}$/.test(v) ? Number(v) : null);

/** Reads `?server=&q=&sort=&dir=&page=&per=`; anything unknown falls back to the default, never an error. */
export function parseViewQuery(raw: Record<string, unknown>, serverNames: readonly string[]): ViewQuery {
  const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const server = pick(raw.server);
  const sort = pick(raw.sort) as SortKey | undefined;
  const dir = pick(raw.dir);
  const page = wholeNumber(pick(raw.page));
  const per = wholeNumber(pick(raw.per));
  const knownSort = sort !== undefined && SORT_KEYS.includes(sort);
  return {
    server: server && serverNames.includes(server) ? server : null,
    q: (pick(raw.q) ?? '').trim().slice(0, MAX_SEARCH_LENGTH),
    sort: knownSort ? sort : DEFAULT_QUERY.sort,
    dir: dir === 'asc' || dir === 'desc' ? dir : knownSort ? defaultDir(sort) : DEFAULT_QUERY.dir,
    page: page && page > 0 ? page : 1,
    per: per && per > 0 ? Math.min(per, MAX_PER_PAGE) : DEFAULT_PER_PAGE,
    paged: page !== null || per !== null,
  };
}

/** Names sort A→Z first; amounts and durations biggest first. */
export function defaultDir(sort: SortKey): SortDir {
  return sort === 'duration' || sort === 'in' || sort === 'out' ? 'desc' : 'asc';
}

/** The query string of a view, defaults left out: '' or `?server=fra-1&sort=in&dir=desc&page=2`. */
export function viewSearch(q: ViewQuery): string {
  const params = new URLSearchParams();
  if (q.server) params.set('server', q.server);
  if (q.q) params.set('q', q.q);
  if (q.sort !== DEFAULT_QUERY.sort || q.dir !== DEFAULT_QUERY.dir) {
    params.set('sort', q.sort);
    params.set('dir', q.dir);
  }
  if (q.page !== 1) params.set('page', String(q.page));
  if (q.per !== DEFAULT_PER_PAGE) params.set('per', String(q.per));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The page's URL for a view: `/` or `/?server=fra-1&sort=in&dir=desc`. */
export function viewUrl(q: ViewQuery): string {
  return `/${viewSearch(q)}`;
}

/** A cache key for one view of one snapshot (the viewer kind is added by the caller). */
export function queryKey(q: ViewQuery): string {
  return `${q.server ?? ''}|${q.q}|${q.sort}|${q.dir}|${q.page}|${q.per}|${q.paged ? 'p' : ''}`;
}
