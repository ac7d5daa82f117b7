// The status page, JSON API, CSV report, metrics and health endpoints over real HTTP, against a
// real store (MongoDB-wire server) filled by the real Poller, which also publishes on the LiveFeed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Poller } from '../src/poll/poller.ts';
import type { Store } from '../src/store/store.ts';
import { csvCell } from '../src/web/csv.ts';
import { createWebApp } from '../src/web/server.ts';
import { escapeHtml } from '../src/web/templates.ts';
import { maskIp } from '../src/domain.ts';
import { listen, type Listening } from './support/browser.ts';
import { failedRead, goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const TOKEN = 'admin-token-0123456789';
const NOW = new Date('2026-11-28T10:03:00.000Z');
const SCRIPT_CN = '<script>alert(1)</script>';
const FORMULA_CN = '=HYPERLINK("http://evil.example","x")';
const QUOTED_CN = 'O\'Brien, "Pat"';

let store: Store;
let live: LiveFeed;
let poller: Poller;
let app: Listening;
let openApp: Listening;
const logLines: string[] = [];
let tmp: string;

const alice = vpnSession('alice', 10);
const script = vpnSession(SCRIPT_CN, 11);
const bob = vpnSession('bob', 12, { realAddress: '2001:db8:5::7', realPort: null });
const formula = vpnSession(FORMULA_CN, 13);
const quoted = vpnSession(QUOTED_CN, 14);
const carol = vpnSession('carol', 20, { bytesReceived: 5_000_000, bytesSent: 7_000_000 });
const dave = vpnSession('dave', 21);

/** A mount like Bolt's receiver: it needs the raw body, and one route fails. */
function rawBodyMount(): express.Router {
  const router = express.Router();
  router.post('/slack/events', (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => res.json({ rawBytes: bytes }));
  });
  router.get('/boom', () => {
    throw new Error('database exploded at /secret/path');
  });
  return router;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-web-'));
  store = await openTestStore();
  live = new LiveFeed();
  poller = await testPoller(store, ['fra-1', 'ams-1'], live);
  await poller.apply([
    goodRead('fra-1', '2026-11-28T10:00:00.000Z', [alice, script, bob, formula, quoted]),
    goodRead('ams-1', '2026-11-28T10:00:00.000Z', [carol, dave]),
  ]);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:01:00.000Z', [alice, script, bob, formula])]);
  await poller.apply([failedRead('ams-1', '2026-11-28T10:02:00.000Z', 'connect ECONNREFUSED 192.0.2.9:22')]);

  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }));
  const config = loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN, PAGE_REFRESH: '7' }, tmp);
  const modes = () => ({ 'fra-1': { mode: 'stream' as const, since: '2026-11-28T09:00:00.000Z' } });
  app = await listen(createWebApp({ store, config, metrics: createMetrics(), live, now: () => NOW, log, mounts: [rawBodyMount()], modes }));
  const openConfig = loadConfig({ SHOW_REAL_IPS: 'true' }, tmp);
  openApp = await listen(createWebApp({ store, config: openConfig, metrics: createMetrics(), live, now: () => NOW }));
});

afterAll(async () => {
  await app?.close();
  await openApp?.close();
  await dropTestStore(store);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers, redirect: 'manual' });
const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

describe('the rules, on their own', () => {
  it('network-prefix masking: IPv4 keeps its /24, IPv6 its /32, anything else is hidden', () => {
    expect(maskIp('203.0.113.7')).toBe('203.0.113.x');
    expect(maskIp('2001:db8:5::7')).toBe('2001:db8:…');
    expect(maskIp('2001:0db8:0000:0001::1')).toBe('2001:db8:…');
    expect(maskIp('::1')).toBe('0:0:…');
    expect(maskIp('::ffff:198.51.100.4')).toBe('198.51.100.x');
    expect(maskIp('fe80::1%eth0')).toBe('fe80:0:…');
    expect(maskIp('vpn-client.example.com')).toBe('hidden');
  });

  it('CSV cells: RFC 4180 quoting, formulas neutralised, numbers left alone', () => {
    expect(['plain', 'a,b', 'say "hi"', 'two\nlines', ' padded', '=1+2', '+1', '-2+3', '@SUM(A1)', '\tx', -5, null].map(csvCell)).toEqual([
      'plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '" padded"', "'=1+2", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", '-5', '',
    ]);
  });

  it('HTML escaping covers & < > " and \'', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&#34;x&#34; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    expect([escapeHtml(undefined), escapeHtml(null), escapeHtml(42)]).toEqual(['', '', '42']);
  });
});

