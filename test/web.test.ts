// The status page, JSON API, CSV report, metrics and health endpoints over real HTTP, against a
// real store (MongoDB-wire server) filled by the real Poller, which also publishes on the LiveFeed.
// Sign-in and who may look: test/web-access.test.ts; the live stream: test/web-stream.test.ts;
// metric names and traffic counters: test/metrics.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { maskIp, type ServerRead, type VpnSession, publicCause } from '../src/domain.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Poller } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import type { Store } from '../src/store/store.ts';
import { csvCell } from '../src/web/csv.ts';
import { createWebApp } from '../src/web/server.ts';
import { escapeHtml } from '../src/web/templates.ts';
import { freePort } from './harness/sshd.ts';
import { listen, type Listening } from './support/browser.ts';
import { goodRead, testPoller, vpnSession } from './support/data.ts';
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
/** ams-1's failure as vpnwatch's SSH layer words it: a real connection to a closed port on this machine. */
let sshError: string;
let closedPort: number;

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

/** A real read of a server whose SSH port is closed: the error text the poller stores. */
async function refusedRead(server: string, readAt: string): Promise<ServerRead> {
  closedPort = await freePort();
  const pool = new SshPool({ connectTimeoutMs: 3000 });
  try {
    const [read] = await readServers([{
      name: server, host: '127.0.0.1', port: closedPort, username: 'vpnwatch', password: 'not-used', insecureSkipHostKeyCheck: true,
      statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 60, timezone: 'UTC',
    }], pool, { concurrency: 1, timeoutMs: 3000 });
    if (read!.ok) throw new Error('a closed port answered');
    return { ...read!, readAt };
  } finally {
    await pool.closeAll();
  }
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
  const refused = await refusedRead('ams-1', '2026-11-28T10:02:00.000Z');
  sshError = (refused as Extract<ServerRead, { ok: false }>).error;
  await poller.apply([refused]);

  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }));
  const config = loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN, PAGE_REFRESH: '7', PAGE_ACCESS: 'public' }, tmp);
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

  it('a server error becomes a cause without hosts, ports, paths or addresses, for every kind vpnwatch words', () => {
    // The texts as src/ssh.ts, src/poll/read-servers.ts, src/openvpn/ and src/poll/diff.ts write them.
    const cases: [string, string][] = [
      ['fra-1 (10.0.0.5:22): connection refused; is sshd listening on port 22?', 'connection refused'],
      ['fra-1 (vpn1.corp.example:2222): cannot reach the host (ENOTFOUND)', 'host name not found'],
      ['fra-1 (10.0.0.5:22): cannot reach the host (EHOSTUNREACH)', 'host unreachable'],
      ['fra-1 (10.0.0.5:22): TCP connect timed out', 'timed out'],
      ['fra-1 (10.0.0.5:22): no SSH session within 15000 ms (the port accepts but the handshake or login did not finish)', 'timed out'],
      ['fra-1 (10.0.0.5:22): no answer within 15 s', 'timed out'],
      ['fra-1 (10.0.0.5:22): host key SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s (ssh-ed25519) does not match the pinned SHA256:x', 'SSH host key not accepted'],
      ['fra-1 (10.0.0.5:22): authentication failed for user "vpnwatch" (tried key /etc/vpnwatch/id_ed25519); check that the public key is in that user\'s authorized_keys', 'SSH sign-in failed'],
      ['fra-1 (10.0.0.5:22): cannot open /run/openvpn-server/status-server.log: no such file', 'status file not found'],
      ['fra-1 (10.0.0.5:22): cannot open /run/openvpn-server/status-server.log: permission denied for user "vpnwatch" (OpenVPN creates status files 0600 root)', 'permission denied reading the status file'],
      ['fra-1: /run/openvpn/status.log: line 12: Real Address \'198.51.100.7:1194x\' is not an address', 'status file could not be read'],
      ['status file is stale: written 2026-11-28T09:00:00.000Z, 300 s before it was read (limit 150 s); is OpenVPN running, and are the server\'s clock and timezone right?', 'status file is stale'],
      ['status file has no END line (caught mid-rewrite, or cut off)', 'status file incomplete (no END line)'],
      ['fra-1 (10.0.0.5:22): connection dropped (ECONNRESET): sshd or the host went away', 'connection dropped'],
      ['fra-1: the management interface refused the password (check management.passwordEnv against the password file named in OpenVPN\'s "management" line)', 'management password refused'],
      ['fra-1 (10.0.0.5:22): the server could not open 127.0.0.1:7505 for us: Connection refused', 'management interface unavailable'],
      ['something nobody foresaw at 10.1.2.3', 'read failed (the admin sees the details)'],
    ];
    expect(cases.map(([text]) => publicCause(text))).toEqual(cases.map(([, cause]) => cause));
  });
});

