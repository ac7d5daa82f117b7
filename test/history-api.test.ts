// History as people read it: GET /api/history, /api/users/:name/history and /api/top (the last
// two for the admin only), /vpn top, /vpn stats 24h|7d and the 7-day line of /vpn user, from a
// store filled by the real Poller and HistoryRecorder and rolled up by the real job code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import type { Actor, KickOutcome, VpnSession } from '../src/domain.ts';
import { dispatch, type DispatchDeps } from '../src/dispatch.ts';
import { renderReplyText } from '../src/cli/render-text.ts';
import { logger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import { HistoryRecorder } from '../src/poll/history-recorder.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { Poller } from '../src/poll/poller.ts';
import { DAY_MS } from '../src/store/history.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen, type Listening } from './support/browser.ts';
import { goodRead, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const TOKEN = 'history-admin-token';
const NOW = new Date('2026-11-30T12:00:00.000Z');
const HISTORY = { minutesDays: 7, hoursDays: 400, retentionDays: 400 };
const terminal: Actor = { platform: 'cli', userId: 'root', userName: 'root' };

let store: Store;
let app: Listening;
let tmp: string;
let deps: DispatchDeps;

/** Yesterday 09:00-09:02 and today 10:00-10:02 on fra-1 (alice, bob) and ams-1 (carol). */
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-history-'));
  store = await openTestStore();
  const history = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger });
  const poller = new Poller({ store, servers: [testServer('fra-1'), testServer('ams-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: logger, history });
  await poller.start();
  const sess = (name: string, n: number, received: number, sent: number): VpnSession => vpnSession(name, n, { bytesReceived: received, bytesSent: sent, connectedAt: '2026-11-29T08:00:00.000Z' });
  const day = (d: string) => async (minute: number, fra: VpnSession[], ams: VpnSession[]) => {
    const at = `${d}T${minute < 60 ? '09' : '10'}:${String(minute % 60).padStart(2, '0')}:00.000Z`;
    await poller.apply([goodRead('fra-1', at, fra), goodRead('ams-1', at, ams)]);
  };
  const y = day('2026-11-29');
  await y(0, [sess('alice', 1, 0, 0)], [sess('carol', 3, 0, 0)]);
  await y(1, [sess('alice', 1, 1_000, 9_000), sess('bob', 2, 500, 500)], [sess('carol', 3, 100, 100)]);
  await y(2, [sess('alice', 1, 2_000, 18_000), sess('bob', 2, 600, 600)], [sess('carol', 3, 200, 200)]);
  const t = day('2026-11-30');
  await t(60, [sess('alice', 1, 2_000, 18_000)], []);
  await t(61, [sess('alice', 1, 3_000, 20_000)], []);
  await history.flush();
  await store.history.rollUp(NOW, HISTORY);
  const config = loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN }, tmp);
  app = await listen(createWebApp({ store, config, metrics: createMetrics(), live: new LiveFeed(), now: () => NOW }));
  const kicker = { kick: async (): Promise<KickOutcome> => ({ result: 'not-found', sessions: [], verified: false, message: '' }), refuse: async () => {} };
  deps = { store, kicker, config: { servers: [testServer('fra-1'), testServer('ams-1')] }, now: () => NOW };
});

