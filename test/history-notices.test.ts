// Alerts and the daily digest, against the real MongoDB-wire server: each alert fires once (also
// when a second vpnwatch sees the same condition) and says when it is resolved; the digest is
// posted once, after DIGEST_TIME in DIGEST_TZ, about the previous local day. Notices are events in
// the notifier's outbox, with a text for guests that masks real IPs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertConfig } from '../src/config.ts';
import type { VpnSession } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import { LiveAlerts } from '../src/notify/alerts.ts';
import { dailyNotices, localClock, localMidnight } from '../src/notify/digest.ts';
import { lineFor } from '../src/notify/notice-text.ts';
import { Notifier } from '../src/notify/notifier.ts';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { HistoryRecorder } from '../src/poll/history-recorder.ts';
import { Poller } from '../src/poll/poller.ts';
import { DAY_MS } from '../src/store/history.ts';
import type { Store } from '../src/store/store.ts';
import { goodRead, testServer, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const OFF: AlertConfig = { sharedAccountIps: null, dailyQuotaBytes: null, onlineDropPercent: null, onlineDropMinOnline: 10 };
const HISTORY = { minutesDays: 7, hoursDays: 400, retentionDays: 400 };

async function pipeline(store: Store, alerts: AlertConfig, servers = ['fra-1', 'ams-1']) {
  const live = new LiveAlerts({ config: alerts, history: store.history, targets: () => ['slack'], log: logger });
  const history = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger, alerts: live });
  const poller = new Poller({ store, servers: servers.map(testServer), pollIntervalSeconds: 30, downAfter: 3, targets: () => ['slack'], log: logger, history });
  await poller.start();
  return { poller, history };
}

const notices = async (store: Store) => (await store.queries.eventsSince(new Date(0))).filter((e) => e.type === 'notice');
const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => vpnSession(`${prefix}${i}`, i + 10));

describe('alert: the online count drops within one read', () => {
  let store: Store;
  beforeAll(async () => { store = await openTestStore(); });
  afterAll(async () => { if (store) await dropTestStore(store); });

  it('fires once, and once more when it is resolved; a second process adds nothing', async () => {
    const config = { ...OFF, onlineDropPercent: 50, onlineDropMinOnline: 4 };
    const a = await pipeline(store, config, ['fra-1']);
    const reads = [
      goodRead('fra-1', '2026-11-30T10:00:00.000Z', users(10)),
      goodRead('fra-1', '2026-11-30T10:00:30.000Z', users(3)), // −70 %: an outage the file does not show
      goodRead('fra-1', '2026-11-30T10:01:00.000Z', users(3)),
      goodRead('fra-1', '2026-11-30T10:01:30.000Z', users(4)), // not yet: 4 < 10 × 50 %
      goodRead('fra-1', '2026-11-30T10:02:00.000Z', users(9)), // resolved
    ];
    for (const r of reads) { await a.poller.apply([r]); await a.history.flush(); }
    const texts = (await notices(store)).map((e) => e.text);
    expect(texts).toEqual([
      '📉 fra-1: online fell from 10 to 3 (−70 %) in one read, at 2026-11-30 10:00 UTC: an outage the status file does not show?',
      '✅ fra-1: resolved: 9 online again (10 before the drop)',
    ]);
    // Another vpnwatch on the same database sees the same reads: the same notices, stored once.
    const other = await openTestStore();
    try {
      const live = new LiveAlerts({ config, history: store.history, targets: () => ['slack'], log: logger });
      const b = new HistoryRecorder({ history: store.history, maxSpanMs: 120_000, minutesRetainMs: 7 * DAY_MS, log: logger, alerts: live });
      const p = new Poller({ store: other, servers: [testServer('fra-1')], pollIntervalSeconds: 30, downAfter: 3, targets: () => ['slack'], log: logger, history: b });
      await p.start();
      for (const r of reads) { await p.apply([r]); await b.flush(); }
    } finally {
      await dropTestStore(other);
    }
    expect((await notices(store)).map((e) => e.text)).toEqual(texts);
    expect((await notices(store)).every((e) => e.deliveries.length === 1 && e.deliveries[0]!.state === 'pending')).toBe(true);
  });

  it('a small server is not an outage: fewer than ALERT_ONLINE_DROP_MIN_ONLINE before the drop', async () => {
    const local = await openTestStore();
    try {
      const a = await pipeline(local, { ...OFF, onlineDropPercent: 50, onlineDropMinOnline: 10 }, ['fra-1']);
      await a.poller.apply([goodRead('fra-1', '2026-11-30T10:00:00.000Z', users(9))]);
      await a.poller.apply([goodRead('fra-1', '2026-11-30T10:00:30.000Z', users(1))]);
      await a.history.flush();
      expect(await notices(local)).toEqual([]);
    } finally {
      await dropTestStore(local);
    }
  });
});