describe('JSON API and masking', () => {
  it('anonymous /api/status: counts, servers and sessions, real IPs masked to their network, errors without infrastructure', async () => {
    const res = await get(`${app.url}/api/status`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.counts).toEqual({ usersOnline: 6, activeConnections: 6, activeServers: 1, unhealthyServers: 1, totalServers: 2, averageConnectionSeconds: 3780 });
    expect(body.realIpsMasked).toBe(true);
    expect(body.generatedAt).toBe(NOW.toISOString());
    expect(body.version).toMatch(/^[\w-]{16}$/);
    expect(body).not.toHaveProperty('page');
    expect(body.servers.map((s: any) => [s.name, s.healthy, s.lastResult, s.down, s.onlineCount, s.lastError, s.mode])).toEqual([
      ['ams-1', false, 'error', true, 2, 'connection refused', null],
      ['fra-1', true, 'ok', false, 4, null, 'stream'],
    ]);
    expect(body.servers[0]).not.toHaveProperty('host');
    const byUser = Object.fromEntries(body.sessions.map((s: any) => [s.user, s]));
    expect(Object.keys(byUser).sort()).toEqual([SCRIPT_CN, FORMULA_CN, 'alice', 'bob', 'carol', 'dave'].sort());
    expect(byUser.alice).toMatchObject({ server: 'fra-1', realAddress: '203.0.113.x', realPort: null, virtualAddress: '10.8.0.10', connectedAt: '2026-11-28T09:00:00.000Z', connectedSeconds: 3780, bytesReceived: 10_000, bytesSent: 20_000, clientId: 10 });
    expect(byUser.bob.realAddress).toBe('2001:db8:…');
    // No full address anywhere in the answer: neither a client's nor a server's.
    expect(text).not.toMatch(/203\.0\.113\.\d|2001:db8:5|127\.0\.0\.1/);
    expect(text).not.toContain(`:${closedPort}`);
  });

  it('the admin bearer token shows full addresses, hosts and whole errors; a wrong token is a 401 with a message', async () => {
    const admin = await (await get(`${app.url}/api/status`, bearer())).json();
    expect(admin.realIpsMasked).toBe(false);
    const alice = admin.sessions.find((s: any) => s.user === 'alice');
    expect([alice.realAddress, alice.realPort]).toEqual(['203.0.113.10', 40010]);
    expect(admin.sessions.find((s: any) => s.user === 'bob').realAddress).toBe('2001:db8:5::7');
    expect(admin.servers.map((s: any) => s.host)).toEqual(['ams-1.vpn.example', 'fra-1.vpn.example']);
    expect(admin.servers[0].lastError).toBe(`ams-1 (127.0.0.1:${closedPort}): connection refused; is sshd listening on port ${closedPort}?`);
    expect(sshError).toBe(admin.servers[0].lastError);

    const wrong = await get(`${app.url}/api/status`, bearer('nope-nope-nope-nope'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await wrong.json()).toEqual({ error: 'The bearer token is not one this server accepts.' });
  });

  it('an Authorization header that is not Bearer (Basic from a proxy) is ignored on every route, with or without an admin token', async () => {
    const basic = { authorization: 'Basic YWRtaW46YWRtaW4=' };
    for (const base of [app.url, openApp.url]) {
      for (const route of ['/', '/view.json', '/api/status', '/api/users/alice', '/api/events', '/healthz', '/metrics', '/login', '/static/status.css']) {
        const res = await get(`${base}${route}`, basic);
        expect([route, res.status]).toEqual([route, 200]);
      }
      // Anonymous, not admin: still masked, and the admin-only report still refused.
      expect((await (await get(`${base}/api/status`, basic)).json()).servers[0]).not.toHaveProperty('host');
      expect((await get(`${base}/api/sessions.csv`, basic)).status).toBe(401);
    }
  });

  it('SHOW_REAL_IPS shows client addresses to everyone, but not server errors; without a token there is no admin', async () => {
    const body = await (await get(`${openApp.url}/api/status`)).json();
    expect(body.realIpsMasked).toBe(false);
    expect(body.sessions.find((s: any) => s.user === 'alice').realAddress).toBe('203.0.113.10');
    expect(body.servers[0]).not.toHaveProperty('host');
    expect(body.servers[0].lastError).toBe('connection refused');
    expect((await get(`${openApp.url}/api/status`, bearer())).status).toBe(401);
    expect(await (await get(`${openApp.url}/login`)).text()).toContain('Admin sign-in is off on this server');
    expect(await (await get(`${openApp.url}/`)).text()).not.toContain('href="/login"');
  });

  it('/api/users/:name reports a user, masked, from the page\'s snapshot; history for the admin only; an unknown user is a 404 in JSON', async () => {
    const res = await get(`${app.url}/api/users/alice`);
    expect(res.status).toBe(200);
    const alice = await res.json();
    expect(alice).toMatchObject({ name: 'alice', online: true, lastIp: '203.0.113.x', lastServer: 'fra-1', sessionCount: 1, totalBytesReceived: 10_000, totalBytesSent: 20_000 });
    expect(alice.sessions.map((s: any) => [s.server, s.realAddress, s.connectedSeconds])).toEqual([['fra-1', '203.0.113.x', 3780]]);
    expect(alice).not.toHaveProperty('recent');
    const gone = await (await get(`${app.url}/api/users/${encodeURIComponent(QUOTED_CN)}`, bearer())).json();
    expect(gone).toMatchObject({ name: QUOTED_CN, online: false, lastIp: '203.0.113.14' });
    expect(gone.recent.map((r: any) => [r.server, r.disconnectedAt, r.endedBy])).toEqual([['fra-1', '2026-11-28T10:01:00.000Z', 'disconnected']]);

    const missing = await get(`${app.url}/api/users/nobody`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('etag')).toBeNull();
    expect(await missing.json()).toEqual({ error: "No user 'nobody'." });
  });

  it('/api/events?since= lists events after a time, masked and without infrastructure; a bad date is a 400', async () => {
    const res = await get(`${app.url}/api/events?since=2026-11-28T10:00:30Z`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.since).toBe('2026-11-28T10:00:30.000Z');
    expect(body.truncated).toBe(false);
    expect(body.next).toBe(`/api/events?since=2026-11-28T10%3A00%3A30.000Z&after=${body.events[1].seq}`);
    expect(body.events[1].seq).toBeGreaterThan(body.events[0].seq);
    expect(body.events.map((e: any) => [e.type, e.server, e.at, e.user ?? null, e.session?.realAddress ?? null, e.error ?? null])).toEqual([
      ['disconnected', 'fra-1', '2026-11-28T10:01:00.000Z', QUOTED_CN, '203.0.113.x', null],
      ['server-down', 'ams-1', '2026-11-28T10:02:00.000Z', null, null, 'connection refused'],
    ]);
    expect(body.events[0]).not.toHaveProperty('deliveries');
    expect((await (await get(`${app.url}/api/events?since=2026-11-28T10:00:30`)).json()).events).toHaveLength(2); // no offset: UTC
    const admin = await (await get(`${app.url}/api/events?since=2026-11-28T10:00:30Z`, bearer())).json();
    expect(admin.events[1].error).toBe(sshError);

    const bad = await get(`${app.url}/api/events?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'since must be an ISO-8601 time such as 2026-11-28T09:00:00Z' });
  });
});

describe('/api/events?after=: a cursor that returns every event once', () => {
  let evStore: Store;
  let evApp: Listening;
  const T0 = '2026-11-28T11:00:00.000Z';

  beforeAll(async () => {
    evStore = await openTestStore();
    const evPoller = await testPoller(evStore, ['big-1']);
    await evPoller.apply([goodRead('big-1', T0, [])]);
    // 1,200 clients connect between two reads: 1,200 events of one read, all with one `at`.
    const crowd = Array.from({ length: 1200 }, (_, i) => vpnSession(`c-${String(i).padStart(4, '0')}`, i, { realAddress: `198.51.100.${i % 250}`, realPort: 20000 + i, clientId: i }));
    await evPoller.apply([goodRead('big-1', '2026-11-28T11:00:30.000Z', crowd)]);
    await evPoller.apply([goodRead('big-1', '2026-11-28T11:01:00.000Z', crowd.slice(1))]);
    evApp = await listen(createWebApp({ store: evStore, config: loadConfig({ PAGE_ACCESS: 'public' }, tmp), metrics: createMetrics(), live: new LiveFeed(), now: () => new Date('2026-11-28T11:02:00.000Z') }));
  });

  afterAll(async () => {
    await evApp?.close();
    if (evStore) await dropTestStore(evStore);
  });

  it('pages of 500, oldest first, each event once, following next until it is not truncated', async () => {
    const pages: any[] = [];
    let url = `/api/events?since=${T0}`;
    for (let i = 0; i < 5; i++) {
      const body = await (await get(`${evApp.url}${url}`)).json();
      pages.push(body);
      if (!body.truncated) break;
      url = body.next;
    }
    expect(pages.map((p) => [p.events.length, p.truncated])).toEqual([[500, true], [500, true], [201, false]]);
    const events = pages.flatMap((p) => p.events);
    expect(new Set(events.map((e: any) => e.id)).size).toBe(1201);
    const seqs = events.map((e: any) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(events.filter((e: any) => e.type === 'connected').map((e: any) => e.user).sort()).toEqual(Array.from({ length: 1200 }, (_, i) => `c-${String(i).padStart(4, '0')}`));
    expect(events.at(-1)).toMatchObject({ type: 'disconnected', user: 'c-0000', at: '2026-11-28T11:01:00.000Z' });
    // Asking again from the last answer's next: nothing new yet, and the same cursor to keep asking with.
    const later = await (await get(`${evApp.url}${pages.at(-1).next}`)).json();
    expect([later.events, later.truncated, later.next]).toEqual([[], false, pages.at(-1).next]);
    // Continuing from the last `at` instead (what since= alone allowed) loses the 700 events after the first page.
    const byTime = await (await get(`${evApp.url}/api/events?since=${pages[0].events.at(-1).at}`)).json();
    expect(byTime.events.map((e: any) => e.type)).toEqual(['disconnected']);
  });

  it('after= alone starts after that event, without a time limit; a bad cursor is a 400', async () => {
    const all = await (await get(`${evApp.url}/api/events?after=0`)).json();
    expect([all.since, all.after, all.events.length, all.truncated]).toEqual([null, 0, 500, true]);
    const third = all.events[2];
    const rest = await (await get(`${evApp.url}/api/events?after=${all.events[1].seq}`)).json();
    expect(rest.events[0].id).toBe(third.id);
    for (const bad of ['-1', 'abc', '1.5']) {
      const res = await get(`${evApp.url}/api/events?after=${bad}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "after must be an event's seq (a whole number, from a previous answer)" });
    }
  });
});

