// The status page, the JSON API, the live stream, /metrics and /healthz: an express app that only
// reads. Requests share one snapshot of the store and the bodies rendered from it, per data version
// (src/web/snapshot.ts, src/web/response-cache.ts); who may see what is decided in src/web/auth.ts
// and src/web/viewer.ts.
//
// | route                          | PAGE_ACCESS=public | PAGE_ACCESS=viewers          | admin adds            |
// |--------------------------------|--------------------|------------------------------|-----------------------|
// | /static/*, /login, /logout     | open               | open                         |                       |
// | /healthz                       | open               | open                         | whole error texts     |
// | /, /view.json, /api/status,    | open               | viewer or admin sign-in      | real IPs, hosts,      |
// |   /api/users/:name, /api/events|                    | (else 401; `/` → /login)     | whole errors, history |
// |   /api/stream                  |                    |                              |                       |
// | /metrics                       | open, or METRICS_TOKEN (or admin) when that is set; else like the API     |
// | /api/sessions.csv              | admin only         | admin only                   |                       |
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.ts';
import { serverHealth, userName, type ChatStatus, type LiveModeInfo } from '../domain.ts';
import type { LiveFeed } from '../poll/live-feed.ts';
import { errorMessage, logger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { DatabaseState } from '../store/database-watch.ts';
import type { Store } from '../store/store.ts';
import { userReportOf } from '../store/queries.ts';
import type { OnlineSession } from '../store/records.ts';
import { apiEvent, apiUser, buildApiStatus } from './api-view.ts';
import { batchLoader } from './batch-loader.ts';
import { AuthError, clearSessionCookieHeader, sameOrigin, sessionCookieHeader, WebAuth, type Identity } from './auth.ts';
import { browserModule } from './browser-modules.ts';
import { REPORT_HEADER, reportRows, toCsv } from './csv.ts';
import { chatHealth, healthBody, noticesHealth, replicaHealth, serversHealth } from './health.ts';
import { configuredTargets } from '../notify/targets.ts';
import { statusView } from './page-view.ts';
import { bodyFor, etagOf, jsonBody, memo, notModified, sendBody, SnapshotCache, type Body, type CachedSnapshot, DatabaseDownError } from './response-cache.ts';
import { selectAllSessions, selectSessions } from './session-list.ts';
import { memorySignature, SnapshotReader } from './snapshot.ts';
import { StreamHub } from './stream-hub.ts';
import { historyRoutes } from './history-routes.ts';
import { useTemplates, VIEWS_DIR } from './templates.ts';
import { parseViewQuery, queryKey } from './view-query.ts';
import { viewerKind, viewerOf, type Viewer } from './viewer.ts';

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
  /** How each server is followed now (the management streams), and by which replica (heldBy). */
  modes?: () => Record<string, LiveModeInfo>;
  /**
   * This process among the replicas sharing the database: /healthz names it, and /metrics has the
   * per-server series of the servers it holds only (a Prometheus scraping every replica counts
   * each server once).
   */
  replica?: { id: string; holds: (server: string) => boolean };
  /** How each chat platform's connection stands. */
  chat?: () => ChatStatus[];
  /** Whether the database answers: while it does not, the page and API serve the last data they hold, saying so. */
  database?: () => DatabaseState;
  /** A monotonic clock in ms (default performance.now): when byte counters are read again. */
  monotonic?: () => number;
  /** Live stream limits (defaults: 200 streams, 256 KiB unsent per stream, a minute per signed-in stream). */
  streams?: { maxClients?: number; bufferLimitBytes?: number; reauthMs?: number };
}

export interface WebApp extends express.Express {
  /** Ends the live streams and their timers (call before closing the HTTP server). */
  closeStreams(): void;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on our own sign-in
  // form's POST, and the Origin check could not tell it from another site. Nothing leaves the origin.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

const EVENTS_LIMIT = 500;
const REPORT_DEFAULT_HOURS = 24;
const MAX_STREAMS = 200;
const STREAM_BUFFER_BYTES = 256 * 1024;
const STREAM_REAUTH_MS = 60_000;
/** The live stream pings at least this often, so proxies keep it open and pages know it is alive. */
const MAX_PING_MS = 15_000;

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

/** `after=`: an event's seq. undefined when absent, throws when malformed. */
function parseSeqParam(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) throw new BadRequest("after must be an event's seq (a whole number, from a previous answer)");
  return Number(value);
}