describe('alert: one user from several real IPs at once', () => {
  it('fires once while it lasts, names the addresses (masked for guests), and is resolved', async () => {
    const store = await openTestStore();
    try {
      const a = await pipeline(store, { ...OFF, sharedAccountIps: 2 });
      const alice = (n: number, extra: Partial<VpnSession> = {}) => vpnSession('alice', n, { connectedAt: '2026-11-30T09:00:00.000Z', ...extra });
      await a.poller.apply([goodRead('fra-1', '2026-11-30T10:00:00.000Z', [alice(1)]), goodRead('ams-1', '2026-11-30T10:00:00.000Z', [])]);
      await a.history.flush();
      expect(await notices(store)).toEqual([]);
      await a.poller.apply([goodRead('ams-1', '2026-11-30T10:00:30.000Z', [alice(2, { connectedAt: '2026-11-30T10:00:20.000Z' })])]);
      await a.history.flush();
      await a.poller.apply([goodRead('fra-1', '2026-11-30T10:01:00.000Z', [alice(1)])]);
      await a.history.flush();
      const [raised] = await notices(store);
      expect(raised!.text).toBe('👥 alice is online from 2 addresses at once: 203.0.113.1 (fra-1), 203.0.113.2 (ams-1). Shared credentials?');
      expect(lineFor(raised!).guestText).toBe('👥 alice is online from 2 addresses at once: 203.0.113.x (fra-1), 203.0.113.x (ams-1). Shared credentials?');
      await a.poller.apply([goodRead('ams-1', '2026-11-30T10:01:30.000Z', [])]);
      await a.history.flush();
      expect((await notices(store)).map((e) => e.text)).toEqual([raised!.text, '✅ resolved: alice is online from one address now']);
    } finally {
      await dropTestStore(store);
    }
  });
});

