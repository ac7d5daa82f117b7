// `npm run bench -- notices`: what the notifier reads as history grows, on mongo-java-server (the
// offline engine, which uses no index but unique ones). A year of a busy fleet is millions of
// events; the notifier reads only the outbox (what is pending) by target, and events by _id. For
// comparison, the query the notifier used to run: the events with a pending delivery, which scans
// every event. Then a backlog: 1,000 notices waiting for one target, drained with pacing off.
import mongoose from 'mongoose';
import { pino } from 'pino';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { Notifier } from '../src/notify/notifier.ts';
import type { NoticeSink } from '../src/notify/targets.ts';

export interface NoticesBenchRow {
  events: number;
  /** A notifier run that posts 20 pending notices (one message: one server, one cycle). */
  runMs: number;
  /** A run with nothing pending. */
  idleRunMs: number;
  /** The former outbox query: events with a pending delivery, oldest 500. */
  eventsScanMs: number;
}

export interface NoticesBench {
  rows: NoticesBenchRow[];
  backlog: { notices: number; messages: number; ms: number };
}

const quiet = pino({ level: 'silent' });

/** `count` events; `pending` of them (the newest) still to be delivered to the log, with their outbox items. */
async function fill(store: Store, from: number, count: number, pending: number): Promise<void> {
  const events = store.models.Event.collection;
  for (let done = 0; done < count; done += 10_000) {
    const n = Math.min(10_000, count - done);
    const docs = Array.from({ length: n }, (_, i) => {
      const seq = from + done + i;
      const waiting = done + i >= count - pending;
      return {
        _id: new mongoose.Types.ObjectId(), type: 'connected', server: waiting ? 'vpn-1' : `vpn-${seq % 100}`, at: new Date(Date.UTC(2026, 0, 1) + seq * 1000), user: `u${seq}`,
        cycle: waiting ? `vpn-1@backlog-${Math.floor(seq / 20)}` : `c${seq}`, seq, deliveries: [{ target: 'log', state: waiting ? 'pending' : 'sent', attempts: waiting ? 0 : 1 }],
      };
    });
    await events.insertMany(docs);
    const items = docs.filter((d) => d.deliveries[0]!.state === 'pending').map((d) => ({
      _id: `${d._id.toHexString()}>log`, target: 'log', event: d._id.toHexString(), server: 'vpn-1', cycle: d.cycle, at: d.at, seq: d.seq,
    }));
    if (items.length) await (store.models.Outbox.collection as unknown as mongoose.mongo.Collection<{ _id: string }>).insertMany(items);
  }
}

export async function runNoticesBench(sizes = [10_000, 100_000, 1_000_000]): Promise<NoticesBench> {
  const engine = await startMongoJavaServer();
  const store = await Store.open(engine.uri, 'bench_notices');
  let posted = 0;
  const sink: NoticeSink = { target: 'log', post: async () => { posted++; return null; } };
  const notifier = new Notifier({ store, config: { servers: [], notices: { flapWindowSeconds: 60 } }, sinks: [sink], log: quiet, pacingMs: { log: 0 } });
  const rows: NoticesBenchRow[] = [];
  try {
    // Warm up (code paths, the engine's caches) on an empty history.
    await fill(store, 0, 20, 20);
    await notifier.runOnce();
    let stored = 20;
    for (const size of sizes) {
      await fill(store, stored, size - stored, 20);
      stored = size;
      let t = performance.now();
      await notifier.runOnce();
      const runMs = performance.now() - t;
      t = performance.now();
      await notifier.runOnce();
      const idleRunMs = performance.now() - t;
      // The former query; the 20 are delivered now, so it scans and finds none.
      t = performance.now();
      await store.models.Event.find({ 'deliveries.state': 'pending' }).sort({ at: 1, seq: 1 }).limit(500).lean();
      const eventsScanMs = performance.now() - t;
      rows.push({ events: size, runMs, idleRunMs, eventsScanMs });
    }
    posted = 0;
    await fill(store, stored, 1_000, 1_000);
    const t = performance.now();
    await notifier.runOnce();
    return { rows, backlog: { notices: 1_000, messages: posted, ms: performance.now() - t } };
  } finally {
    await notifier.stop();
    await store.close();
    await engine.stop();
  }
}

export function printNoticesBench(b: NoticesBench): void {
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log('| events stored | notifier run, 20 pending (ms) | idle run (ms) | scan of events for pending (ms) |');
  console.log('|--:|--:|--:|--:|');
  for (const r of b.rows) console.log(`| ${fmt(r.events)} | ${fmt(r.runMs)} | ${fmt(r.idleRunMs)} | ${fmt(r.eventsScanMs)} |`);
  console.log(`\nbacklog: ${fmt(b.backlog.notices)} notices for one target (50 poll cycles of one server) drained in ${fmt(b.backlog.ms)} ms as ${b.backlog.messages} messages (pacing off)`);
}