describe('the page', () => {
  it('shows the cards, servers, connections, recent disconnects and offline users; clock text carries its moment', async () => {
    const res = await get(`${app.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    const card = (id: string) => new RegExp(`data-card="${id}">\\s*<div class="label">[^<]*</div>\\s*<div class="value"[^>]*>([^<]*)</div>\\s*<div class="note">([^<]*)</div>`).exec(html)?.slice(1);
    expect(card('usersOnline')).toEqual(['6', '']);
    expect(card('activeConnections')).toEqual(['6', '']);
    expect(card('activeServers')).toEqual(['1 / 2', '1 unhealthy']);
    expect(card('averageConnection')).toEqual(['1h 3m', '']);
    expect(html).toContain('<div class="value" data-clock="{&#34;since&#34;:&#34;2026-11-28T09:00:00.000Z&#34;}">1h 3m</div>');
    expect(html).toContain('<tr data-key="ams-1"><td>ams-1</td><td class="num">2</td><td class="dot bad">down</td>'
      + '<td data-clock="{&#34;ago&#34;:&#34;2026-11-28T10:00:00.000Z&#34;}">3m ago</td>'
      + '<td data-clock="{&#34;mode&#34;:null,&#34;source&#34;:&#34;status-file&#34;}">status file</td><td class="error">connection refused</td></tr>');
    expect(html).toContain('<tr data-key="fra-1#10"><td class="dot on">alice</td><td>fra-1</td><td>203.0.113.x</td><td>10.8.0.10</td><td>2026-11-28 09:00 UTC</td>'
      + '<td class="num" data-clock="{&#34;since&#34;:&#34;2026-11-28T09:00:00.000Z&#34;}">1h 3m</td><td class="num">10 kB</td><td class="num">20 kB</td></tr>');
    // Sessions on a server that stopped answering are shown as of its last good read, amber.
    expect(html).toContain('<tr data-key="ams-1#20" title="ams-1 is not answering: as of its last good read"><td class="dot warn">carol</td>');
    expect(html).toMatch(/<table id="recent">[\s\S]*<td class="dot off">O&#39;Brien, &#34;Pat&#34;<\/td><td>fra-1<\/td><td>203\.0\.113\.x<\/td><td data-clock="[^"]*">2m ago<\/td><td class="num">1h 1m<\/td>/);
    expect(html).toMatch(/<table id="offline">[\s\S]*<td class="dot off">O&#39;Brien, &#34;Pat&#34;<\/td><td data-clock="[^"]*">2m ago<\/td><td>fra-1<\/td><td>203\.0\.113\.x<\/td><td class="num">1<\/td>/);
    expect(html).not.toMatch(/203\.0\.113\.\d|127\.0\.0\.1/);
    // The admin reads the whole error in the same cell.
    const admin = await (await get(`${app.url}/`, bearer())).text();
    expect(admin).toContain(`<td class="error">${escapeHtml(sshError)}</td>`);
  });

  it('refreshes itself: noscript meta refresh for browsers without JavaScript, one external module for the rest, built from the shared formatter', async () => {
    const html = await (await get(`${app.url}/`)).text();
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="7"></noscript>');
    expect(html).toContain('data-refresh-seconds="7"');
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script type="module" src="/static/status.js">', '<script src="/static/charts.js" defer>']);
    // The history charts: SVG built with DOM calls, text through textContent.
    expect(await (await get(`${app.url}/static/charts.js`)).text()).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML/);
    expect(html).not.toMatch(/\son\w+=/); // no inline event handlers either
    const js = await get(`${app.url}/static/status.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const jsText = await js.text();
    expect(jsText).toContain("new SharedWorker('/static/stream-worker.js'");
    expect(jsText).toContain('AbortSignal.timeout(FETCH_TIMEOUT_MS)');
    expect(jsText).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML/);
    const worker = await (await get(`${app.url}/static/stream-worker.js`)).text();
    expect(worker).toContain("new EventSource('/api/stream')");
    // The clock text the page computes is src/web/clock-text.ts and src/format.ts, bundled: the same functions.
    const clock = await get(`${app.url}/static/clock-text.js`);
    expect(clock.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const clockJs = await clock.text();
    expect(clockJs).toMatch(/function formatDuration\(seconds\)/);
    expect(clockJs).toMatch(/export \{[\s\S]*clockText[\s\S]*\}/);
    const module = await import(`data:text/javascript,${encodeURIComponent(clockJs)}`);
    expect(module.clockText({ since: '2026-11-28T09:00:00.000Z' }, NOW)).toBe('1h 3m');
    expect(module.clockText({ ago: '2026-11-28T10:02:59.500Z' }, NOW)).toBe('just now');
    expect(module.clockText({ mode: { mode: 'reconnecting', since: '2026-11-28T10:01:00.000Z', lastError: 'timed out' }, source: 'status-file' }, NOW))
      .toBe('status file; management reconnecting (timed out) since 2m ago');
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
    expect(ams.query).toEqual({ server: 'ams-1', q: '', sort: 'user', dir: 'asc', page: 1, per: 100, paged: false });
    const byIn = await (await get(`${app.url}/view.json?sort=in&dir=desc`)).json();
    expect(users(byIn)).toEqual(['carol', 'dave', FORMULA_CN, 'bob', SCRIPT_CN, 'alice']);
    expect(byIn.sessions.rows.map((r: any) => r.cells[6])).toEqual(['5 MB', '21 kB', '13 kB', '12 kB', '11 kB', '10 kB']);
    expect(byIn.sessions.columns.find((c: any) => c.label === 'In')).toMatchObject({ sorted: 'descending', href: '/?sort=in&dir=asc' });
    const unknown = await (await get(`${app.url}/view.json?server=nope&sort=evil&page=x&per=-3`)).json();
    expect(unknown.query).toEqual({ server: null, q: '', sort: 'user', dir: 'asc', page: 1, per: 100, paged: false });
    expect(users(unknown)).toHaveLength(6);
    const page = await (await get(`${app.url}/?server=ams-1`)).text();
    expect(page).toContain('<option value="ams-1" selected>ams-1 (2)</option>');
    expect(page.match(/<tr data-key="ams-1#\d+"/g)).toHaveLength(2);
    expect(page).not.toContain('data-key="fra-1#');
  });
});

describe('thousands of sessions: paging, sort and search on the server', () => {
  let big: Store;
  let bigApp: Listening;
  const names = ['lon-1', 'par-1', 'ber-1'];
  /** 1,234 sessions over three servers; user-0007 twice (on two servers). */
  const fleet = (server: number): VpnSession[] => Array.from({ length: server === 2 ? 234 : 500 }, (_, i) => {
    const n = server * 500 + i;
    return vpnSession(`user-${String(n).padStart(4, '0')}`, n, {
      realAddress: `198.51.${server}.${i % 250}`, realPort: 30000 + i, virtualAddress: `10.${server}.${Math.floor(i / 250)}.${i % 250}`,
      clientId: n, bytesReceived: (n * 7919) % 100_000, bytesSent: n,
    });
  });

  beforeAll(async () => {
    big = await openTestStore();
    const bigPoller = await testPoller(big, names);
    const lists = names.map((_, s) => fleet(s));
    lists[2]!.push(vpnSession('user-0007', 9999, { realAddress: '198.51.2.250', clientId: 9999 }));
    await bigPoller.apply(names.map((name, s) => goodRead(name, '2026-11-28T10:00:00.000Z', lists[s]!)));
    bigApp = await listen(createWebApp({ store: big, config: loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN, PAGE_ACCESS: 'public' }, tmp), metrics: createMetrics(), live: new LiveFeed(), now: () => NOW }));
  });

  afterAll(async () => {
    await bigApp?.close();
    if (big) await dropTestStore(big);
  });

  it('a page ships 100 rows by default, at most 500, with the total and links to the other pages', async () => {
    const first = await (await get(`${bigApp.url}/view.json`)).json();
    expect(first.sessions.rows).toHaveLength(100);
    expect(first.sessions.rows[0].cells[0]).toBe('user-0000');
    expect(first.sessionsNote).toBe('Showing 1–100 of 1,235 connections');
    expect(first.pager).toMatchObject({ page: 1, pages: 13, prev: null, next: '/?page=2' });
    expect(first.pager.links.map((l: any) => l.label)).toEqual(['1', '2', '3', '…', '13']);

    const seventh = await (await get(`${bigApp.url}/view.json?page=7`)).json();
    expect(seventh.sessionsNote).toBe('Showing 601–700 of 1,235 connections');
    expect(seventh.pager.links.map((l: any) => [l.label, l.href])).toEqual([
      ['1', '/'], ['…', null], ['5', '/?page=5'], ['6', '/?page=6'], ['7', null], ['8', '/?page=8'], ['9', '/?page=9'], ['…', null], ['13', '/?page=13'],
    ]);
    const last = await (await get(`${bigApp.url}/view.json?page=99`)).json();
    expect([last.query.page, last.sessions.rows.length, last.pager.next]).toEqual([13, 35, null]);
    const widest = await (await get(`${bigApp.url}/view.json?per=5000`)).json();
    expect([widest.query.per, widest.sessions.rows.length, widest.pager.pages]).toEqual([500, 500, 3]);

    const html = await (await get(`${bigApp.url}/?page=2&per=50`)).text();
    expect(html.match(/<tr data-key="/g)!.length).toBe(50 + 3); // 50 connections + 3 servers
    expect(html).toContain('<a href="/?page=3&amp;per=50" rel="next">Next ›</a>');
    expect(html).toContain('<span aria-current="page">2</span>');
  });

  it('every page of every sort is a slice of one order, and the pages together hold each session once', async () => {
    for (const sort of ['user', 'server', 'realIp', 'virtualIp', 'since', 'duration', 'in', 'out']) {
      for (const dir of ['asc', 'desc']) {
        const keys: string[] = [];
        for (let page = 1; page <= 3; page++) {
          const view = await (await get(`${bigApp.url}/view.json?sort=${sort}&dir=${dir}&per=500&page=${page}`)).json();
          keys.push(...view.sessions.rows.map((r: any) => r.key));
        }
        expect(new Set(keys).size, `${sort} ${dir}`).toBe(1235);
      }
    }
    const byIn = await (await get(`${bigApp.url}/view.json?sort=in&dir=desc&per=500`)).json();
    const api = await (await get(`${bigApp.url}/api/status?sort=in&dir=desc&per=500`)).json();
    const bytes = api.sessions.map((s: any) => s.bytesReceived);
    expect(bytes).toEqual([...bytes].sort((a, b) => b - a));
    expect(byIn.sessions.rows.map((r: any) => r.cells[0])).toEqual(api.sessions.map((s: any) => s.user));
  });

  it('searches user, common name, real IP (as the viewer sees it), virtual IP and server, case-insensitively', async () => {
    const users = async (query: string, headers = {}) => (await (await get(`${bigApp.url}/api/status?${query}`, headers)).json()).sessions.map((s: any) => s.user);
    expect(await users('q=USER-0007')).toEqual(['user-0007', 'user-0007']);
    const seventies = await users('q=user-07');
    expect([seventies.length, seventies[0], seventies.at(-1)]).toEqual([100, 'user-0700', 'user-0799']);
    expect(await users('q=10.2.0.17')).toEqual(['user-1017', 'user-1170', 'user-1171', 'user-1172', 'user-1173', 'user-1174', 'user-1175', 'user-1176', 'user-1177', 'user-1178', 'user-1179']);
    expect(await users('q=ber-1&per=1')).toEqual(['user-0007']);
    // A masked viewer searches what they see: the network, never the hidden address.
    expect(await users('q=198.51.0.17')).toEqual([]);
    expect((await users('q=198.51.0.x&per=500')).length).toBe(500);
    // The admin finds addresses: 198.51.0.17 and .170 to .179, each twice on lon-1 (i and i + 250).
    expect(await users('q=198.51.0.17', bearer())).toEqual([
      'user-0017', ...Array.from({ length: 10 }, (_, i) => `user-017${i}`), 'user-0267', ...Array.from({ length: 10 }, (_, i) => `user-042${i}`),
    ]);
    const filtered = await (await get(`${bigApp.url}/view.json?server=par-1&q=user-05`)).json();
    expect(filtered.sessions.rows.map((r: any) => r.cells[0])).toEqual(Array.from({ length: 100 }, (_, i) => `user-05${String(i).padStart(2, '0')}`));
    expect(filtered.sessionsNote).toBe('Showing 100 of 1,235 connections');
    const none = await (await get(`${bigApp.url}/?q=nobody-like-this`)).text();
    expect(none).toContain('No connection matches.');
  });

  it('/api/status without page or per returns every session (as before paging); with them one page and its links', async () => {
    const all = await (await get(`${bigApp.url}/api/status`)).json();
    expect(all.sessions).toHaveLength(1235);
    expect(all).not.toHaveProperty('page');
    const paged = await (await get(`${bigApp.url}/api/status?page=2&per=200&server=lon-1`)).json();
    expect(paged.sessions).toHaveLength(200);
    expect(paged.sessions[0].user).toBe('user-0200');
    expect(paged.page).toEqual({ number: 2, per: 200, pages: 3, matched: 500, prev: '/api/status?server=lon-1&per=200', next: '/api/status?server=lon-1&page=3&per=200' });
    const followed = await (await get(`${bigApp.url}${paged.page.next}`)).json();
    expect([followed.sessions.length, followed.page.next]).toEqual([100, null]);
  });
});

describe('ETag and 304: the data endpoints answer "not modified" until what they show changes', () => {
  let ePoller: Poller;
  let eStore: Store;
  let eApp: Listening;
  let clock = 0;
  const eLive = new LiveFeed();
  const zoe = vpnSession('zoe', 40);
  const yan = vpnSession('yan', 41);

  beforeAll(async () => {
    eStore = await openTestStore();
    ePoller = await testPoller(eStore, ['osl-1'], eLive);
    await ePoller.apply([goodRead('osl-1', '2026-11-28T10:00:00.000Z', [zoe])]);
    eApp = await listen(createWebApp({
      store: eStore, config: loadConfig({ PAGE_ACCESS: 'public' }, tmp), metrics: createMetrics(), live: eLive, now: () => NOW,
      snapshotMs: 0, monotonic: () => clock,
    }));
  });

  afterAll(async () => {
    await eApp?.close();
    if (eStore) await dropTestStore(eStore);
  });

  const conditional = (path: string, etag: string) => get(`${eApp.url}${path}`, { 'if-none-match': etag });
  const paths = ['/', '/view.json', '/api/status', '/api/status?page=1', '/api/users/zoe'];

  it('reads that change nothing, or only byte counters, keep every ETag; a connect changes them; counters show at the periodic refresh', async () => {
    const first = new Map<string, string>();
    for (const p of paths) {
      const res = await get(`${eApp.url}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag'), p).toMatch(/^W\/"[\w-]{16}\.[\w.-]+"$/);
      expect(res.headers.get('cache-control')).toBe('private, no-cache');
      first.set(p, res.headers.get('etag')!);
    }
    for (const p of paths) expect((await conditional(p, first.get(p)!)).status, p).toBe(304);

    // Ten reads with nothing new, then counters moving (written when the poller flushes them).
    const updates: unknown[] = [];
    const off = eLive.subscribe((u) => updates.push(u));
    for (let i = 1; i <= 10; i++) await ePoller.apply([goodRead('osl-1', `2026-11-28T10:00:${String(i * 2).padStart(2, '0')}.000Z`, [zoe])]);
    const restarted = await testPoller(eStore, ['osl-1'], eLive); // a fresh poller writes its first list at once: the periodic counter write
    await restarted.apply([goodRead('osl-1', '2026-11-28T10:00:30.000Z', [{ ...zoe, bytesReceived: 99_000, bytesSent: 88_000 }])]);
    off();
    expect(updates).toEqual([expect.objectContaining({ sessions: [], health: [], counters: ['osl-1'], events: [] })]);
    for (const p of paths) expect((await conditional(p, first.get(p)!)).status, p).toBe(304);

    // The counter refresh (every 15 s): the new counters show, under a new version.
    clock += 15_000;
    const refreshed = await get(`${eApp.url}/api/status`, { 'if-none-match': first.get('/api/status')! });
    expect(refreshed.status).toBe(200);
    expect((await refreshed.json()).sessions[0].bytesReceived).toBe(99_000);
    const second = new Map<string, string>();
    for (const p of paths) second.set(p, (await get(`${eApp.url}${p}`)).headers.get('etag')!);

    // Someone comes: everything changes at once (no waiting for the counter refresh).
    await restarted.apply([goodRead('osl-1', '2026-11-28T10:00:32.000Z', [{ ...zoe, bytesReceived: 99_000, bytesSent: 88_000 }, yan])]);
    for (const p of paths) expect((await conditional(p, second.get(p)!)).status, p).toBe(200);
    expect((await (await get(`${eApp.url}/api/status`)).json()).sessions.map((s: any) => s.user)).toEqual(['yan', 'zoe']);
  });

  it('the ETag differs per viewer kind and per sign-in shown in the header', async () => {
    const anon = (await get(`${eApp.url}/view.json`)).headers.get('etag')!;
    const html = (await get(`${eApp.url}/`)).headers.get('etag')!;
    expect(anon).not.toBe(html);
    expect((await conditional('/view.json', html)).status).toBe(200);
  });
});

describe('security', () => {
  it('sends the security headers on every response', async () => {
    const responses = await Promise.all([
      get(`${app.url}/`), get(`${app.url}/api/status`), get(`${app.url}/static/status.js`), get(`${app.url}/static/clock-text.js`), get(`${app.url}/nope`), get(`${app.url}/login`),
      get(`${app.url}/metrics`), get(`${app.url}/healthz`), get(`${app.url}/boom`), get(`${app.url}/api/status`, bearer('wrong-wrong-wrong-wrong')),
    ]);
    for (const res of responses) {
      expect(res.headers.get('content-security-policy'), res.url).toBe("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
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
  it('/healthz: 200 while MongoDB answers; ok false while a server is down; the cause for everyone, the whole error for the admin', async () => {
    const res = await get(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    // ams-1 is down: that needs an operator, so ok is false, though the answer is a 200. Errors are
    // their cause for everyone but the admin.
    expect(await res.json()).toEqual({
      ok: false, mongo: true, lastGoodPollAgeSeconds: 120,
      servers: [
        {
          name: 'ams-1', healthy: false, lastResult: 'error', lastGoodAgeSeconds: 180, consecutiveFailures: 1, down: true, error: 'connection refused',
          sources: { 'status-file': { result: 'error', error: 'connection refused', since: '2026-11-28T10:02:00.000Z', lastGoodAgeSeconds: 180 }, management: null },
          problems: ['status file: connection refused'],
        },
        {
          name: 'fra-1', healthy: true, lastResult: 'ok', lastGoodAgeSeconds: 120, consecutiveFailures: 0, down: false, error: null,
          sources: { 'status-file': { result: 'ok', error: null, since: '2026-11-28T10:00:00.000Z', lastGoodAgeSeconds: 120 }, management: { mode: 'stream' } },
          problems: [],
        },
      ],
      // No chat configured: notices go to the log (two waiting: no notifier runs here).
      notices: [{ id: 'log', platform: 'log', channel: 'log', ok: true, state: 'ok', error: null, since: null, nextAttemptAt: null, pending: 2 }],
    });
    const admin = await (await get(`${app.url}/healthz`, bearer())).json();
    expect([admin.servers[0].error, admin.servers[0].sources['status-file'].error, admin.servers[0].problems]).toEqual([sshError, sshError, [`status file: ${sshError}`]]);
  });

  it('while the database does not answer, the page and the API answer from the last data they hold, saying since when', async () => {
    const lost = await openTestStore();
    const poller = await testPoller(lost, ['fra-1']);
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 10), vpnSession('bob', 11)])]);
    let database = { up: true, since: new Date('2026-11-28T09:00:00.000Z'), error: null as string | null };
    const config = loadConfig({ PAGE_ACCESS: 'public' }, tmp);
    const app = await listen(createWebApp({ store: lost, config, metrics: createMetrics(), live: new LiveFeed(), database: () => database, now: () => new Date('2026-11-28T10:05:00.000Z') }));
    try {
      expect((await (await get(`${app.url}/api/status`)).json()).database).toEqual({ up: true, since: null });
      await lost.connection.dropDatabase();
      await lost.close();
      // Not yet noticed by the watch: a read that fails is answered with the last snapshot.
      const unnoticed = await get(`${app.url}/api/status`);
      expect(unnoticed.status).toBe(200);
      expect((await unnoticed.json()).sessions.map((x: { user: string }) => x.user)).toEqual(['alice', 'bob']);
      database = { up: false, since: new Date('2026-11-28T10:03:00.000Z'), error: 'no answer within 1500 ms' };
      const api = await get(`${app.url}/api/status`);
      expect(api.status).toBe(200);
      const body = await api.json();
      expect(body.database).toEqual({ up: false, since: '2026-11-28T10:03:00.000Z' });
      expect(body.sessions).toHaveLength(2);
      const page = await (await get(`${app.url}/`)).text();
      expect(page).toContain('<p class="database-note" id="database-note" role="alert">The database has not answered since 2026-11-28 10:03 UTC: this is the last data vpnwatch holds. Polling goes on; what changes is stored and shown once it is back.</p>');
      expect((await get(`${app.url}/healthz`)).status).toBe(503);
    } finally {
      await app.close();
    }
    // A process that never read anything has nothing to show: a clear 503.
    const empty = await openTestStore();
    const fresh = await listen(createWebApp({ store: empty, config, metrics: createMetrics(), live: new LiveFeed(), database: () => ({ up: false, since: new Date('2026-11-28T10:03:00.000Z'), error: 'x' }) }));
    try {
      const res = await get(`${fresh.url}/api/status`);
      expect(res.status).toBe(503);
      expect((await res.json()).error).toBe('The database has not answered since 2026-11-28T10:03:00.000Z, and vpnwatch has read nothing yet to show.');
    } finally {
      await fresh.close();
      await dropTestStore(empty);
    }
  });

  it('/healthz is a 503 when MongoDB is unreachable', async () => {
    const lost = await openTestStore();
    const config = loadConfig({ PAGE_ACCESS: 'public' }, tmp);
    const lonely = await listen(createWebApp({ store: lost, config, metrics: createMetrics(), live: new LiveFeed() }));
    try {
      const up = await get(`${lonely.url}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ ok: true, mongo: true, lastGoodPollAgeSeconds: null, servers: [], notices: [] });
      await lost.connection.dropDatabase();
      await lost.close();
      const res = await get(`${lonely.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ ok: false, mongo: false, lastGoodPollAgeSeconds: null, servers: [], notices: [] });
      // The page does not hang or leak: a clear 500 with a reference.
      const page = await get(`${lonely.url}/api/status`);
      expect(page.status).toBe(500);
      expect((await page.json()).error).toMatch(/^Something went wrong \(ref [0-9a-f]{6}\)\.$/);
    } finally {
      await lonely.close();
    }
  });
});
