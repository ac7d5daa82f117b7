// /metrics: names as Prometheus asks (checked by Prometheus' own promtool), per-server gauges read
// from the store at scrape time, and traffic as counters that only go up, from the real Poller.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { sessionKey, type ServerRead, type VpnSession } from '../src/domain.ts';
import { diffSnapshots, emptyBaseline, type ServerBaseline } from '../src/poll/diff.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics, type Metrics } from '../src/metrics.ts';
import { Poller } from '../src/poll/poller.ts';
import { logger } from '../src/log.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { listen, type Listening } from './support/browser.ts';
import { failedRead, goodRead, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const PROMTOOL = '/usr/bin/promtool';

let store: Store;
let metrics: Metrics;
let poller: Poller;
let app: Listening;
let tmp: string;

const at = (s: number) => new Date(Date.parse('2026-11-28T10:00:00.000Z') + s * 1000).toISOString();
const session = (name: string, n: number, received: number, sent: number, extra: Partial<VpnSession> = {}) => vpnSession(name, n, { bytesReceived: received, bytesSent: sent, ...extra });

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-metrics-'));
  store = await openTestStore();
  metrics = createMetrics();
  const servers = ['fra-1', 'ams-1'].map((name) => ({
    name, host: `${name}.vpn.example`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true,
    statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 60, timezone: 'UTC',
  }));
  const live = new LiveFeed();
  poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 1, targets: () => ['log'], log: logger.child({ module: 'test-poller' }), metrics, live });
  await poller.start();
  app = await listen(createWebApp({ store, config: loadConfig({ PAGE_ACCESS: 'public' }, tmp), metrics, live }));
});

