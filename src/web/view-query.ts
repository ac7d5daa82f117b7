// The page's query string: `?server=&sort=&dir=` (the same on `/` and `/view.json`), read leniently
// (anything unknown falls back to the default, never an error), and the URL of a view.
import type { Viewer } from './viewer.ts';

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
export function defaultDir(sort: SortKey): SortDir {
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
