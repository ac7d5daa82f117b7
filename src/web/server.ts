// The status page, the JSON API, /metrics and /healthz: an express app that only reads. Requests
// share one snapshot of the store and the bodies rendered from it (src/web/response-cache.ts).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.ts';
import { fleetStats, serverHealth, SOURCE_NAMES, sourceProblems, userName, type ChatStatus, type LiveModeInfo, type SourceName, type SourceState } from '../domain.ts';
import type { LiveFeed, LiveUpdate } from '../poll/live-feed.ts';
import { errorMessage, logger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { adminCookieHeader, clearAdminCookieHeader, createAdminAuth, InvalidTokenError, isAdminRequest } from './auth.ts';
import { REPORT_HEADER, reportRows, toCsv } from './csv.ts';
import type { OnlineSession, SessionRecord, UserRecord } from '../store/records.ts';
import { apiEvent, apiUser, buildApiStatus } from './api-view.ts';
import { statusViewSteps } from './page-view.ts';
import { bodyFor, breathe, jsonBody, sendBody, SnapshotCache, stepped, type CachedSnapshot } from './response-cache.ts';
import { historyRoutes } from './history-routes.ts';
import { useTemplates, VIEWS_DIR } from './templates.ts';
import { parseViewQuery, viewKey } from './view-query.ts';
import type { StoreSnapshot, Viewer } from './viewer.ts';

export interface WebDeps {
  store: Store;
  config: Config;
  metrics: Metrics;
  live: LiveFeed;
  /** Routers that need the raw request (Bolt's /slack/events): mounted before anything else. */
  mounts?: express.Router[];
  now?: () => Date;
  /** How long one store snapshot serves every request (default 1000 ms). */
  snapshotMs?: number;
  /** Where request failures are logged (default: the process logger, module 'web'). */
  log?: Logger;
  /** How each server is followed now (the management streams). */
  modes?: () => Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands. */
  chat?: () => ChatStatus[];
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

const SSE_HEARTBEAT_MS = 15_000;
const EVENTS_LIMIT = 500;
const REPORT_DEFAULT_HOURS = 24;

/** ISO-8601 date or date-time; a date-time without an offset is UTC. null when absent, throws when malformed. */
function parseTimeParam(value: unknown, name: string): Date | null {
  if (value === undefined || value === '') return null;
  const text = typeof value === 'string' ? value : '';
  const m = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text);
  const at = m ? new Date(text.length > 10 && !m[1] ? `${text}Z` : text) : null;
  if (!at || Number.isNaN(at.getTime())) throw new BadRequest(`${name} must be an ISO-8601 time such as 2026-11-28T09:00:00Z`);
  return at;
}

class BadRequest extends Error {}

/** Resolves to `fallback` if `promise` takes longer than `ms` (a MongoDB that is gone can take 10 s to say so). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([promise.catch(() => fallback), timeout]).finally(() => clearTimeout(timer));
}

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.path === '/view.json' || req.path === '/healthz' || req.accepts(['html', 'json']) === 'json';
}

function sendMessage(req: Request, res: Response, status: number, title: string, message: string): void {
  res.status(status).setHeader('Cache-Control', 'no-store');
  if (wantsJson(req)) res.json({ error: message });
  else res.render('message', { title, message });
}

/** Each source of a server for /healthz: its last result, why, since when, and the management mode. */
function sourceStatus(sources: Partial<Record<SourceName, SourceState>>, mode: LiveModeInfo | undefined, ageOf: (d: Date | null) => number | null) {
  const one = (s: SourceState | undefined) => (s ? { result: s.result, error: s.error, since: s.since?.toISOString() ?? null, lastGoodAgeSeconds: ageOf(s.lastGoodAt) } : null);
  const managed = (mode && mode.mode !== 'file-only') || sources.management;
  return { 'status-file': one(sources['status-file']), management: managed ? { mode: mode?.mode ?? null, ...(one(sources.management) ?? {}) } : null };
}

/** What the page's live stream says: which servers changed and who came and went; never an address. */
function streamPayload(u: LiveUpdate): unknown {
  return { at: u.at, servers: u.servers, events: u.events.map((e) => ({ type: e.type, server: e.server, user: e.session ? userName(e.session) : null })) };
}

export function createWebApp(deps: WebDeps): express.Express {
  const { store, config, metrics, live } = deps;
  const log = deps.log ?? logger.child({ module: 'web' });
  const now = deps.now ?? (() => new Date());
  const auth = createAdminAuth(config.web.adminToken);
  // Reading every online session costs tens of milliseconds of decoding at 5,000 sessions, so the
  // lists are read again only when some server's state was written since (every write of a poll
  // cycle sets its lastPollAt); the cheap server list is read every time.
  let lists: { written: string; online: OnlineSession[]; recent: SessionRecord[]; offline: UserRecord[] } | undefined;
  const cache = new SnapshotCache(async () => {
    const at = now();
    const servers = await store.queries.servers();
    const written = servers.map((s) => `${s.name}@${s.lastPollAt?.getTime()}`).join('|');
    if (lists?.written !== written) {
      const [online, recent, offline] = await Promise.all([store.queries.online(), store.queries.recent(20), store.queries.offlineUsers(50)]);
      lists = { written, online, recent, offline };
    }
    const modes = deps.modes?.() ?? {};
    const chat = deps.chat?.() ?? [];
    const snapshot: StoreSnapshot = { at, stats: fleetStats(servers, lists.online, at), servers, modes, chat, online: lists.online, recent: lists.recent, offline: lists.offline };
    return { snapshot, signature: `${written}#${JSON.stringify(modes)}#${JSON.stringify(chat)}` };
  }, deps.snapshotMs ?? 1000);
  // Subscribed before any page's stream, so the snapshot is dropped before a page is told to refetch.
  live.subscribe(() => cache.invalidate());

  const app = express();
  app.disable('x-powered-by');
  // Bodies are rendered once and sent many times; hashing megabytes per request for an ETag is not worth it.
  app.set('etag', false);
  const render = useTemplates(app);

  app.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  for (const router of deps.mounts ?? []) app.use(router);
  app.use('/static', express.static(path.join(VIEWS_DIR, 'static'), { index: false, redirect: false }));

  app.use((req, res, next) => {
    try {
      const admin = isAdminRequest(req, auth, now());
      res.locals.viewer = { admin, realIps: admin || config.web.showRealIps } satisfies Viewer;
      next();
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      res.setHeader('WWW-Authenticate', 'Bearer realm="vpnwatch", error="invalid_token"');
      sendMessage(req, res, 401, 'Not signed in', err.message);
    }
  });
  const viewerOf = (res: Response): Viewer => res.locals.viewer as Viewer;

  // ---- the page ---------------------------------------------------------------------------------

  const statusView = (entry: CachedSnapshot, req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const query = parseViewQuery(req.query, entry.snapshot.servers.map((s) => s.name));
    return { viewer, query, key: viewKey(viewer, query), make: () => stepped(statusViewSteps(entry.snapshot, viewer, query, config.web.refreshSeconds)) };
  };

  app.get('/', async (req, res) => {
    const entry = await cache.get();
    const v = statusView(entry, req, res);
    const body = await bodyFor(entry, `page|${v.key}`, async () => {
      const view = await v.make();
      await breathe();
      return { type: 'text/html; charset=utf-8', raw: Buffer.from(await render('status', { view, adminLogin: auth.enabled })) };
    });
    await sendBody(req, res, body);
  });

  // What the page's script fetches to refresh itself: the page's own view model, already masked.
  app.get('/view.json', async (req, res) => {
    const entry = await cache.get();
    const v = statusView(entry, req, res);
    await sendBody(req, res, await bodyFor(entry, `view|${v.key}`, () => jsonBody(v.make)));
  });

  app.get('/login', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.render('login', { enabled: auth.enabled, admin: viewerOf(res).admin, error: null });
  });

  app.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    if (!auth.enabled) return res.status(403).render('login', { enabled: false, admin: false, error: null });
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (!auth.isToken(token)) {
      log.warn({ ip: req.ip }, 'admin login with a wrong token');
      return res.status(401).render('login', { enabled: true, admin: false, error: 'That is not the admin token (VPNWATCH_ADMIN_TOKEN).' });
    }
    res.setHeader('Set-Cookie', adminCookieHeader(auth.cookieValue(now()), req.secure));
    res.redirect(303, '/');
  });

  app.post('/logout', (_req, res) => {
    res.setHeader('Set-Cookie', clearAdminCookieHeader());
    res.redirect(303, '/');
  });

  // ---- the API ------------------------------------------------------------------------------------

  app.use(historyRoutes({ store, history: config.history, now }));

  app.get('/api/status', async (req, res) => {
    const entry = await cache.get();
    const viewer = viewerOf(res);
    await sendBody(req, res, await bodyFor(entry, `api|${viewer.realIps}|${viewer.admin}`, () => jsonBody(() => buildApiStatus(entry.snapshot, viewer))));
  });

  app.get('/api/users/:name', async (req, res) => {
    const report = await store.queries.userReport(String(req.params.name));
    if (!report) return void res.status(404).json({ error: `No user '${req.params.name}'.` });
    res.setHeader('Cache-Control', 'no-store');
    res.json(apiUser(report, viewerOf(res), now()));
  });

  app.get('/api/events', async (req, res) => {
    const since = parseTimeParam(req.query.since, 'since') ?? new Date(now().getTime() - 3600_000);
    const events = await store.queries.eventsSince(since, EVENTS_LIMIT + 1);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      since: since.toISOString(),
      truncated: events.length > EVENTS_LIMIT,
      events: events.slice(0, EVENTS_LIMIT).map((e) => apiEvent(e, viewerOf(res))),
    });
  });

  // The connection report is history with full addresses: for the admin only.
  app.get('/api/sessions.csv', async (req, res) => {
    if (!viewerOf(res).admin) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="vpnwatch"');
      return sendMessage(req, res, 401, 'Admin only', 'The connection report is for the admin: send "Authorization: Bearer <VPNWATCH_ADMIN_TOKEN>" or sign in at /login.');
    }
    const at = now();
    const to = parseTimeParam(req.query.to, 'to') ?? at;
    const from = parseTimeParam(req.query.from, 'from') ?? new Date(to.getTime() - REPORT_DEFAULT_HOURS * 3600_000);
    if (from >= to) throw new BadRequest('from must be before to');
    const rows = await store.queries.sessionsBetween(from, to);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', 'attachment; filename="vpnwatch-sessions.csv"');
    res.send(toCsv(REPORT_HEADER, reportRows(rows, at)));
  });

  app.get('/api/stream', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n: connected\n\n');
    const unsubscribe = live.subscribe((u) => res.write(`event: update\ndata: ${JSON.stringify(streamPayload(u))}\n\n`));
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  // ---- operations ---------------------------------------------------------------------------------

  app.get('/metrics', async (_req, res) => {
    const gauges = [metrics.sessionsOnline, metrics.bytesReceived, metrics.bytesSent, metrics.serverUp];
    try {
      const { snapshot } = await cache.get();
      for (const g of gauges) g.reset();
      for (const s of snapshot.servers) {
        metrics.serverUp.set({ server: s.name }, serverHealth(s).healthy ? 1 : 0);
        metrics.sessionsOnline.set({ server: s.name }, 0);
        metrics.bytesReceived.set({ server: s.name }, 0);
        metrics.bytesSent.set({ server: s.name }, 0);
      }
      for (const o of snapshot.online) {
        metrics.sessionsOnline.inc({ server: o.server });
        metrics.bytesReceived.inc({ server: o.server }, o.bytesReceived);
        metrics.bytesSent.inc({ server: o.server }, o.bytesSent);
      }
    } catch (err) {
      // The counters (poll failures, deliveries) still matter most when the store is down.
      log.warn({ err }, 'metrics: cannot read the store; serving without the per-server gauges');
      for (const g of gauges) g.reset();
    }
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await metrics.registry.metrics());
  });

  // One rule (README "/healthz"): HTTP 503 only when this process cannot work (the database is
  // unreachable), since load balancers act on it; anything else that needs an operator makes `ok`
  // false in the body, with the sections that say why.
  app.get('/healthz', async (_req, res) => {
    const at = now();
    const mongo = await within(store.ping(), 2000, false);
    const servers = mongo ? await within(store.queries.servers(), 2000, []) : [];
    const modes = deps.modes?.() ?? {};
    const ageOf = (d: Date | null) => (d ? Math.max(0, Math.round((at.getTime() - d.getTime()) / 1000)) : null);
    const ages = servers.map((s) => ageOf(s.lastGoodAt)).filter((a): a is number => a !== null);
    // Chat is in the body only: a platform that fails for good (a bad token) needs an operator
    // (ok: false), but this process still works, so the status stays 200 for load balancers.
    const chat = deps.chat?.() ?? [];
    const body = {
      mongo,
      ...(deps.chat ? { chat: Object.fromEntries(chat.map((c) => [c.platform, { state: c.state, error: c.error, since: c.since }])) } : {}),
      lastGoodPollAgeSeconds: ages.length ? Math.min(...ages) : null,
      servers: servers.map((s) => ({
        name: s.name, healthy: serverHealth(s).healthy, lastResult: s.lastResult, lastGoodAgeSeconds: ageOf(s.lastGoodAt),
        consecutiveFailures: s.consecutiveFailures, down: s.down, error: s.lastError,
        sources: sourceStatus(s.sources, modes[s.name], ageOf),
        problems: sourceProblems(s.sources, modes[s.name]).map((p) => `${SOURCE_NAMES[p.source]}: ${p.error}`),
      })),
    };
    const ok = mongo && body.servers.every((s) => s.healthy && s.problems.length === 0) && chat.every((c) => c.state !== 'failing');
    res.setHeader('Cache-Control', 'no-store');
    res.status(mongo ? 200 : 503).json({ ok, ...body });
  });

  // ---- the rest -----------------------------------------------------------------------------------

  app.use((req, res) => sendMessage(req, res, 404, 'Not found', `Nothing at ${req.path}.`));

  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err instanceof BadRequest) return sendMessage(req, res, 400, 'Bad request', err.message);
    // body-parser's own client errors (too large, malformed) carry a status and a safe message.
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
      return sendMessage(req, res, status, 'Bad request', errorMessage(err));
    }
    const ref = randomBytes(3).toString('hex');
    log.error({ err, ref, method: req.method, path: req.path }, 'request failed');
    sendMessage(req, res, 500, 'Something went wrong', `Something went wrong (ref ${ref}).`);
  });

  return app;
}
