// The history API: GET /api/history (aggregate: anyone), GET /api/users/:name/history and
// GET /api/top (per-user figures: the admin only, like real IPs), and a user's page, /users/:name
// (admin only). Mounted by src/web/server.ts after the middleware that says who is looking
// (res.locals.viewer).
import { Router, type Request, type Response } from 'express';
import type { HistoryConfig } from '../config.ts';
import { findServer, unknownServerMessage } from '../domain.ts';
import { formatTime } from '../format.ts';
import { DAY_MS, FLEET_SERIES, TOP_RANGES, type TopBy, type TopRange } from '../store/history.ts';
import type { Store } from '../store/store.ts';
import type { Viewer } from './viewer.ts';

/** Without ?server=, one series per server as well as the fleet's, up to this many servers. */
export const PER_SERVER_SERIES_MAX = 50;
const USER_RANGES = { '7d': 7, '30d': 30, '400d': 400 } as const;
/** The user page charts this many of their latest sessions. */
const USER_PAGE_SESSIONS = 300;

export interface HistoryRoutesDeps {
  store: Store;
  history: HistoryConfig;
  now: () => Date;
}

class BadQuery extends Error {}

/** An ISO-8601 date or date-time (UTC when it has no offset), or null when absent. */
export function parseIsoTime(value: unknown, name: string): Date | null {
  if (value === undefined || value === '') return null;
  const text = typeof value === 'string' ? value : '';
  const m = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text);
  const at = m ? new Date(text.length > 10 && !m[1] ? `${text}Z` : text) : null;
  if (!at || Number.isNaN(at.getTime())) throw new BadQuery(`${name} must be an ISO-8601 time such as 2026-11-28T09:00:00Z`);
  return at;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string, fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new BadQuery(`${name} must be one of ${allowed.join(', ')}`);
}

function adminOnly(res: Response, what: string): boolean {
  if ((res.locals.viewer as Viewer).admin) return true;
  res.setHeader('WWW-Authenticate', 'Bearer realm="vpnwatch"');
  res.status(401).json({ error: `${what} is for the admin: send "Authorization: Bearer <VPNWATCH_ADMIN_TOKEN>" or sign in at /login.` });
  return false;
}

export function historyRoutes(deps: HistoryRoutesDeps): Router {
  const { store, now } = deps;
  const router = Router();
  const handle = (fn: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      res.setHeader('Cache-Control', 'no-store');
      await fn(req, res);
    } catch (err) {
      if (!(err instanceof BadQuery)) throw err;
      res.status(400).json({ error: err.message });
    }
  };

  router.get('/api/history', handle(async (req, res) => {
    const to = parseIsoTime(req.query.to, 'to') ?? now();
    const from = parseIsoTime(req.query.from, 'from') ?? new Date(to.getTime() - DAY_MS);
    if (from >= to) throw new BadQuery('from must be before to');
    if (to.getTime() - from.getTime() > deps.history.hoursDays * DAY_MS) throw new BadQuery(`the range may be at most HISTORY_HOURS_DAYS (${deps.history.hoursDays} days)`);
    const known = (await store.queries.servers()).map((s) => s.name);
    let servers: string[];
    if (typeof req.query.server === 'string' && req.query.server !== '') {
      const name = req.query.server;
      const match = name === FLEET_SERIES ? FLEET_SERIES : findServer(name, known.map((n) => ({ name: n })))?.name;
      if (!match) return void res.status(404).json({ error: unknownServerMessage(name, known.map((n) => ({ name: n }))) });
      servers = [match];
    } else {
      servers = [FLEET_SERIES, ...(known.length <= PER_SERVER_SERIES_MAX ? known : [])];
    }
    res.json(await store.history.series(from, to, servers));
  }));

  router.get('/api/users/:name/history', handle(async (req, res) => {
    if (!adminOnly(res, "A user's history")) return;
    const range = oneOf(req.query.range, Object.keys(USER_RANGES) as (keyof typeof USER_RANGES)[], 'range', '30d');
    const user = String(req.params.name);
    res.json({ user, range, days: await store.history.userDays(user, USER_RANGES[range], now()) });
  }));

  router.get('/api/top', handle(async (req, res) => {
    if (!adminOnly(res, 'The top users list')) return;
    const range = oneOf<TopRange>(req.query.range, TOP_RANGES, 'range', '24h');
    const by = oneOf<TopBy>(req.query.by, ['bytes', 'time'], 'by', 'bytes');
    const top = await store.history.top(range, by);
    res.json({ range, by, computedAt: top.computedAt, users: top.users });
  }));

  // A user's page: their sessions over time and their days (the charts fetch the JSON above).
  router.get('/users/:name', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    if (!(res.locals.viewer as Viewer).admin) {
      return void res.status(401).render('message', { title: 'Admin only', message: "A user's history is for the admin: sign in at /login with VPNWATCH_ADMIN_TOKEN." });
    }
    const report = await store.queries.userReport(String(req.params.name), USER_PAGE_SESSIONS);
    if (!report) return void res.status(404).render('message', { title: 'Not found', message: `No user '${req.params.name}'.` });
    const sessions = [
      ...report.online.map((s) => ({ server: s.server, connectedAt: s.connectedAt, disconnectedAt: null, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent })),
      ...report.recent.filter((s) => s.disconnectedAt).map((s) => ({ server: s.server, connectedAt: s.connectedAt.toISOString(), disconnectedAt: s.disconnectedAt!.toISOString(), bytesReceived: s.bytesReceived, bytesSent: s.bytesSent })),
    ];
    const summary = report.online.length ? `online now on ${[...new Set(report.online.map((s) => s.server))].join(', ')}` : `last seen ${formatTime(report.user.lastSeen)}`;
    res.render('user', { view: { user: report.user.name, summary: `${summary} · ${report.user.sessionCount} sessions since ${formatTime(report.user.firstSeen)}`, sessions } });
  });

  return router;
}
