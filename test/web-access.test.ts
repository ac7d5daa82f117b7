// Who may look, and signing in: PAGE_ACCESS=public|viewers on every route, viewer and admin tokens,
// an authenticating proxy's user header (only from TRUST_PROXY), sign-ins kept in MongoDB (two
// apps on one store stand for two vpnwatch processes behind a load balancer), sign-out, expiry,
// the constant-time compare, the rate limit on wrong tokens, Origin checks and Secure cookies.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig, parseTrustProxy } from '../src/config.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Store } from '../src/store/store.ts';
import { clientNetwork, FAILURE_LIMIT, SIGN_IN_SECONDS } from '../src/web/auth.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen, type Listening } from './support/browser.ts';
import { goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const METRICS = 'metrics-token-0123456789abcdef';
const NOW = new Date('2026-11-28T10:03:00.000Z');

let store: Store;
let tmp: string;
/** The clock every app below reads: tests move it. */
let clock = NOW;
/** PAGE_ACCESS=viewers, two processes behind one load balancer (A and B share the store). */
let a: Listening;
let b: Listening;
/** PAGE_ACCESS=public, with a METRICS_TOKEN. */
let open: Listening;
/** PAGE_ACCESS=viewers, trusting only a proxy at 10.9.9.9: requests from this machine are not from it. */
let distrustful: Listening;

const env = { VPNWATCH_ADMIN_TOKEN: ADMIN, VPNWATCH_VIEWER_TOKEN: VIEWER, METRICS_TOKEN: METRICS, TRUST_PROXY: 'loopback', AUTH_PROXY_HEADER: 'X-Forwarded-User', PAGE_ACCESS: 'viewers' };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-access-'));
  store = await openTestStore();
  const poller = await testPoller(store, ['fra-1']);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 10), vpnSession('bob', 11)])]);
  const app = (vars: Record<string, string>) => listen(createWebApp({ store, config: loadConfig(vars, tmp), metrics: createMetrics(), live: new LiveFeed(), now: () => clock }));
  [a, b, open, distrustful] = await Promise.all([
    app(env), app(env),
    app({ VPNWATCH_ADMIN_TOKEN: ADMIN, VPNWATCH_VIEWER_TOKEN: VIEWER, METRICS_TOKEN: METRICS, PAGE_ACCESS: 'public' }),
    app({ ...env, TRUST_PROXY: '10.9.9.9' }),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), open?.close(), distrustful?.close()]);
  if (store) await dropTestStore(store);
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(() => {
  clock = NOW;
  vi.restoreAllMocks();
});

/** A client at its own address (X-Forwarded-For, believed from loopback with TRUST_PROXY=loopback), so rate limits do not mix. */
let nextClient = 1;
const newClient = () => `198.51.100.${nextClient++}`;

function get(url: string, headers: Record<string, string> = {}, client = newClient()) {
  return fetch(url, { headers: { 'x-forwarded-for': client, ...headers }, redirect: 'manual' });
}

async function signIn(app: Listening, token: string, opts: { client?: string; origin?: string | null; next?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': opts.client ?? newClient(), ...opts.headers };
  if (opts.origin !== null) headers.origin = opts.origin ?? app.url;
  return fetch(`${app.url}/login`, { method: 'POST', redirect: 'manual', headers, body: new URLSearchParams({ token, ...(opts.next ? { next: opts.next } : {}) }).toString() });
}

const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A status, for the stream too (it never ends: read the status, then hang up). */
async function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { 'x-forwarded-for': newClient(), ...headers }, redirect: 'manual', signal: abort.signal });
  abort.abort();
  return res.status;
}