describe('JSON API and masking', () => {
  it('anonymous /api/status: counts, servers and sessions, real IPs masked to their network', async () => {
    const res = await get(`${app.url}/api/status`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.counts).toEqual({ usersOnline: 6, activeConnections: 6, activeServers: 1, unhealthyServers: 1, totalServers: 2, averageConnectionSeconds: 3780 });
    expect(body.realIpsMasked).toBe(true);
    expect(body.generatedAt).toBe(NOW.toISOString());
    expect(body.servers.map((s: any) => [s.name, s.healthy, s.lastResult, s.down, s.onlineCount, s.lastError, s.mode])).toEqual([
      ['ams-1', false, 'error', true, 2, 'connect ECONNREFUSED 192.0.2.9:22', null],
      ['fra-1', true, 'ok', false, 4, null, 'stream'],
    ]);
    expect(body.servers[0]).not.toHaveProperty('host');
    const byUser = Object.fromEntries(body.sessions.map((s: any) => [s.user, s]));
    expect(Object.keys(byUser).sort()).toEqual([SCRIPT_CN, FORMULA_CN, 'alice', 'bob', 'carol', 'dave'].sort());
    expect(byUser.alice).toMatchObject({ server: 'fra-1', realAddress: '203.0.113.x', realPort: null, virtualAddress: '10.8.0.10', connectedAt: '2026-11-28T09:00:00.000Z', connectedSeconds: 3780, bytesReceived: 10_000, bytesSent: 20_000, clientId: 10 });
    expect(byUser.bob.realAddress).toBe('2001:db8:…');
    // No full address anywhere in the answer.
    expect(text).not.toMatch(/203\.0\.113\.\d|2001:db8:5/);
  });

  it('the admin bearer token shows full addresses and hosts; a wrong token is a 401 with a message', async () => {
    const admin = await (await get(`${app.url}/api/status`, bearer())).json();
    expect(admin.realIpsMasked).toBe(false);
    const alice = admin.sessions.find((s: any) => s.user === 'alice');
    expect([alice.realAddress, alice.realPort]).toEqual(['203.0.113.10', 40010]);
    expect(admin.sessions.find((s: any) => s.user === 'bob').realAddress).toBe('2001:db8:5::7');
    expect(admin.servers.map((s: any) => s.host)).toEqual(['ams-1.vpn.example', 'fra-1.vpn.example']);

    const wrong = await get(`${app.url}/api/status`, bearer('nope'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await wrong.json()).toEqual({ error: 'The bearer token is not the admin token.' });
    const malformed = await get(`${app.url}/`, { authorization: 'Basic YWRtaW46YWRtaW4=' });
    expect(malformed.status).toBe(401);
    expect(await malformed.text()).toContain('The Authorization header must be &#34;Bearer &lt;VPNWATCH_ADMIN_TOKEN&gt;&#34;.');
  });

  it('browser login: the form, a wrong token (401), the right one sets an HttpOnly SameSite=Strict cookie without the token, logout', async () => {
    const form = await get(`${app.url}/login`);
    expect(form.status).toBe(200);
    expect(await form.text()).toMatch(/<form method="post" action="\/login"[^>]*>[\s\S]*name="token"/);

    const post = (token: string) => fetch(`${app.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    const wrong = await post('guess');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That is not the admin token (VPNWATCH_ADMIN_TOKEN).');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const right = await post(TOKEN);
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/');
    const setCookie = right.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^vpnwatch_admin=\d+\.[\w-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const page = await (await get(`${app.url}/`, { cookie })).text();
    expect(page).toContain('<td>203.0.113.10:40010</td>');
    expect(page).toContain('Admin view');
    const forged = await (await get(`${app.url}/`, { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).text();
    expect(forged).toContain('<td>203.0.113.x</td>');
    expect(forged).not.toContain('203.0.113.10');

    const logout = await fetch(`${app.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(logout.status).toBe(303);
    expect(logout.headers.get('set-cookie')).toBe('vpnwatch_admin=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict');
  });

  it('SHOW_REAL_IPS shows addresses to everyone; without a token there is no admin', async () => {
    const body = await (await get(`${openApp.url}/api/status`)).json();
    expect(body.realIpsMasked).toBe(false);
    expect(body.sessions.find((s: any) => s.user === 'alice').realAddress).toBe('203.0.113.10');
    expect(body.servers[0]).not.toHaveProperty('host');
    expect((await get(`${openApp.url}/api/status`, bearer())).status).toBe(401);
    expect(await (await get(`${openApp.url}/login`)).text()).toContain('Admin sign-in is off on this server');
    expect(await (await get(`${openApp.url}/`)).text()).not.toContain('href="/login"');
  });

  it('/api/users/:name reports a user, masked; an unknown user is a 404 in JSON', async () => {
    const res = await get(`${app.url}/api/users/alice`);
    expect(res.status).toBe(200);
    const alice = await res.json();
    expect(alice).toMatchObject({ name: 'alice', online: true, lastIp: '203.0.113.x', lastServer: 'fra-1', sessionCount: 1, totalBytesReceived: 10_000, totalBytesSent: 20_000 });
    expect(alice.sessions.map((s: any) => [s.server, s.realAddress])).toEqual([['fra-1', '203.0.113.x']]);
    const gone = await (await get(`${app.url}/api/users/${encodeURIComponent(QUOTED_CN)}`, bearer())).json();
    expect(gone).toMatchObject({ name: QUOTED_CN, online: false, lastIp: '203.0.113.14' });
    expect(gone.recent.map((r: any) => [r.server, r.disconnectedAt, r.endedBy])).toEqual([['fra-1', '2026-11-28T10:01:00.000Z', 'disconnected']]);

    const missing = await get(`${app.url}/api/users/nobody`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "No user 'nobody'." });
  });

  it('/api/events?since= lists events after a time, masked; a bad date is a 400', async () => {
    const res = await get(`${app.url}/api/events?since=2026-11-28T10:00:30Z`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.since).toBe('2026-11-28T10:00:30.000Z');
    expect(body.truncated).toBe(false);
    expect(body.events.map((e: any) => [e.type, e.server, e.at, e.user ?? null, e.session?.realAddress ?? null, e.error ?? null])).toEqual([
      ['disconnected', 'fra-1', '2026-11-28T10:01:00.000Z', QUOTED_CN, '203.0.113.x', null],
      ['server-down', 'ams-1', '2026-11-28T10:02:00.000Z', null, null, 'connect ECONNREFUSED 192.0.2.9:22'],
    ]);
    expect(body.events[0]).not.toHaveProperty('deliveries');
    expect((await (await get(`${app.url}/api/events?since=2026-11-28T10:00:30`)).json()).events).toHaveLength(2); // no offset: UTC

    const bad = await get(`${app.url}/api/events?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'since must be an ISO-8601 time such as 2026-11-28T09:00:00Z' });
  });
});

describe('the page', () => {
  it('shows the cards, servers, connections, recent disconnects and offline users', async () => {
    const res = await get(`${app.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    const card = (id: string) => new RegExp(`data-card="${id}">\\s*<div class="label">[^<]*</div>\\s*<div class="value">([^<]*)</div>\\s*<div class="note">([^<]*)</div>`).exec(html)?.slice(1);
    expect(card('usersOnline')).toEqual(['6', '']);
    expect(card('activeConnections')).toEqual(['6', '']);
    expect(card('activeServers')).toEqual(['1 / 2', '1 unhealthy']);
    expect(card('averageConnection')).toEqual(['1h 3m', '']);
    expect(html).toContain('<tr data-key="ams-1"><td>ams-1</td><td class="num">2</td><td class="dot bad">down</td><td>3m ago</td><td>status file</td><td class="error">connect ECONNREFUSED 192.0.2.9:22</td></tr>');
    expect(html).toContain('<tr data-key="fra-1#10"><td class="dot on">alice</td><td>fra-1</td><td>203.0.113.x</td><td>10.8.0.10</td><td>2026-11-28 09:00 UTC</td><td class="num">1h 3m</td><td class="num">10 kB</td><td class="num">20 kB</td></tr>');
    // Sessions on a server that stopped answering are shown as of its last good read, amber.
    expect(html).toContain('<tr data-key="ams-1#20" title="ams-1 is not answering: as of its last good read"><td class="dot warn">carol</td>');
    expect(html).toMatch(/<table id="recent">[\s\S]*<td class="dot off">O&#39;Brien, &#34;Pat&#34;<\/td><td>fra-1<\/td><td>203\.0\.113\.x<\/td><td>2m ago<\/td><td class="num">1h 1m<\/td>/);
    expect(html).toMatch(/<table id="offline">[\s\S]*<td class="dot off">O&#39;Brien, &#34;Pat&#34;<\/td><td>2m ago<\/td><td>fra-1<\/td><td>203\.0\.113\.x<\/td><td class="num">1<\/td>/);
    expect(html).not.toMatch(/203\.0\.113\.\d/);
  });

  it('refreshes itself: noscript meta refresh for browsers without JavaScript, external scripts for the rest', async () => {
    const html = await (await get(`${app.url}/`)).text();
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="7"></noscript>');
    expect(html).toContain('data-refresh-seconds="7"');
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script src="/static/status.js" defer>', '<script src="/static/charts.js" defer>']);
    // The history charts: SVG built with DOM calls, text through textContent.
    expect(await (await get(`${app.url}/static/charts.js`)).text()).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML/);
    expect(html).not.toMatch(/\son\w+=/); // no inline event handlers either
    const js = await get(`${app.url}/static/status.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const jsText = await js.text();
    expect(jsText).toContain("new EventSource('/api/stream')");
    expect(jsText).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML/);
    expect((await get(`${app.url}/static/status.css`)).status).toBe(200);
  });

  it('shows a <script> common name as text', async () => {
    const html = await (await get(`${app.url}/`)).text();
    expect(html).toContain('<td class="dot on">&lt;script&gt;alert(1)&lt;/script&gt;</td>');
    expect(html).not.toContain(SCRIPT_CN);
    expect(html).toContain('data-key="fra-1#11"');
    const view = await (await get(`${app.url}/view.json`)).json();
    expect(view.sessions.rows.find((r: any) => r.key === 'fra-1#11').cells[0]).toBe(SCRIPT_CN); // JSON carries text; the script sets it with textContent
  });

  it('filters by server and sorts from the query, for the page and for view.json', async () => {
    const users = (view: any) => view.sessions.rows.map((r: any) => r.cells[0]);
    const ams = await (await get(`${app.url}/view.json?server=ams-1`)).json();
    expect(users(ams)).toEqual(['carol', 'dave']);
    expect(ams.sessionsNote).toBe('Showing 2 of 6 connections');
    expect(ams.query).toEqual({ server: 'ams-1', sort: 'user', dir: 'asc' });
    const byIn = await (await get(`${app.url}/view.json?sort=in&dir=desc`)).json();
    expect(users(byIn)).toEqual(['carol', 'dave', FORMULA_CN, 'bob', SCRIPT_CN, 'alice']);
    expect(byIn.sessions.rows.map((r: any) => r.cells[6])).toEqual(['5 MB', '21 kB', '13 kB', '12 kB', '11 kB', '10 kB']);
    expect(byIn.sessions.columns.find((c: any) => c.label === 'In')).toMatchObject({ sorted: 'descending', href: '/?sort=in&dir=asc' });
    const unknown = await (await get(`${app.url}/view.json?server=nope&sort=evil`)).json();
    expect(unknown.query).toEqual({ server: null, sort: 'user', dir: 'asc' });
    expect(users(unknown)).toHaveLength(6);
    const page = await (await get(`${app.url}/?server=ams-1`)).text();
    expect(page).toContain('<option value="ams-1" selected>ams-1 (2)</option>');
    expect(page.match(/<tr data-key="ams-1#\d+"/g)).toHaveLength(2);
    expect(page).not.toContain('data-key="fra-1#');
  });
});

describe('security', () => {
  it('sends the security headers on every response', async () => {
    const responses = await Promise.all([
      get(`${app.url}/`), get(`${app.url}/api/status`), get(`${app.url}/static/status.js`), get(`${app.url}/nope`), get(`${app.url}/login`),
      get(`${app.url}/metrics`), get(`${app.url}/healthz`), get(`${app.url}/boom`), get(`${app.url}/api/status`, bearer('wrong')),
    ]);
    for (const res of responses) {
      expect(res.headers.get('content-security-policy'), res.url).toBe("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('unknown routes are 404; a thrown error is a 500 with a reference, logged in full, no stack to the client', async () => {
    const html404 = await get(`${app.url}/no/such/page`);
    expect(html404.status).toBe(404);
    expect(await html404.text()).toContain('Nothing at /no/such/page.');
    const json404 = await get(`${app.url}/api/nothing`);
    expect(json404.status).toBe(404);
    expect(await json404.json()).toEqual({ error: 'Nothing at /api/nothing.' });

    const boom = await get(`${app.url}/boom`, { accept: 'application/json' });
    expect(boom.status).toBe(500);
    const { error } = await boom.json();
    const ref = /^Something went wrong \(ref ([0-9a-f]{6})\)\.$/.exec(error)?.[1];
    expect(ref).toBeDefined();
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.ref === ref);
    expect(logged).toMatchObject({ msg: 'request failed', method: 'GET', path: '/boom', err: { message: 'database exploded at /secret/path' } });
    expect(logged.err.stack).toContain('web.test.ts');
    const page = await (await get(`${app.url}/boom`)).text();
    expect(page).toMatch(/Something went wrong \(ref [0-9a-f]{6}\)\./);
    expect(page).not.toMatch(/exploded|secret|at \w+ \(/);
  });

  it('mounts come first and get the raw request body', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'x'.repeat(100) });
    const res = await fetch(`${app.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(await res.json()).toEqual({ rawBytes: Buffer.byteLength(body) });
  });
});

describe('connection report (CSV)', () => {
  it('is for the admin only', async () => {
    const res = await get(`${app.url}/api/sessions.csv`);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatch(/^The connection report is for the admin/);
  });

  it('quotes fields and neutralises spreadsheet formulas', async () => {
    const res = await get(`${app.url}/api/sessions.csv?from=2026-11-28T09:30:00Z&to=2026-11-28T11:00:00Z`, bearer());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="vpnwatch-sessions.csv"');
    const lines = (await res.text()).split('\r\n');
    expect(lines[0]).toBe('server,user,common_name,username,real_address,real_port,virtual_address,connected_at,disconnected_at,duration_seconds,bytes_received,bytes_sent,ended_by');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(1 + 7 + 1);
    expect(lines).toContain('fra-1,alice,alice,,203.0.113.10,40010,10.8.0.10,2026-11-28T09:00:00.000Z,,3780,10000,20000,');
    expect(lines).toContain(`fra-1,"O'Brien, ""Pat""","O'Brien, ""Pat""",,203.0.113.14,40014,10.8.0.14,2026-11-28T09:00:00.000Z,2026-11-28T10:01:00.000Z,3660,14000,28000,disconnected`);
    expect(lines).toContain(`fra-1,"'=HYPERLINK(""http://evil.example"",""x"")","'=HYPERLINK(""http://evil.example"",""x"")",,203.0.113.13,40013,10.8.0.13,2026-11-28T09:00:00.000Z,,3780,13000,26000,`);
    expect(lines).toContain('fra-1,<script>alert(1)</script>,<script>alert(1)</script>,,203.0.113.11,40011,10.8.0.11,2026-11-28T09:00:00.000Z,,3780,11000,22000,');
  });

  it('rejects a bad or empty range', async () => {
    const bad = await get(`${app.url}/api/sessions.csv?from=soon`, bearer());
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'from must be an ISO-8601 time such as 2026-11-28T09:00:00Z' });
    const backwards = await get(`${app.url}/api/sessions.csv?from=2026-11-28T11:00:00Z&to=2026-11-28T10:00:00Z`, bearer());
    expect(backwards.status).toBe(400);
    expect(await backwards.json()).toEqual({ error: 'from must be before to' });
  });
});

describe('operations', () => {
  it('/metrics has the per-server gauges, refreshed from the store', async () => {
    const res = await get(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('vpnwatch_sessions_online{server="fra-1"} 4');
    expect(text).toContain('vpnwatch_sessions_online{server="ams-1"} 2');
    expect(text).toContain('vpnwatch_bytes_received{server="fra-1"} 46000');
    expect(text).toContain('vpnwatch_bytes_sent{server="ams-1"} 7042000');
    expect(text).toContain('vpnwatch_server_up{server="fra-1"} 1');
    expect(text).toContain('vpnwatch_server_up{server="ams-1"} 0');
    expect(text).toMatch(/^# TYPE vpnwatch_poll_failures_total counter$/m);
    expect(text).toMatch(/^vpnwatch_process_process_cpu_user_seconds_total \d/m);
  });

  it('/healthz says MongoDB is reachable and how old the last good poll is', async () => {
    const res = await get(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    // ams-1 is down: that needs an operator, so ok is false, though the answer is a 200.
    expect(await res.json()).toEqual({
      ok: false, mongo: true, lastGoodPollAgeSeconds: 120,
      servers: [
        {
          name: 'ams-1', healthy: false, lastResult: 'error', lastGoodAgeSeconds: 180, consecutiveFailures: 1, down: true, error: 'connect ECONNREFUSED 192.0.2.9:22',
          sources: { 'status-file': { result: 'error', error: 'connect ECONNREFUSED 192.0.2.9:22', since: '2026-11-28T10:02:00.000Z', lastGoodAgeSeconds: 180 }, management: null },
          problems: ['status file: connect ECONNREFUSED 192.0.2.9:22'],
        },
        {
          name: 'fra-1', healthy: true, lastResult: 'ok', lastGoodAgeSeconds: 120, consecutiveFailures: 0, down: false, error: null,
          sources: { 'status-file': { result: 'ok', error: null, since: '2026-11-28T10:00:00.000Z', lastGoodAgeSeconds: 120 }, management: { mode: 'stream' } },
          problems: [],
        },
      ],
    });
  });

  it('/healthz is a 503 when MongoDB is unreachable', async () => {
    const lost = await openTestStore();
    const config = loadConfig({}, tmp);
    const lonely = await listen(createWebApp({ store: lost, config, metrics: createMetrics(), live: new LiveFeed() }));
    try {
      expect((await get(`${lonely.url}/healthz`)).status).toBe(200);
      await lost.connection.dropDatabase();
      await lost.close();
      const res = await get(`${lonely.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ ok: false, mongo: false, lastGoodPollAgeSeconds: null, servers: [] });
      // The page does not hang or leak: a clear 500 with a reference.
      const page = await get(`${lonely.url}/api/status`);
      expect(page.status).toBe(500);
      expect((await page.json()).error).toMatch(/^Something went wrong \(ref [0-9a-f]{6}\)\.$/);
    } finally {
      await lonely.close();
    }
  });
});

describe('live updates', () => {
  it('a stored change reaches an open stream, without addresses, and the API shows it at once', async () => {
    // Fill the snapshot cache first: the update must drop it.
    expect((await (await get(`${app.url}/api/status`)).json()).counts.activeConnections).toBe(6);
    const before = live.subscribers;
    const abort = new AbortController();
    const res = await fetch(`${app.url}/api/stream`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (done: () => boolean) => {
      while (!done()) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`stream ended; got ${JSON.stringify(received)}`);
        received += decoder.decode(chunk.value);
      }
    };
    await readUntil(() => received.includes(': connected\n\n'));
    expect(live.subscribers).toBe(before + 1);

    const erin = vpnSession('erin', 30);
    await poller.apply([goodRead('fra-1', '2026-11-28T10:02:30.000Z', [alice, script, bob, formula, erin])]);
    const update = () => received.slice(received.indexOf('event: update'));
    await readUntil(() => received.includes('event: update') && update().endsWith('\n\n'));
    const message = update();
    expect(message).toMatch(/^event: update\ndata: .*\n\n$/);
    const data = JSON.parse(message.split('\n')[1]!.slice('data: '.length));
    expect(data).toMatchObject({ servers: ['fra-1'], events: [{ type: 'connected', server: 'fra-1', user: 'erin' }] });
    expect(message).not.toMatch(/203\.0\.113/);

    const status = await (await get(`${app.url}/api/status`)).json();
    expect(status.counts.activeConnections).toBe(7);
    expect(status.sessions.map((s: any) => s.user)).toContain('erin');

    abort.abort();
    await expect.poll(() => live.subscribers).toBe(before);
  });
});