describe('the history job: daily quota and digest', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    const a = await pipeline(store, OFF);
    // 2026-11-29 (UTC): alice moves 3 GB on fra-1, bob 1 MB on ams-1; fra-1 is down 09:10-09:40.
    const big = (bytes: number) => vpnSession('alice', 1, { bytesReceived: bytes, bytesSent: 0, connectedAt: '2026-11-29T08:00:00.000Z' });
    await a.poller.apply([goodRead('fra-1', '2026-11-29T09:00:00.000Z', [big(0)]), goodRead('ams-1', '2026-11-29T09:00:00.000Z', [vpnSession('bob', 2, { bytesReceived: 0, bytesSent: 0 })])]);
    await a.poller.apply([goodRead('fra-1', '2026-11-29T09:01:00.000Z', [big(3e9)]), goodRead('ams-1', '2026-11-29T09:01:00.000Z', [vpnSession('bob', 2, { bytesReceived: 1e6, bytesSent: 0 })])]);
    await a.history.flush();
    await store.models.Event.create([
      { type: 'server-down', server: 'fra-1', at: new Date('2026-11-29T09:10:00Z'), cycle: 'c1', seq: 900 },
      { type: 'server-up', server: 'fra-1', at: new Date('2026-11-29T09:40:00Z'), cycle: 'c2', seq: 901 },
    ]);
    await store.models.Kick.create({ at: new Date('2026-11-29T11:00:00Z'), target: 'alice', result: 'kicked' });
    await store.history.rollUp(new Date('2026-11-29T23:50:00Z'), HISTORY);
  });
  afterAll(async () => { if (store) await dropTestStore(store); });

  it('local clocks: DIGEST_TZ midnight and time of day, across a DST change', () => {
    expect(localMidnight('2026-11-29', 'Europe/Berlin')).toBe(Date.parse('2026-11-28T23:00:00Z'));
    expect(localMidnight('2026-07-01', 'Europe/Berlin')).toBe(Date.parse('2026-06-30T22:00:00Z'));
    expect(localMidnight('2026-11-29', 'UTC')).toBe(Date.parse('2026-11-29T00:00:00Z'));
    expect(localClock(Date.parse('2026-11-30T07:30:00Z'), 'Europe/Berlin')).toEqual({ date: '2026-11-30', minutes: 8 * 60 + 30 });
    expect(localClock(Date.parse('2026-11-30T03:00:00Z'), 'America/New_York')).toEqual({ date: '2026-11-29', minutes: 22 * 60 });
  });

  it('the quota alert: once per user and day, resolved when the day is over', async () => {
    const config = { alerts: { ...OFF, dailyQuotaBytes: 2e9 }, targets: ['slack'] };
    expect(await dailyNotices(store.history, config, new Date('2026-11-29T23:50:00Z'))).toHaveLength(1);
    expect(await dailyNotices(store.history, config, new Date('2026-11-29T23:55:00Z'))).toEqual([]);
    await dailyNotices(store.history, config, new Date('2026-11-30T00:05:00Z'));
    expect((await notices(store)).map((e) => e.text)).toEqual([
      '📦 alice moved 3 GB today (UTC), over the daily quota of 2 GB',
      "✅ resolved: alice's daily traffic quota starts over (a new UTC day)",
    ]);
  });

  it('the digest: after DIGEST_TIME, about the previous local day, once', async () => {
    await store.models.Event.deleteMany({ type: 'notice' });
    const config = { alerts: OFF, digest: { time: '08:00', timezone: 'Europe/Berlin' }, targets: ['slack'] };
    expect(await dailyNotices(store.history, config, new Date('2026-11-30T06:30:00Z'))).toEqual([]); // 07:30 in Berlin
    expect(await dailyNotices(store.history, config, new Date('2026-11-30T07:05:00Z'))).toHaveLength(1);
    expect(await dailyNotices(store.history, config, new Date('2026-11-30T07:10:00Z'))).toEqual([]);
    expect((await notices(store)).map((e) => e.text)).toEqual([
      '📊 Daily digest, 2026-11-29 (Europe/Berlin): peak 2 online at 2026-11-29 09:00 UTC · 2 users seen · traffic 3 GB · top: alice 3 GB, bob 1 MB · down: fra-1 30m · 1 kick',
    ]);
  });
});

describe('notices go through the outbox', () => {
  it('the notifier delivers an alert like any notice, once', async () => {
    const store = await openTestStore();
    try {
      await store.history.writeNotices([{ id: 'test|1', server: 'all', at: '2026-11-30T10:00:00.000Z', text: '📦 erin moved 3 GB today', guestText: '📦 erin moved 3 GB today', targets: ['log'] }]);
      const lines: string[] = [];
      const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)).msg as string); done(); } }));
      const notifier = new Notifier({ store, config: { servers: [], notices: { flapWindowSeconds: 60 } }, sinks: [], log, now: () => new Date('2026-11-30T10:00:05Z') });
      await notifier.runOnce();
      await notifier.runOnce();
      expect(lines).toEqual(['all: 📦 erin moved 3 GB today']);
      expect((await notices(store))[0]!.deliveries).toMatchObject([{ target: 'log', state: 'sent' }]);
    } finally {
      await dropTestStore(store);
    }
  });
});
