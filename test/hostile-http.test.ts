// Every HTTP endpoint, fed random and malformed requests (fast-check, fixed seeds): unknown,
// repeated and array parameters, huge numbers, bad dates and cursors, Unicode and control
// characters, very long values, `..` and `%00` in names and paths, odd methods, garbage
// Authorization and Cookie headers, cross-site Origins. The real app on a real store, in both page
// access modes. Every answer is a clear status below 500 (or the documented 503 of /healthz without
// a database), never a hang or a stack trace, and the app keeps serving.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createMetrics } from '../src/metrics.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen, type Listening } from './support/browser.ts';
import { goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const TOKEN = 'admin-token-0123456789';
const VIEWER = 'viewer-token-0123456789';

let store: Store;
let publicApp: Listening;
let privateApp: Listening;

beforeAll(async () => {
  store = await openTestStore();
  const poller = await testPoller(store, ['fra-1', 'ams-1']);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 1), vpnSession('<script>', 2), vpnSession('..', 3)])]);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:30.000Z', [vpnSession('alice', 1), vpnSession('..', 3)])]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-hostile-'));
  const make = (env: Record<string, string>) => listen(createWebApp({ store, config: loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN, ...env }, tmp), metrics: createMetrics(), live: new LiveFeed() }));
  publicApp = await make({ PAGE_ACCESS: 'public' });
  privateApp = await make({ PAGE_ACCESS: 'viewers', VPNWATCH_VIEWER_TOKEN: VIEWER, METRICS_TOKEN: 'metrics-token-0123456789' });
});
afterAll(async () => {
  await publicApp?.close();
  await privateApp?.close();
  await dropTestStore(store);
});

/** Characters and strings that break naive parsing, percent-encoded where a raw path would not carry them. */
const NASTY = ['', '..', '../..', '%00', '%2e%2e', '%2F', '%', '%zz', '\u0000', '\u202e', '\ud83d\ude00', '<script>', '"', "'", '\\',
  '9'.repeat(400), '-1', '0', '1e309', 'NaN', 'null', 'true', '[]', '{}', '$ne', '__proto__', 'constructor', '2026-13-45T99:99:99Z',
  '2026-11-28T10:00:00Z', 'x'.repeat(3000)];
const text = fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.integer().map(String));
const enc = (s: string) => encodeURIComponent(s).replace(/%25(?=[0-9A-Fa-f]{2})/g, () => (Math.random() < 0.5 ? '%' : '%25'));
const KEYS = ['page', 'per', 'q', 'server', 'sort', 'dir', 'since', 'after', 'from', 'to', 'name', 'next', 'range', 'by', 'x', '__proto__', 'a[]', 'sort[]', 'page[0]'];
const query = fc.array(fc.tuple(fc.constantFrom(...KEYS), text), { maxLength: 6 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${enc(v)}`).join('&')}` : ''));
const ROUTES = ['/', '/view.json', '/api/status', '/api/users/', '/api/events', '/api/sessions.csv', '/metrics', '/healthz', '/login', '/logout', '/static/', '/api/', '/nope/'];
const pathOf = fc.tuple(fc.constantFrom(...ROUTES), fc.array(text, { maxLength: 2 }), fc.boolean())
  .map(([route, segments, dots]) => route + segments.map(enc).join('/') + (dots ? '/../..' : ''));
const header = fc.oneof(fc.constant(undefined), text.map((t) => t.replace(/[^\t\x20-\x7e]/g, '?')),
  fc.constantFrom(`Bearer ${TOKEN}`, `Bearer ${VIEWER}`, 'Bearer', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'Bearer x'.repeat(500)));
const request = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
  path: pathOf,
  query,
  authorization: header,
  cookie: header,
  origin: fc.constantFrom(undefined, 'https://evil.example', 'null', 'http://127.0.0.1'),
  body: fc.oneof(fc.constant(''), text.map((t) => `token=${enc(t)}`)),
});

interface Answer { status: number; body: string }

/** Sends a request with the path as given (no normalisation of `..`), with a deadline. */
type HostileRequest = { method: string; path: string; query: string; authorization: string | undefined; cookie: string | undefined; origin: string | undefined; body: string };

function send(app: Listening, r: HostileRequest): Promise<Answer> {
  const url = new URL(app.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (r.authorization !== undefined) headers.authorization = r.authorization;
    if (r.cookie !== undefined) headers.cookie = r.cookie;
    if (r.origin !== undefined) headers.origin = r.origin;
    const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path + r.query, headers, timeout: 10_000 }, (res) => {
      // A live stream never ends: its headers are the answer.
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, body: '' });
      }
      let body = '';
      res.on('data', (d: Buffer) => { if (body.length < 200_000) body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s: ${r.method} ${r.path}${r.query}`)));
    req.on('error', reject);
    if (r.method === 'POST' || r.method === 'PUT') req.end(r.body); else req.end();
  });
}

function sane(a: Answer, what: string): void {
  expect(a.status, what).toBeGreaterThanOrEqual(200);
  expect(a.status, `${what}: ${a.body.slice(0, 300)}`).toBeLessThan(500);
  expect(a.body, what).not.toMatch(/\n\s+at [\w.<>]+ \(|node_modules|\/work\//);
}

describe('HTTP with hostile requests', () => {
  it('every route × every parameter × every hostile value, as a stranger and as the admin', async () => {
    const plain = { method: 'GET', cookie: undefined, origin: undefined, body: '' };
    let count = 0;
    for (const route of ['/', '/view.json', '/api/status', '/api/users/alice', '/api/events', '/api/sessions.csv', '/metrics', '/healthz', '/login']) {
      for (const key of KEYS) {
        for (const value of NASTY) {
          for (const authorization of [undefined, `Bearer ${TOKEN}`]) {
            const q = `?${encodeURIComponent(key)}=${encodeURIComponent(value)}&${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
            sane(await send(publicApp, { ...plain, path: route, query: q, authorization }), `GET ${route}${q}`);
            count++;
          }
        }
      }
    }
    expect(count).toBe(9 * KEYS.length * NASTY.length * 2);
  }, 300_000);

  for (const [name, seed, runs] of [['public page', 20261130, 1200], ['private page (viewers)', 20261201, 900]] as const) {
    it(`${name}: ${runs} random requests, each a clear answer below 500`, async () => {
      const app = name.startsWith('public') ? publicApp : privateApp;
      let count = 0;
      await fc.assert(fc.asyncProperty(request, async (r) => {
        count++;
        sane(await send(app, r), `${r.method} ${r.path}${r.query}`);
      }), { numRuns: runs, seed });
      expect(count).toBe(runs);
      // Still serving as before. (So many wrong tokens from one address have it rate-limited now: a
      // bearer token, even the right one, gets 429 for 15 minutes; anonymous requests are served.)
      const plain = { method: 'GET', query: '', authorization: undefined, cookie: undefined, origin: undefined, body: '' };
      expect((await send(app, { ...plain, path: '/healthz' })).status).toBe(200);
      const after = await send(app, { ...plain, path: '/api/status' });
      if (name.startsWith('public')) {
        expect(after.status).toBe(200);
        expect(JSON.parse(after.body).sessions.map((s: { user: string }) => s.user).sort()).toEqual(['..', 'alice']);
      } else {
        expect(after.status).toBe(401);
      }
      expect((await send(app, { ...plain, path: '/api/status', authorization: `Bearer ${TOKEN}` })).status).toBe(429);
    }, 300_000);
  }
});