afterAll(async () => {
  await app?.close();
  if (store) await dropTestStore(store);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const get = async (p: string, admin = false) => {
  const res = await fetch(`${app.url}${p}`, admin ? { headers: { authorization: `Bearer ${TOKEN}` } } : {});
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('GET /api/history', () => {
  it('the last 24 h by default: the fleet and each server, 3-minute steps, gaps left out', async () => {
    const { status, body } = await get('/api/history');
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: '2026-11-29T12:00:00.000Z', to: '2026-11-30T12:00:00.000Z', stepSeconds: 180 });
    expect((body.series as { server: string }[]).map((s) => s.server)).toEqual(['all', 'ams-1', 'fra-1']);
    expect((body.series as { server: string; points: unknown[] }[])[0]!.points).toEqual([
      // 10:00 alice alone (the first read today: its bytes are a day's worth, in no minute); 10:01 +1000/+2000
      { at: '2026-11-30T10:00:00.000Z', online: 1, avgOnline: 1, bytesReceived: 1_000, bytesSent: 2_000 },
    ]);
  });

  it('any range: the series of one server, named in any letter case', async () => {
    const { body } = await get('/api/history?server=FRA-1&from=2026-11-29T09:00:00Z&to=2026-11-29T10:00:00Z');
    expect(body.stepSeconds).toBe(60);
    expect(body.series).toEqual([{ server: 'fra-1', points: [
      { at: '2026-11-29T09:00:00.000Z', online: 1, avgOnline: 1, bytesReceived: 0, bytesSent: 0 },
      { at: '2026-11-29T09:01:00.000Z', online: 2, avgOnline: 2, bytesReceived: 1_500, bytesSent: 9_500 },
      { at: '2026-11-29T09:02:00.000Z', online: 2, avgOnline: 2, bytesReceived: 1_100, bytesSent: 9_100 },
    ] }]);
    const all = await get('/api/history?server=all&from=2026-11-29T09:00:00Z&to=2026-11-29T10:00:00Z');
    expect((all.body.series as { points: { online: number }[] }[])[0]!.points.map((p) => p.online)).toEqual([2, 3, 3]);
  });

  it('says what is wrong with a query', async () => {
    expect(await get('/api/history?server=fra-9')).toEqual({ status: 404, body: { error: "No server 'fra-9'. Known: ams-1, fra-1" } });
    expect(await get('/api/history?from=yesterday')).toEqual({ status: 400, body: { error: 'from must be an ISO-8601 time such as 2026-11-28T09:00:00Z' } });
    expect(await get('/api/history?from=2026-11-30T10:00:00Z&to=2026-11-30T09:00:00Z')).toEqual({ status: 400, body: { error: 'from must be before to' } });
    expect((await get('/api/history?from=2020-01-01')).status).toBe(400);
  });
});

describe('per-user history and the top list: the admin only', () => {
  it('anonymous viewers are refused, and told how to sign in', async () => {
    for (const p of ['/api/top', '/api/users/alice/history']) {
      const { status, body } = await get(p);
      expect(status).toBe(401);
      expect(String(body.error)).toMatch(/for the admin: send "Authorization: Bearer/);
    }
  });

  it('GET /api/users/:name/history: one entry per day with activity', async () => {
    const { body } = await get('/api/users/alice/history?range=7d', true);
    expect(body).toEqual({ user: 'alice', range: '7d', days: [
      { day: '2026-11-29', bytesReceived: 2_000, bytesSent: 18_000, onlineSeconds: 120, sessions: 1, servers: ['fra-1'] },
      // today: the day's first read counts the bytes and time since yesterday's last (vpnwatch was not running)
      { day: '2026-11-30', bytesReceived: 1_000, bytesSent: 2_000, onlineSeconds: 60 + 25 * 3600 - 120 + 60 - 60, sessions: 0, servers: ['fra-1'] },
    ] });
    expect((await get('/api/users/alice/history?range=1y', true))).toEqual({ status: 400, body: { error: 'range must be one of 7d, 30d, 400d' } });
  });

  it('GET /api/top: highest first, by bytes or by time', async () => {
    const { body } = await get('/api/top?range=7d&by=bytes', true);
    expect(body.range).toBe('7d');
    expect((body.users as { user: string }[]).map((u) => u.user)).toEqual(['alice', 'bob', 'carol']);
    expect((body.users as unknown[])[0]).toEqual({ user: 'alice', bytesReceived: 3_000, bytesSent: 20_000, onlineSeconds: expect.any(Number), sessions: 1 });
    const byTime = await get('/api/top?range=24h&by=time', true);
    expect((byTime.body.users as { user: string }[]).map((u) => u.user)).toEqual(['alice']);
    expect((await get('/api/top?by=money', true)).status).toBe(400);
  });
});

describe('chat and terminal', () => {
  it('/vpn top 7d lists users with their traffic and time online', async () => {
    const reply = await dispatch('top 7d', terminal, deps);
    expect(reply.title).toBe('Top 3 users by traffic, last 7d');
    expect(reply.table!.rows[0]).toEqual(['1', 'alice', '3 kB / 20 kB', '1d 1h', '1']);
    expect(reply.private).toBe(true);
    expect((await dispatch('top 5y', terminal, deps)).title).toBe("Unknown period '5y'. Use 24h, 7d, 30d");
  });

  it('/vpn stats 7d adds the peak and when, the average online and the traffic', async () => {
    const reply = await dispatch('stats 7d', terminal, deps);
    const text = renderReplyText(reply);
    // Over more than two days the samples are hourly: the peak is placed in its hour.
    expect(text).toContain('Peak online (7d): 3 at 2026-11-29 09:00 UTC');
    expect(text).toContain('Average online (7d): 2'); // (2 + 3 + 3 + 1 + 1) / 5 sampled minutes
    expect(text).toContain('Traffic received / sent (7d): 3.8 kB / 20.8 kB');
    const day = renderReplyText(await dispatch('stats 24h', terminal, deps));
    expect(day).toContain('Peak online (24h): 1 at 2026-11-30 10:00 UTC');
    expect((await dispatch('stats 1y', terminal, deps)).title).toBe("Unknown period '1y'. Use 24h or 7d");
  });

  it('/vpn user has a line for the last 7 days', async () => {
    const text = renderReplyText(await dispatch('user alice', terminal, deps));
    expect(text).toContain('Last 7 days: online on 2 days, 1d 1h, 3 kB / 20 kB');
  });
});