/** Resolves to `fallback` if `promise` takes longer than `ms` (a MongoDB that is gone can take 10 s to say so). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([promise.catch(() => fallback), timeout]).finally(() => clearTimeout(timer));
}

function wantsJson(req: Request): boolean {
  // The full path: under app.use('/api', ...) req.path has lost its /api.
  const path = req.baseUrl + req.path;
  return path.startsWith('/api/') || path === '/view.json' || path === '/healthz' || path === '/metrics' || req.accepts(['html', 'json']) === 'json';
}

function sendMessage(req: Request, res: Response, status: number, title: string, message: string): void {
  res.status(status).setHeader('Cache-Control', 'no-store');
  if (wantsJson(req)) res.json({ error: message });
  else res.render('message', { title, message });
}

/** A same-site path to go back to after signing in; anything else is `/`. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) && value.length < 2000 ? value : '/';
}

const shortHash = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 10);

export function createWebApp(deps: WebDeps): WebApp {
  const { store, config, metrics, live } = deps;
  const web = config.web;
  const log = deps.log ?? logger.child({ module: 'web' });
  const now = deps.now ?? (() => new Date());
  const auth = new WebAuth({ web, signIns: store.web });
  const reader = new SnapshotReader(store.queries, { modes: () => deps.modes?.() ?? {}, chat: () => deps.chat?.() ?? [], notices: () => store.outbox.health(configuredTargets(config)) }, { now, monotonic: deps.monotonic ?? (() => performance.now()) });
  const cache = new SnapshotCache(() => reader.read(), deps.snapshotMs ?? 1000, now, deps.database);
  const hub = new StreamHub({
    version: async () => (await cache.get()).snapshot.version,
    invalidate: () => cache.invalidate(),
    pingMs: Math.min(web.refreshSeconds * 1000, MAX_PING_MS),
    maxClients: deps.streams?.maxClients ?? MAX_STREAMS,
    bufferLimitBytes: deps.streams?.bufferLimitBytes ?? STREAM_BUFFER_BYTES,
    reauthMs: deps.streams?.reauthMs ?? STREAM_REAUTH_MS,
    ...(deps.modes || deps.chat ? { memory: () => memorySignature(deps.modes?.() ?? {}, deps.chat?.() ?? []) } : {}),
    metrics, log, now,
  });
  if (web.pageAccess === 'viewers' && !auth.canSignIn && !web.authProxyHeader) {
    log.warn('PAGE_ACCESS=viewers, and no way to sign in is set: nobody can see the page. Set VPNWATCH_VIEWER_TOKEN (or AUTH_PROXY_HEADER behind an authenticating proxy), or PAGE_ACCESS=public.');
  }
  // Only news the page shows drops the snapshot (byte counters alone wait for the counter refresh);
  // subscribed before any stream is told, so a page that fetches at once gets the new data.
  live.subscribe((u) => hub.publish(u));

  const app = express() as unknown as WebApp;
  app.closeStreams = () => hub.close();
  app.disable('x-powered-by');
  // Bodies are rendered once per data version and carry that version as their ETag.
  app.set('etag', false);
  app.set('trust proxy', web.trustProxy);
  const render = useTemplates(app);

  app.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  for (const router of deps.mounts ?? []) app.use(router);
  app.get('/static/:name', async (req, res, next) => {
    const module = browserModule(String(req.params.name));
    if (!module) return next();
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.send(await module);
  });
  app.use('/static', express.static(path.join(VIEWS_DIR, 'static'), { index: false, redirect: false }));

  // Who is asking, for every route below.
  app.use(async (req, res, next) => {
    try {
      const identity = await auth.identify(req, now());
      res.locals.identity = identity;
      res.locals.viewer = viewerOf(identity.role, web.showRealIps, identity.name);
      next();
    } catch (err) {
      if (!(err instanceof AuthError)) return next(err);
      if (err.status === 429) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      else res.setHeader('WWW-Authenticate', 'Bearer realm="vpnwatch", error="invalid_token"');
      sendMessage(req, res, err.status, err.status === 429 ? 'Too many attempts' : 'Not signed in', err.message);
    }
  });
  const identityOf = (res: Response): Identity => res.locals.identity as Identity;
  const viewerFor = (res: Response): Viewer => res.locals.viewer as Viewer;

  const mayView = (res: Response) => web.pageAccess === 'public' || identityOf(res).role !== 'anonymous';
  const refuse = (req: Request, res: Response, message: string) => {
    res.setHeader('WWW-Authenticate', 'Bearer realm="vpnwatch"');
    sendMessage(req, res, 401, 'Not signed in', message);
  };
  const SIGN_IN_FIRST = 'This status page is private: sign in at /login, or send "Authorization: Bearer <VPNWATCH_VIEWER_TOKEN>".';
  // PAGE_ACCESS=viewers: the page, the API and the stream need a sign-in.
  const viewersOnly = (req: Request, res: Response, next: NextFunction) => {
    if (mayView(res)) return next();
    if (req.method === 'GET' && req.path === '/' && !wantsJson(req)) {
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    }
    refuse(req, res, SIGN_IN_FIRST);
  };

  /** Sends the body for `key` of this snapshot, or 304 when the client has this version already. */
  const sendVersioned = async (req: Request, res: Response, entry: CachedSnapshot, variant: string, key: string, make: () => Promise<Body>) => {
    if (notModified(req, res, etagOf(entry, variant))) return;
    await sendBody(req, res, await bodyFor(entry, `${variant}|${key}`, make));
  };

  // ---- the page ---------------------------------------------------------------------------------

  const viewOf = (entry: CachedSnapshot, req: Request, res: Response) => {
    const viewer = viewerFor(res);
    const query = parseViewQuery(req.query, entry.snapshot.servers.map((s) => s.name));
    return { viewer, query, make: () => statusView(entry.snapshot, viewer, query, selectSessions(entry, viewer, query), web.refreshSeconds) };
  };

  app.get('/', viewersOnly, async (req, res) => {
    const entry = await cache.get();
    const v = viewOf(entry, req, res);
    const identity = identityOf(res);
    const who = { role: identity.role, name: identity.name, signedIn: identity.signIn !== null };
    // The header says who is signed in: part of what this body depends on.
    const variant = `${viewerKind(v.viewer)}.${shortHash(JSON.stringify(who))}`;
    await sendVersioned(req, res, entry, variant, `page|${queryKey(v.query)}`, async () => ({
      type: 'text/html; charset=utf-8',
      // The script's first refresh of view.json is conditional on this version.
      raw: Buffer.from(await render('status', { view: v.make(), who, etag: etagOf(entry, viewerKind(v.viewer)), signInEnabled: auth.canSignIn })),
    }));
  });

  // What the page's script fetches to refresh itself: the page's own view model, already masked.
  app.get('/view.json', viewersOnly, async (req, res) => {
    const entry = await cache.get();
    const v = viewOf(entry, req, res);
    await sendVersioned(req, res, entry, viewerKind(v.viewer), `view|${queryKey(v.query)}`, () => jsonBody(v.make));
  });

  app.get('/login', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const identity = identityOf(res);
    res.render('login', {
      enabled: auth.canSignIn, role: identity.role, signedIn: identity.signIn !== null, viewersOnly: web.pageAccess === 'viewers',
      next: safeNext(req.query.next), error: null,
    });
  });

  // Sign-in and sign-out change state: only from a page of this origin (another site's form cannot post here).
  const sameOriginOnly = (req: Request, res: Response, next: NextFunction) => {
    if (sameOrigin(req)) return next();
    log.warn({ ip: req.ip, origin: req.get('origin') ?? null, path: req.path }, 'refused a cross-origin POST');
    sendMessage(req, res, 403, 'Refused', 'This form can only be sent from the status page itself.');
  };

  app.post('/login', sameOriginOnly, express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const next = safeNext(req.body?.next);
    const page = (status: number, error: string | null) => res.status(status).render('login', {
      enabled: auth.canSignIn, role: 'anonymous', signedIn: false, viewersOnly: web.pageAccess === 'viewers', next, error,
    });
    if (!auth.canSignIn) return page(403, null);
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    try {
      const { cookieValue, role } = await auth.signIn(req, token, now());
      log.info({ ip: req.ip, role }, 'signed in');
      res.setHeader('Set-Cookie', sessionCookieHeader(cookieValue, req.secure));
      res.redirect(303, next);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      log.warn({ ip: req.ip }, err.status === 429 ? 'sign-in refused: too many wrong tokens' : 'sign-in with a wrong token');
      if (err.retryAfterSeconds) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      page(err.status, err.message);
    }
  });

  app.post('/logout', sameOriginOnly, async (req, res) => {
    const { signIn } = identityOf(res);
    if (signIn) {
      await auth.signOut(signIn, now());
      hub.closeSignIn(signIn);
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Set-Cookie', clearSessionCookieHeader(req.secure));
    res.redirect(303, '/');
  });

  // ---- the API ------------------------------------------------------------------------------------

  app.use('/api', viewersOnly);
  app.use(historyRoutes({ store, history: config.history, now }));

  app.get('/api/status', async (req, res) => {
    const entry = await cache.get();
    const viewer = viewerFor(res);
    const query = parseViewQuery(req.query, entry.snapshot.servers.map((s) => s.name));
    // Without page or per, every matching session (the API's answer before paging existed).
    await sendVersioned(req, res, entry, viewerKind(viewer), `api|${queryKey(query)}`, () => jsonBody(() =>
      buildApiStatus(entry.snapshot, viewer, query, query.paged ? selectSessions(entry, viewer, query) : selectAllSessions(entry, viewer, query))));
  });

  const loadUser = batchLoader((names: string[]) => store.queries.usersByName(names));
  app.get('/api/users/:name', async (req, res) => {
    const entry = await cache.get();
    const viewer = viewerFor(res);
    const name = String(req.params.name);
    // A user's history changes only when they come or go, which moves the version.
    if (notModified(req, res, etagOf(entry, viewerKind(viewer)))) return;
    const body = await bodyFor(entry, `user|${viewerKind(viewer)}|${name}`, async () => {
      // History (the user's latest sessions) is for the admin; everyone else needs the user's record alone.
      const history = viewer.admin ? await store.queries.userHistory(name) : await loadUser(name).then((user) => user && { user, recent: [] });
      if (!history) return { type: 'application/json; charset=utf-8', raw: Buffer.from(JSON.stringify({ error: `No user '${name}'.` })), status: 404 };
      const byUser = memo(entry, 'online-by-user', () => {
        const map = new Map<string, OnlineSession[]>();
        for (const s of entry.snapshot.online) map.set(userName(s), [...(map.get(userName(s)) ?? []), s]);
        return map;
      });
      return jsonBody(() => apiUser(userReportOf(history.user, byUser.get(name) ?? [], history.recent), viewer, entry.snapshot.at));
    });
    await sendBody(req, res, body);
  });

  // Events oldest first (in seq order), EVENTS_LIMIT at a time: `after` is the cursor (the seq of
  // the last event a client has), `since` a start time (default: the last hour, without `after`).
  app.get('/api/events', async (req, res) => {
    const after = parseSeqParam(req.query.after);
    const since = parseTimeParam(req.query.since, 'since') ?? (after === undefined ? new Date(now().getTime() - 3600_000) : null);
    const events = await store.queries.eventsAfter({ ...(after !== undefined ? { after } : {}), ...(since ? { since } : {}) }, EVENTS_LIMIT + 1);
    const page = events.slice(0, EVENTS_LIMIT);
    const last = page.at(-1)?.seq ?? after ?? null;
    const next = new URLSearchParams({ ...(since ? { since: since.toISOString() } : {}), ...(last !== null ? { after: String(last) } : {}) });
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      since: since?.toISOString() ?? null,
      after: after ?? null,
      truncated: events.length > EVENTS_LIMIT,
      // Where to ask next: for the rest when truncated, for what comes later otherwise.
      next: `/api/events?${next}`,
      events: page.map((e) => apiEvent(e, viewerFor(res))),
    });
  });

  // The connection report is history with full addresses: for the admin only.
  app.get('/api/sessions.csv', async (req, res) => {
    if (!viewerFor(res).admin) {
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

  app.get('/api/stream', (req, res) => {
    const { signIn, name } = identityOf(res);
    if (hub.open(req, res, signIn, signIn !== null || name !== null)) return;
    res.setHeader('Retry-After', '30');
    sendMessage(req, res, 503, 'Busy', `Too many live streams are open (${deps.streams?.maxClients ?? MAX_STREAMS}); the page checks for changes every ${web.refreshSeconds} s instead.`);
  });

  // ---- operations ---------------------------------------------------------------------------------

  app.get('/metrics', async (req, res, next) => {
    const identity = identityOf(res);
    if (web.metricsToken) {
      if (!identity.metrics && identity.role !== 'admin') return refuse(req, res, 'Send "Authorization: Bearer <METRICS_TOKEN>".');
    } else if (!mayView(res)) {
      return refuse(req, res, SIGN_IN_FIRST);
    }
    const gauges = [metrics.sessionsOnline, metrics.serverUp];
    const mine = (server: string) => deps.replica?.holds(server) ?? true;
    // Series this replica recorded for servers whose leases went to another replica: that one reports them now.
    for (const metric of [metrics.pollDuration, metrics.pollFailures, metrics.readsSuperseded, metrics.trafficReceived, metrics.trafficSent] as const) {
      for (const { labels } of (await metric.get()).values) {
        const { le: _bucket, ...series } = labels as Record<string, string | number>;
        if (typeof series.server === 'string' && !mine(series.server)) (metric as { remove(labels: Record<string, string | number>): void }).remove(series);
      }
    }
    try {
      const { snapshot } = await cache.get();
      for (const g of gauges) g.reset();
      for (const s of snapshot.servers.filter((x) => mine(x.name))) {
        metrics.serverUp.set({ server: s.name }, serverHealth(s).healthy ? 1 : 0);
        metrics.sessionsOnline.set({ server: s.name }, s.onlineCount);
        // A server's traffic counters exist from its first scrape, so the first increase shows in rate().
        metrics.trafficReceived.inc({ server: s.name }, 0);
        metrics.trafficSent.inc({ server: s.name }, 0);
      }
    } catch (err) {
      // The counters (poll failures, deliveries, traffic) still matter most when the store is down.
      log.warn({ err }, 'metrics: cannot read the store; serving without the per-server gauges');
      for (const g of gauges) g.reset();
    }
    try {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });

  // One rule (README "/healthz"): HTTP 503 only when this process cannot work (the database is
  // unreachable), since load balancers act on it; anything else that needs an operator makes `ok`
  // false in the body, with the sections that say why.
  app.get('/healthz', async (_req, res) => {
    const at = now();
    const mongo = await within(store.ping(), 2000, false);
    const servers = mongo ? await within(store.queries.servers(), 2000, []) : [];
    const notices = mongo ? await within(store.outbox.health(configuredTargets(config)), 2000, []) : [];
    const viewer = viewerFor(res);
    const sections = {
      ...(deps.replica ? { replica: replicaHealth(deps.replica.id) } : {}),
      // Chat is in the body only: a platform that fails for good (a bad token) needs an operator
      // (ok: false), but this process still works, so the status stays 200 for load balancers.
      ...(deps.chat ? { chat: chatHealth(deps.chat()) } : {}),
      ...serversHealth(servers, deps.modes?.() ?? {}, viewer, at),
      // Each notice channel likewise: one that fails for good is ok: false, the status stays 200.
      notices: noticesHealth(notices),
    };
    res.setHeader('Cache-Control', 'no-store');
    res.status(mongo ? 200 : 503).json(healthBody(mongo, sections));
  });

  // ---- the rest -----------------------------------------------------------------------------------

  app.use((req, res) => sendMessage(req, res, 404, 'Not found', `Nothing at ${req.path}.`));

  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err instanceof BadRequest) return sendMessage(req, res, 400, 'Bad request', err.message);
    if (err instanceof DatabaseDownError) {
      res.setHeader('Retry-After', '10');
      return sendMessage(req, res, 503, 'No data yet', err.message);
    }
    // body-parser's own client errors (too large, malformed) carry a status and a safe message.
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
      return sendMessage(req, res, status, 'Bad request', errorMessage(err));
    }
    const ref = randomBytes(3).toString('hex');
    log.error({ err, ref, method: req.method, path: req.path }, 'request failed');
    // A cached body that failed must not be sent as a version the client could keep.
    res.removeHeader('ETag');
    sendMessage(req, res, 500, 'Something went wrong', `Something went wrong (ref ${ref}).`);
  });

  return app;
}