describe('configuration', () => {
  const problems = (vars: Record<string, string>, files: Record<string, string> = {}) => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cfg-'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(cwd, name), text);
    try {
      loadConfig(vars, cwd);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('tokens must be at least 16 characters, without spaces, and the viewer token is not the admin token', () => {
    expect(problems({ VPNWATCH_ADMIN_TOKEN: 'x' })).toEqual(['environment: VPNWATCH_ADMIN_TOKEN: must be at least 16 characters (make one with: openssl rand -hex 24)']);
    expect(problems({ VPNWATCH_ADMIN_TOKEN: '0123456789abcde' })).toHaveLength(1);
    expect(problems({ VPNWATCH_ADMIN_TOKEN: '0123456789abcdef' })).toEqual([]);
    expect(problems({ VPNWATCH_VIEWER_TOKEN: 'short', METRICS_TOKEN: 'with a space inside it' })).toEqual([
      'environment: VPNWATCH_VIEWER_TOKEN: must be at least 16 characters (make one with: openssl rand -hex 24)',
      'environment: METRICS_TOKEN: must not contain spaces (METRICS_TOKEN is sent as a bearer token)',
    ]);
    expect(problems({ VPNWATCH_ADMIN_TOKEN: ADMIN, VPNWATCH_VIEWER_TOKEN: ADMIN })).toEqual(['environment: VPNWATCH_VIEWER_TOKEN: must differ from VPNWATCH_ADMIN_TOKEN']);
  });

  it('TRUST_PROXY takes a hop count or addresses and CIDRs; never "trust everyone"; off by default', () => {
    expect(loadConfig({}, tmp).web.trustProxy).toBe(false);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('off')).toBe(false);
    expect(parseTrustProxy(' 10.0.0.2, 10.0.0.0/24 ,loopback,fd00::/8, 192.168.0.0/255.255.0.0')).toEqual(['10.0.0.2', '10.0.0.0/24', 'loopback', 'fd00::/8', '192.168.0.0/255.255.0.0']);
    expect(problems({ TRUST_PROXY: 'true' })).toEqual([expect.stringMatching(/^environment: TRUST_PROXY: true would trust every client's X-Forwarded-For/)]);
    expect(problems({ TRUST_PROXY: '10.0.0.0/33, proxy.example' })).toEqual(['environment: TRUST_PROXY: not an address, CIDR or hop count: 10.0.0.0/33, proxy.example (e.g. 10.0.0.2, 10.0.0.0/24, loopback, or 1)']);
    expect(problems({ AUTH_PROXY_HEADER: 'X-Forwarded-User', TRUST_PROXY: '1' })).toEqual([expect.stringMatching(/^environment: AUTH_PROXY_HEADER: needs TRUST_PROXY set to the authenticating proxy's addresses/)]);
  });

  it('PAGE_ACCESS: viewers by default for real servers, public for the simulated demo fleet', () => {
    const servers = 'servers:\n  - { name: a, host: h, username: u, passwordEnv: PW, insecureSkipHostKeyCheck: true }\n';
    const cwd = fs.mkdtempSync(path.join(tmp, 'cfg-'));
    fs.writeFileSync(path.join(cwd, 'servers.yml'), servers);
    expect(loadConfig({ PW: 'x' }, cwd).web.pageAccess).toBe('viewers');
    expect(loadConfig({}, tmp).web.pageAccess).toBe('public');
    expect(loadConfig({ PAGE_ACCESS: 'public', PW: 'x' }, cwd).web.pageAccess).toBe('public');
    expect(problems({ PAGE_ACCESS: 'everyone' })).toEqual(['environment: PAGE_ACCESS: must be public or viewers']);
  });
});

describe('who may look: every route in both modes', () => {
  type Who = 'anonymous' | 'viewer token' | 'viewer cookie' | 'proxy user' | 'admin token' | 'metrics token';
  const ROUTES = ['/', '/view.json', '/api/status', '/api/users/alice', '/api/events', '/api/stream', '/api/sessions.csv', '/metrics', '/healthz', '/login', '/static/status.css', '/static/clock-text.js'] as const;
  // 303: the page sends a browser to the sign-in form; 401: the API answers in JSON. With a
  // METRICS_TOKEN, /metrics takes that token (or the admin's) in both modes; without one it
  // follows PAGE_ACCESS (test/web.test.ts and test/metrics.test.ts read it anonymously).
  const PUBLIC: Record<Who, number[]> = {
    anonymous: [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'viewer token': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'viewer cookie': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'proxy user': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'admin token': [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    'metrics token': [200, 200, 200, 200, 200, 200, 401, 200, 200, 200, 200, 200],
  };
  const VIEWERS: Record<Who, number[]> = {
    anonymous: [303, 401, 401, 401, 401, 401, 401, 401, 200, 200, 200, 200],
    'viewer token': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'viewer cookie': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'proxy user': [200, 200, 200, 200, 200, 200, 401, 401, 200, 200, 200, 200],
    'admin token': [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    'metrics token': [303, 401, 401, 401, 401, 401, 401, 200, 200, 200, 200, 200],
  };

  async function headersFor(who: Who, app: Listening): Promise<Record<string, string>> {
    switch (who) {
      case 'anonymous': return {};
      case 'viewer token': return bearer(VIEWER);
      case 'viewer cookie': return { cookie: cookieOf(await signIn(app, VIEWER)) };
      case 'proxy user': return { 'x-forwarded-user': 'alice@example.com' };
      case 'admin token': return bearer(ADMIN);
      case 'metrics token': return bearer(METRICS);
    }
  }

  for (const [mode, table] of [['public', PUBLIC], ['viewers', VIEWERS]] as const) {
    it(`PAGE_ACCESS=${mode}`, async () => {
      const app = mode === 'public' ? open : a;
      const seen: Record<string, number[]> = {};
      for (const who of Object.keys(table) as Who[]) {
        // The public app has no proxy header configured: a proxy user is just anonymous there.
        const headers = await headersFor(who, app);
        seen[who] = [];
        for (const route of ROUTES) seen[who].push(await statusOf(`${app.url}${route}`, headers));
      }
      expect(seen).toEqual(table);
    });
  }

  it('viewers mode: the page sends a browser to sign in and back to where it was going', async () => {
    const res = await get(`${a.url}/?server=fra-1&q=ali`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=%2F%3Fserver%3Dfra-1%26q%3Dali');
    const form = await (await get(`${a.url}${res.headers.get('location')}`)).text();
    expect(form).toContain('This status page is private.');
    expect(form).toContain('<input type="hidden" name="next" value="/?server=fra-1&amp;q=ali">');
    const signedIn = await signIn(a, VIEWER, { next: '/?server=fra-1&q=ali' });
    expect([signedIn.status, signedIn.headers.get('location')]).toEqual([303, '/?server=fra-1&q=ali']);
    // Never somewhere else.
    expect((await signIn(a, VIEWER, { next: '//evil.example/' })).headers.get('location')).toBe('/');
    expect((await signIn(a, VIEWER, { next: 'https://evil.example/' })).headers.get('location')).toBe('/');
    const api = await get(`${a.url}/api/status`);
    expect(await api.json()).toEqual({ error: 'This status page is private: sign in at /login, or send "Authorization: Bearer <VPNWATCH_VIEWER_TOKEN>".' });
    expect(api.headers.get('www-authenticate')).toBe('Bearer realm="vpnwatch"');
  });

  it('viewers see what the public sees (masked, no history), the admin more; a proxy user is named on the page', async () => {
    const viewer = await (await get(`${a.url}/api/status`, bearer(VIEWER))).json();
    expect(viewer.sessions.map((s: any) => s.realAddress)).toEqual(['203.0.113.x', '203.0.113.x']);
    expect(await (await get(`${a.url}/api/users/alice`, bearer(VIEWER))).json()).not.toHaveProperty('recent');
    expect((await (await get(`${a.url}/api/users/alice`, bearer(ADMIN))).json()).recent).toHaveLength(1);
    const page = await (await get(`${a.url}/`, { 'x-forwarded-user': 'alice@example.com' })).text();
    expect(page).toContain('Signed in as alice@example.com · real IPs are masked');
    expect(page).toContain('<a href="/login">Admin sign in</a>');
  });

  it('the proxy header counts only from a TRUST_PROXY address: from anywhere else it is ignored', async () => {
    expect(await statusOf(`${distrustful.url}/api/status`, { 'x-forwarded-user': 'mallory' })).toBe(401);
    expect(await statusOf(`${distrustful.url}/api/status`, bearer(VIEWER))).toBe(200);
  });

  it('with no way to sign in configured, the private page says how to open it', async () => {
    const bare = await listen(createWebApp({ store, config: loadConfig({ PAGE_ACCESS: 'viewers' }, tmp), metrics: createMetrics(), live: new LiveFeed() }));
    try {
      const form = await (await get(`${bare.url}/login`)).text();
      expect(form).toContain('no way to sign in is set up on this server. Set <code>VPNWATCH_VIEWER_TOKEN</code>');
      expect(form).not.toContain('<form');
      expect(await statusOf(`${bare.url}/api/status`, {})).toBe(401);
    } finally {
      await bare.close();
    }
  });
});

describe('sign-in sessions', () => {
  it('the form signs in with an HttpOnly SameSite=Lax cookie that holds a random value, not a token; it works on every process', async () => {
    const res = await signIn(a, VIEWER);
    expect(res.status).toBe(303);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^vpnwatch_session=[\\w-]{43}; Path=/; Max-Age=${SIGN_IN_SECONDS}; HttpOnly; SameSite=Lax$`));
    expect(setCookie).not.toContain(VIEWER);
    const cookie = cookieOf(res);
    // The store keeps the value's hash only: a copy of the database signs nobody in.
    const value = cookie.split('=')[1]!;
    expect(await store.models.WebSession.countDocuments({ _id: value })).toBe(0);
    expect(await store.models.WebSession.countDocuments({ _id: crypto.createHash('sha256').update(value).digest('base64url'), role: 'viewer', revokedAt: null })).toBe(1);
    expect((await get(`${a.url}/api/status`, { cookie })).status).toBe(200);
    expect((await get(`${b.url}/api/status`, { cookie })).status).toBe(200);
  });

  it('signing out on one process ends the sign-in on all of them, at once', async () => {
    const cookie = cookieOf(await signIn(a, ADMIN));
    expect((await get(`${b.url}/api/sessions.csv`, { cookie })).status).toBe(200);
    const out = await fetch(`${a.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: a.url } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toBe('vpnwatch_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    // The same cookie, kept by whoever copied it, opens nothing anywhere.
    for (const app of [a, b]) {
      expect((await get(`${app.url}/api/status`, { cookie })).status).toBe(401);
      expect((await get(`${app.url}/api/sessions.csv`, { cookie })).status).toBe(401);
    }
  });

  it('a sign-in lasts 12 hours and not a second more', async () => {
    const cookie = cookieOf(await signIn(a, ADMIN));
    clock = new Date(NOW.getTime() + SIGN_IN_SECONDS * 1000 - 1000);
    expect((await get(`${a.url}/api/sessions.csv`, { cookie })).status).toBe(200);
    clock = new Date(NOW.getTime() + SIGN_IN_SECONDS * 1000 + 1000);
    expect((await get(`${a.url}/api/sessions.csv`, { cookie })).status).toBe(401);
    expect((await get(`${a.url}/`, { cookie })).status).toBe(303);
  });

  it('a forged or unknown cookie is no sign-in (and no error)', async () => {
    const cookie = cookieOf(await signIn(a, VIEWER));
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await get(`${a.url}/`, { cookie: forged })).status).toBe(303);
    expect((await get(`${open.url}/api/status`, { cookie: 'vpnwatch_session=nonsense' })).status).toBe(200);
  });

  it('every token is compared in constant time: each check goes through crypto.timingSafeEqual on equal-length digests', async () => {
    // How a test can see it: src/web/auth.ts calls timingSafeEqual through Node's crypto module
    // object, which this spy wraps. A check written as `===` (or any compare that does not go
    // through it) leaves the count at zero and fails here; what each call compares is the
    // SHA-256 of both sides, so the length of a guess tells nothing either.
    const spy = vi.spyOn(crypto, 'timingSafeEqual');
    const checks: [string, () => Promise<number>][] = [
      ['right admin bearer', async () => (await get(`${a.url}/api/sessions.csv`, bearer(ADMIN))).status],
      ['wrong bearer', async () => (await get(`${a.url}/api/status`, bearer('x'.repeat(40)))).status],
      ['viewer bearer', async () => (await get(`${a.url}/api/status`, bearer(VIEWER))).status],
      ['metrics bearer', async () => (await get(`${a.url}/metrics`, bearer(METRICS))).status],
      ['sign-in form, right', async () => (await signIn(a, VIEWER)).status],
      ['sign-in form, wrong', async () => (await signIn(a, 'not-a-token-at-all-no')).status],
    ];
    const seen: [string, number, number][] = [];
    for (const [what, check] of checks) {
      spy.mockClear();
      const status = await check();
      // Every configured token is compared, whichever matches: three here.
      seen.push([what, status, spy.mock.calls.length]);
      for (const [x, y] of spy.mock.calls) expect([(x as Buffer).length, (y as Buffer).length]).toEqual([32, 32]);
    }
    expect(seen).toEqual([
      ['right admin bearer', 200, 3], ['wrong bearer', 401, 3], ['viewer bearer', 200, 3], ['metrics bearer', 200, 3],
      ['sign-in form, right', 303, 3], ['sign-in form, wrong', 401, 3],
    ]);
  });
});

describe('wrong tokens are limited per client network, across processes', () => {
  it(`after ${FAILURE_LIMIT} wrong tokens in 15 minutes: 429 with Retry-After, for bearer tokens and the form alike, on every process`, async () => {
    const client = newClient();
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_LIMIT; i++) {
      // Half on each process: the count is in MongoDB.
      const app = i % 2 ? b : a;
      statuses.push(i < 5 ? (await get(`${app.url}/api/status`, bearer(`wrong-token-number-${i}-xxxx`), client)).status : (await signIn(app, `wrong-token-number-${i}-xxxx`, { client })).status);
    }
    expect(statuses).toEqual(Array(FAILURE_LIMIT).fill(401));
    const limited = await get(`${a.url}/api/status`, bearer(VIEWER), client);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBe(15 * 60);
    expect(await limited.json()).toEqual({ error: 'Too many wrong tokens from your address: try again in 15 min.' });
    const form = await signIn(b, VIEWER, { client });
    expect(form.status).toBe(429);
    expect(await form.text()).toContain('Too many wrong tokens from your address');
    // Requests without a token are not limited; another address is not either.
    expect((await get(`${a.url}/healthz`, {}, client)).status).toBe(200);
    expect((await get(`${a.url}/api/status`, bearer(VIEWER))).status).toBe(200);
    // A signed-in browser at that address keeps working: its cookie is no guess.
    const cookie = cookieOf(await signIn(a, VIEWER));
    expect((await get(`${a.url}/api/status`, { cookie }, client)).status).toBe(200);
    clock = new Date(NOW.getTime() + 10 * 60_000);
    expect(Number((await get(`${a.url}/api/status`, bearer(VIEWER), client)).headers.get('retry-after'))).toBe(5 * 60);
    clock = new Date(NOW.getTime() + 15 * 60_000 + 1000);
    expect((await get(`${a.url}/api/status`, bearer(VIEWER), client)).status).toBe(200);
  });

  it('an IPv6 client is counted by its /64; X-Forwarded-For counts only from TRUST_PROXY', async () => {
    expect(clientNetwork('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('::ffff:198.51.100.9')).toBe('198.51.100.9');
    for (let i = 0; i < FAILURE_LIMIT; i++) await get(`${a.url}/api/status`, bearer(`wrong-token-number-${i}-yyyy`), `2001:db8:77:1::${i + 1}`);
    expect((await get(`${a.url}/api/status`, bearer(VIEWER), '2001:db8:77:1:ffff::9')).status).toBe(429);
    expect((await get(`${a.url}/api/status`, bearer(VIEWER), '2001:db8:77:2::1')).status).toBe(200);

    // Not trusted (the distrustful app believes only 10.9.9.9): X-Forwarded-For changes nothing, so
    // a guesser cannot pose as many clients. Every request here is one client: this machine.
    for (let i = 0; i < FAILURE_LIMIT; i++) await get(`${distrustful.url}/api/status`, bearer(`wrong-token-number-${i}-zzzz`), `203.0.113.${i}`);
    expect((await get(`${distrustful.url}/api/status`, bearer(VIEWER), '203.0.113.200')).status).toBe(429);
    // This machine's count blocks every app on the store that sees it directly: clear it for the tests after.
    await store.models.WebLimit.deleteMany({ _id: '127.0.0.1' });
  });
});

describe('forms and cookies behind a proxy', () => {
  it('sign-in and sign-out take a POST only from this origin (or from no page at all)', async () => {
    expect((await signIn(a, VIEWER, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await signIn(a, VIEWER, { origin: 'null' })).status).toBe(403);
    expect((await signIn(a, VIEWER, { origin: null, headers: { referer: 'https://evil.example/page' } })).status).toBe(403);
    expect((await signIn(a, VIEWER, { origin: null })).status).toBe(303); // curl: no Origin, no Referer
    expect((await signIn(a, VIEWER, { origin: a.url })).status).toBe(303);
    // Behind a TLS proxy the page's origin is the proxy's: https and its host.
    expect((await signIn(a, VIEWER, { origin: 'https://vpn.example.com', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'vpn.example.com' } })).status).toBe(303);

    const cookie = cookieOf(await signIn(a, ADMIN));
    const forced = await fetch(`${a.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: 'https://evil.example' } });
    expect(forced.status).toBe(403);
    expect((await get(`${a.url}/api/sessions.csv`, { cookie })).status).toBe(200);
  });

  it('the cookie is Secure when the request came over TLS: directly, or through a TRUST_PROXY proxy that says so', async () => {
    const viaProxy = await signIn(a, VIEWER, { origin: 'https://vpn.example.com', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'vpn.example.com' } });
    expect(viaProxy.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    // The same header from a client that is not a trusted proxy means nothing.
    const direct = await signIn(distrustful, VIEWER, { headers: { 'x-forwarded-proto': 'https' } });
    expect(direct.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Lax$/);
  });
});

describe('live streams of a sign-in', () => {
  it('end when it signs out', async () => {
    const cookie = cookieOf(await signIn(a, VIEWER));
    const res = await fetch(`${a.url}/api/stream`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    await fetch(`${a.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: a.url } });
    let ended = false;
    for (let i = 0; i < 50 && !ended; i++) ended = (await reader.read()).done;
    expect(ended).toBe(true);
    expect((await fetch(`${a.url}/api/stream`, { headers: { cookie } })).status).toBe(401);
  });
});