afterAll(async () => {
  await app?.close();
  if (store) await dropTestStore(store);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const scrape = async () => (await fetch(`${app.url}/metrics`)).text();
const sample = (text: string, series: string) => {
  const m = new RegExp(`^${series.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('traffic counters', () => {
  const T0 = '2026-11-28T10:00:00.000Z';
  const read = (sessions: VpnSession[]): ServerRead => goodRead('x', '2026-11-28T10:00:02.000Z', sessions);
  const baseline = (sessions: VpnSession[]): ServerBaseline => ({ ...emptyBaseline(), lastGoodAt: T0, statusUpdatedAt: T0, source: 'status-file', sessions: Object.fromEntries(sessions.map((s) => [sessionKey(s), s])) });
  const traffic = (before: ServerBaseline, r: ServerRead, leaving?: VpnSession[]) => {
    const { received, sent } = diffSnapshots(before, r, { downAfter: 3, staleAfterMs: 60_000, leaving: new Map((leaving ?? []).map((s) => [sessionKey(s), { clientId: s.clientId }])) }).traffic;
    return { received, sent };
  };

  it('the diff counts increases of the same instance, new instances whole, the last increase of one leaving, nothing for the first read or a failed one', () => {
    const a1 = session('a', 1, 1000, 2000);
    const a2 = { ...a1, bytesReceived: 1500, bytesSent: 2600 };
    expect(traffic(baseline([a1]), read([a2]))).toEqual({ received: 500, sent: 600 });
    // A new Client ID at the same address, or counters that went back: a new instance, from 0.
    expect(traffic(baseline([a2]), read([{ ...a1, clientId: 99, bytesReceived: 70, bytesSent: 80 }]))).toEqual({ received: 70, sent: 80 });
    expect(traffic(baseline([a2]), read([{ ...a1, bytesReceived: 70, bytesSent: 80 }]))).toEqual({ received: 70, sent: 80 });
    // Leaving (exit notice seen, or kicked): still listed but no longer online: its last increase counts.
    expect(traffic(baseline([a2]), read([{ ...a2, bytesReceived: 1600, bytesSent: 2700 }]), [a2])).toEqual({ received: 100, sent: 100 });
    // Listed while authenticating (no virtual address): nothing until it is online, then all of it.
    const authenticating = session('b', 2, 300, 400, { virtualAddress: null });
    expect(traffic(baseline([a2]), read([a2, authenticating]))).toEqual({ received: 0, sent: 0 });
    expect(traffic(baseline([a2]), read([a2, { ...authenticating, virtualAddress: '10.8.0.2', bytesReceived: 350 }]))).toEqual({ received: 350, sent: 400 });
    expect(traffic(emptyBaseline(), read([a1]))).toEqual({ received: 0, sent: 0 });
    expect(traffic(baseline([a1]), failedRead('x', '2026-11-28T10:00:02.000Z', 'down'))).toEqual({ received: 0, sent: 0 });
  });

  it('/metrics: per-server counters that only go up through comings and goings, while the online gauge goes down', async () => {
    const alice = session('alice', 10, 1000, 2000);
    const bob = session('bob', 11, 500, 500);
    const counters = async () => {
      const text = await scrape();
      return {
        received: sample(text, 'vpnwatch_traffic_received_bytes_total{server="fra-1"}'),
        sent: sample(text, 'vpnwatch_traffic_sent_bytes_total{server="fra-1"}'),
        online: sample(text, 'vpnwatch_sessions_online{server="fra-1"}'),
      };
    };
    const seen = [];
    await poller.apply([goodRead('fra-1', at(0), [alice, bob]), goodRead('ams-1', at(0), [])]);
    seen.push(await counters()); // the first read: counters before vpnwatch watched are not traffic it saw
    await poller.apply([goodRead('fra-1', at(2), [{ ...alice, bytesReceived: 4000, bytesSent: 9000 }, { ...bob, bytesReceived: 600, bytesSent: 700 }])]);
    seen.push(await counters());
    // bob leaves with 100/100 more than last seen (his exit notice arrived while he was still listed).
    expect(poller.noteLeaving('fra-1', bob)).toBe(true);
    await poller.apply([goodRead('fra-1', at(4), [{ ...alice, bytesReceived: 4000, bytesSent: 9000 }, { ...bob, bytesReceived: 700, bytesSent: 800 }])]);
    seen.push(await counters());
    // alice reconnects (a new Client ID): her new instance counts from 0.
    await poller.apply([goodRead('fra-1', at(6), [{ ...alice, clientId: 77, bytesReceived: 10, bytesSent: 20 }])]);
    seen.push(await counters());
    // A failed read changes nothing.
    await poller.apply([failedRead('fra-1', at(8), 'fra-1 (10.0.0.5:22): TCP connect timed out')]);
    seen.push(await counters());
    expect(seen).toEqual([
      { received: 0, sent: 0, online: 2 },
      { received: 3000 + 100, sent: 7000 + 200, online: 2 },
      { received: 3100 + 100, sent: 7200 + 100, online: 1 },
      { received: 3200 + 10, sent: 7300 + 20, online: 1 },
      { received: 3210, sent: 7320, online: 1 },
    ]);
    const text = await scrape();
    expect(text).toMatch(/^# TYPE vpnwatch_traffic_received_bytes_total counter$/m);
    expect(sample(text, 'vpnwatch_traffic_received_bytes_total{server="ams-1"}')).toBe(0);
    expect(sample(text, 'vpnwatch_server_up{server="fra-1"}')).toBe(0);
    expect(sample(text, 'vpnwatch_server_up{server="ams-1"}')).toBe(1);
  });
});

describe('names', () => {
  it('vpnwatch_ metrics, and Node\'s own under their standard names (no doubled prefix, no byte gauges)', async () => {
    const text = await scrape();
    const names = [...new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`))];
    expect(names.filter((n) => n.startsWith('vpnwatch_')).sort()).toEqual([
      'vpnwatch_database_up gauge',
      'vpnwatch_notice_deliveries_total counter',
      'vpnwatch_poll_cycle_duration_seconds histogram',
      'vpnwatch_poll_duration_seconds histogram',
      'vpnwatch_poll_failures_total counter',
      'vpnwatch_poll_held_batches gauge',
      'vpnwatch_reads_superseded_total counter',
      'vpnwatch_server_up gauge',
      'vpnwatch_sessions_online gauge',
      'vpnwatch_stream_clients gauge',
      'vpnwatch_stream_dropped_total counter',
      'vpnwatch_traffic_received_bytes_total counter',
      'vpnwatch_traffic_sent_bytes_total counter',
    ]);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).not.toMatch(/vpnwatch_process_|vpnwatch_bytes_/);
  });
});

const describeWithPromtool = requirePrerequisite(
  fs.existsSync(PROMTOOL) ? { ok: true } : { ok: false, why: `no ${PROMTOOL} (apt-get install prometheus)` },
  'promtool',
);

describeWithPromtool('promtool check metrics', () => {
  it('finds nothing to say about vpnwatch\'s metrics (prom-client\'s own nodejs_* gauges named _total are its business)', async () => {
    const text = await scrape();
    const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d));
      child.stderr.on('data', (d: Buffer) => (output += d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, output }));
      child.stdin.end(text);
    });
    const findings = result.output.split('\n').filter(Boolean);
    const ours = findings.filter((line) => !/^nodejs_\w+ /.test(line));
    expect(ours).toEqual([]);
    // promtool does read the text (a broken exposition would be an error, not findings).
    expect(spawnSync(PROMTOOL, ['check', 'metrics'], { input: 'not metrics at all\n' }).status).not.toBe(0);
  });
});
