// History at fleet scale: 200 servers × 30 days of minute samples (8.64 million points, in
// 144,000 server-hour documents) with a population of 5,000 users (25 per server-hour), written
// into mongo-java-server (or MONGODB_URI) as the poller's recorder writes them; then the history
// job's first run (rolls all 30 days up), retention back to HISTORY_MINUTES_DAYS (7), and the
// reads people make: GET /api/history for 24 h, 7 d and 30 d over all servers (one request each,
// through the real app; 200 servers is more than 50, so the answer is the fleet's series), one
// server's 7 days, and /vpn top 30d. Storage per server per day from the engine's collStats.
//
// Run: npm run bench -- history   (or: node bin/run-ts bench/history.ts)
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { dispatch } from '../src/dispatch.ts';
import type { KickOutcome } from '../src/domain.ts';
import { createMetrics } from '../src/metrics.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { seededRandom } from '../src/demo/synthetic-sessions.ts';
import { startMongoJavaServer, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { DAY_MS, encodeKey, floorTo, HOUR_MS, type MinuteSlot, type UserFigures } from '../src/store/history.ts';
import { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen } from '../test/support/browser.ts';

export interface HistoryBenchOptions {
  servers: number;
  days: number;
  users: number;
  usersPerServerHour: number;
  repeats: number;
  mongoUri?: string;
}

export interface HistoryBenchResult {
  options: HistoryBenchOptions;
  engine: string;
  points: number;
  writeSeconds: number;
  rollUpSeconds: number;
  retentionSeconds: number;
  /** One run of the job as it runs every 5 minutes once caught up. */
  steadyRollUpSeconds: number;
  queries: { name: string; documents: string; medianMs: number; maxMs: number; points: number }[];
  storage: { collection: string; documents: number; bytes: number }[];
  bytesPerServerDay: { minutes: number; hours: number; usersPerDay: number };
  load: number[];
}

const DEFAULTS: HistoryBenchOptions = { servers: 200, days: 30, users: 5_000, usersPerServerHour: 25, repeats: 7 };
const HISTORY = { minutesDays: 7, hoursDays: 400, retentionDays: 400 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runHistoryBench(partial: Partial<HistoryBenchOptions> = {}): Promise<HistoryBenchResult> {
  const options = { ...DEFAULTS, ...partial };
  let mongo: EmbeddedMongo | undefined;
  const uri = options.mongoUri ?? (mongo = await startMongoJavaServer()).uri;
  const store = await Store.open(uri, `vpnwatch_bench_history_${process.pid}`);
  try {
    const now = Date.now();
    const lastHour = floorTo(now, HOUR_MS);
    const firstHour = lastHour - options.days * 24 * HOUR_MS + HOUR_MS;
    const names = Array.from({ length: options.servers }, (_, i) => `srv-${String(i + 1).padStart(3, '0')}`);
    await store.models.Server.insertMany(names.map((name) => ({ name })));
    const random = seededRandom(13);

    // The recorder's documents, hour by hour: ~500 online on each server by day, ~100 at night.
    const started = performance.now();
    let points = 0;
    for (let hour = firstHour; hour <= lastHour; hour += HOUR_MS) {
      const daylight = 0.2 + 0.8 * Math.max(0, Math.sin(((new Date(hour).getUTCHours() - 6) / 24) * 2 * Math.PI));
      const docs = names.map((server, s) => {
        const m: Record<string, MinuteSlot> = {};
        for (let minute = 0; minute < 60 && hour + minute * 60_000 <= now; minute++) {
          const online = Math.round(500 * daylight * (0.9 + 0.2 * random()));
          m[String(minute)] = [online, Math.round(online * 2e5 * random()), Math.round(online * 2e6 * random())];
          points += 1;
        }
        const u: Record<string, UserFigures> = {};
        for (let k = 0; k < options.usersPerServerHour; k++) {
          const user = `user-${(s * options.usersPerServerHour + k + Math.floor(hour / HOUR_MS) * 7) % options.users}`;
          u[encodeKey(user)] = [Math.round(3e8 * random()), Math.round(3e9 * random()), Math.round(3600 * random()), random() < 0.3 ? 1 : 0];
        }
        return { _id: `${server}|${new Date(hour).toISOString().slice(0, 13)}`, server, hour: new Date(hour), m, u, expireAt: new Date(hour + HOUR_MS + 40 * DAY_MS) };
      });
      await store.models.HistoryMinutes.collection.insertMany(docs as never[], { ordered: false });
    }
    const writeSeconds = (performance.now() - started) / 1000;

    // The job's first run rolls everything (minutes kept 31 days here), then retention trims to 7.
    let t = performance.now();
    await store.history.rollUp(new Date(now), { ...HISTORY, minutesDays: options.days + 1 });
    const rollUpSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await store.history.deleteExpired(new Date(now), HISTORY);
    const retentionSeconds = (performance.now() - t) / 1000;
    // A run as every 5 minutes: the current and previous hour, today's users, the top lists, retention.
    t = performance.now();
    await store.history.rollUp(new Date(now + 60_000), HISTORY);
    const steadyRollUpSeconds = (performance.now() - t) / 1000;

    const storage: HistoryBenchResult['storage'] = [];
    for (const collection of ['history_minutes', 'history_hours', 'history_user_hours', 'history_days', 'history_user_days', 'history_meta']) {
      const stats = (await store.connection.db!.command({ collStats: collection })) as { count: number; size: number };
      storage.push({ collection, documents: stats.count, bytes: stats.size });
    }
    const size = (c: string) => storage.find((s) => s.collection === c)!.bytes;
    const bytesPerServerDay = {
      minutes: Math.round(size('history_minutes') / ((options.servers + 1) * HISTORY.minutesDays)),
      hours: Math.round(size('history_hours') / ((options.servers + 1) * options.days)),
      usersPerDay: Math.round((size('history_days') + size('history_user_days')) / options.days),
    };

    const tmp = os.tmpdir();
    const app = await listen(createWebApp({ store, config: loadConfig({ VPNWATCH_ADMIN_TOKEN: 'bench' }, tmp), metrics: createMetrics(), live: new LiveFeed() }));
    const kicker = { kick: async (): Promise<KickOutcome> => ({ result: 'not-found', sessions: [], verified: false, message: '' }), refuse: async () => {} };
    const queries: HistoryBenchResult['queries'] = [];
    const time = async (name: string, documents: string, run: () => Promise<number>) => {
      const ms: number[] = [];
      let n = 0;
      await run(); // warm: the first request also loads the route's modules
      await new Promise((resolve) => setTimeout(resolve, 2000)); // the engine settles (a JVM collects after the big deletion)
      for (let i = 0; i < options.repeats; i++) {
        const s = performance.now();
        n = await run();
        ms.push(performance.now() - s);
      }
      queries.push({ name, documents, medianMs: Math.round(median(ms) * 10) / 10, maxMs: Math.round(Math.max(...ms) * 10) / 10, points: n });
    };
    const fetchPoints = async (query: string) => {
      const body = (await (await fetch(`${app.url}/api/history${query}`)).json()) as { series: { points: unknown[] }[] };
      return body.series.reduce((n, s) => n + s.points.length, 0);
    };
    const iso = (ms: number) => new Date(now - ms).toISOString();
    try {
      await time('GET /api/history (24 h, all servers)', '25 fleet minute documents', () => fetchPoints(''));
      await time('GET /api/history (7 d, all servers)', '169 fleet minute documents', () => fetchPoints(`?from=${iso(7 * DAY_MS)}`));
      await time('GET /api/history (30 d, all servers)', '31 fleet day documents + 2 minute documents', () => fetchPoints(`?from=${iso(30 * DAY_MS)}`));
      await time('GET /api/history?server=srv-001 (7 d)', '169 minute documents', () => fetchPoints(`?server=srv-001&from=${iso(7 * DAY_MS)}`));
      await time('/vpn top 30d', '1 precomputed top list', async () => {
        const reply = await dispatch('top 30d', { platform: 'cli', userId: 'bench', userName: 'bench' }, { store, kicker, config: { servers: [] } });
        return reply.table?.rows.length ?? 0;
      });
    } finally {
      await app.close();
    }
    return { options, engine: options.mongoUri ? 'MONGODB_URI' : 'mongo-java-server', points, writeSeconds, rollUpSeconds, retentionSeconds, steadyRollUpSeconds, queries, storage, bytesPerServerDay, load: os.loadavg() };
  } finally {
    await store.connection.dropDatabase().catch(() => undefined);
    await store.close();
    await mongo?.stop();
  }
}

export function printHistoryBench(r: HistoryBenchResult): void {
  const o = r.options;
  console.log(`${o.servers} servers × ${o.days} days: ${r.points.toLocaleString('en')} minute samples, ${o.users.toLocaleString('en')} users (${o.usersPerServerHour} per server-hour), ${r.engine}; load average ${r.load.map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`written in ${r.writeSeconds.toFixed(1)} s; the history job's first run (all ${o.days} days) ${r.rollUpSeconds.toFixed(1)} s; retention to 7 days of minutes ${r.retentionSeconds.toFixed(1)} s; a run of the job once caught up (every 5 min) ${r.steadyRollUpSeconds.toFixed(1)} s\n`);
  console.log('| read | documents | median ms | max ms | points / rows |');
  console.log('|---|---|--:|--:|--:|');
  for (const q of r.queries) console.log(`| ${q.name} | ${q.documents} | ${q.medianMs} | ${q.maxMs} | ${q.points} |`);
  console.log('\n| collection | documents | MB |');
  console.log('|---|--:|--:|');
  for (const s of r.storage) console.log(`| ${s.collection} | ${s.documents.toLocaleString('en')} | ${(s.bytes / 1e6).toFixed(1)} |`);
  const b = r.bytesPerServerDay;
  console.log(`\nper server per day: minute samples ${(b.minutes / 1000).toFixed(1)} kB (kept ${HISTORY.minutesDays} days), hourly samples ${(b.hours / 1000).toFixed(2)} kB (kept ${HISTORY.hoursDays} days); users' days ${(b.usersPerDay / 1e6).toFixed(2)} MB per day for the fleet`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) printHistoryBench(await runHistoryBench());
