// GET /api/stream with the real Poller, store and LiveFeed: an update only when what the page shows
// changed (reads that change nothing send nothing), version pings in between, a connection cap,
// and a client that stops reading is cut instead of buffered without end.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import type { LiveModeInfo, VpnSession } from '../src/domain.ts';
import { LiveFeed, liveUpdateOf, type StoredRead } from '../src/poll/live-feed.ts';
import { createMetrics, type Metrics } from '../src/metrics.ts';
import type { Poller } from '../src/poll/poller.ts';
import { emptyBaseline, type DiffResult, type ServerBaseline } from '../src/poll/diff.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { listen, type Listening } from './support/browser.ts';
import { failedRead, goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

let store: Store;
let live: LiveFeed;
let poller: Poller;
let app: Listening;
let metrics: Metrics;
let tmp: string;
let modes: Record<string, LiveModeInfo> = {};
const alice = vpnSession('alice', 10);
const bob = vpnSession('bob', 11);
/** alice as last read: her counters only go up (counters going back would be a new instance). */
let aliceNow = alice;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-stream-'));
  store = await openTestStore();
  live = new LiveFeed();
  poller = await testPoller(store, ['fra-1', 'ams-1'], live);
  await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [alice]), goodRead('ams-1', '2026-11-28T10:00:00.000Z', [])]);
  metrics = createMetrics();
  // PAGE_REFRESH=1: the stream pings every second.
  app = await listen(createWebApp({
    store, config: loadConfig({ PAGE_ACCESS: 'public', PAGE_REFRESH: '1' }, tmp), metrics, live, modes: () => modes,
    streams: { maxClients: 3, bufferLimitBytes: 64 * 1024 },
  }));
});

afterAll(async () => {
  await app?.close();
  if (store) await dropTestStore(store);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Message {
  event: string;
  data: { version: string; at: string; servers?: string[]; events?: { type: string; server: string; user: string | null }[]; moreEvents?: number };
}

/** An open stream that collects its messages. */
async function openStream(): Promise<{ messages: Message[]; waitFor(n: number, what: (m: Message) => boolean): Promise<Message[]>; close(): void }> {
  const abort = new AbortController();
  const res = await fetch(`${app.url}/api/stream`, { signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const messages: Message[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value);
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) messages.push({ event, data: JSON.parse(data) });
      }
    }
  })();
  return {
    messages,
    async waitFor(n, what) {
      await expect.poll(() => messages.filter(what).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(n);
      return messages.filter(what);
    },
    close() {
      abort.abort();
      void pump;
    },
  };
}

const updates = (m: Message) => m.event === 'update';
const pings = (m: Message) => m.event === 'version';

describe('what changed, from the poller', () => {
  const baseline = (over: Partial<ServerBaseline> = {}): ServerBaseline => ({ ...emptyBaseline(), sessions: {}, lastGoodAt: '2026-11-28T10:00:00.000Z', ...over });
  const diff = (over: Partial<DiffResult> = {}): DiffResult => ({
    baseline: baseline(), verdict: { source: 'status-file', result: 'ok', message: null }, affectsServer: true, events: [], rejected: null,
    ended: [], started: [], endedBy: new Map(), silent: new Set(), traffic: { received: 0, sent: 0, since: null }, ...over,
  });
  const read = (over: Partial<StoredRead>): StoredRead => ({ server: 'a', before: baseline(), diff: diff(), onlineWritten: false, sourceChanged: false, ...over });

  it('sessions, health and the counter write are told apart; a read that changes nothing is no update', () => {
    const at = '2026-11-28T10:00:00.000Z';
    expect(liveUpdateOf([read({})], at)).toBeNull();
    expect(liveUpdateOf([read({ onlineWritten: true })], at)).toMatchObject({ sessions: [], health: [], counters: ['a'], servers: ['a'] });
    expect(liveUpdateOf([read({ diff: diff({ started: [alice] }), onlineWritten: true })], at)).toMatchObject({ sessions: ['a'], counters: [] });
    const failing = diff({ rejected: { reason: 'error', message: 'x' }, baseline: baseline({ consecutiveFailures: 1 }) });
    expect(liveUpdateOf([read({ diff: failing })], at)).toMatchObject({ sessions: [], health: ['a'], counters: [] });
    // The status file failing while the management stream serves: the server is fine, its source is news.
    expect(liveUpdateOf([read({ diff: diff({ affectsServer: false, rejected: { reason: 'covered', message: 'x' } }), sourceChanged: true })], at)).toMatchObject({ sessions: [], health: ['a'] });
    // Never read before: the first read, good or not, changes what the page shows.
    expect(liveUpdateOf([read({ before: emptyBaseline(), onlineWritten: true })], at)).toMatchObject({ sessions: ['a'], health: ['a'] });
    expect(liveUpdateOf([read({ before: emptyBaseline(), diff: diff({ rejected: { reason: 'error', message: 'x' }, baseline: { ...emptyBaseline(), consecutiveFailures: 1 } }) })], at))
      .toMatchObject({ sessions: [], health: ['a'] });
  });
});

describe('the live stream', () => {
  it('sends the version on connect, pings it every refresh period, and sends nothing else while reads change nothing', async () => {
    const stream = await openStream();
    try {
      const [first] = await stream.waitFor(1, pings);
      expect(first!.data.version).toMatch(/^[\w-]{16}$/);
      // 20 management-style reads, counters moving a little each time, over ~2 s.
      for (let i = 1; i <= 20; i++) {
        aliceNow = { ...alice, bytesReceived: alice.bytesReceived + i };
        await poller.apply([goodRead('fra-1', new Date(Date.parse('2026-11-28T10:00:00.000Z') + i * 100).toISOString(), [aliceNow])]);
        await new Promise((r) => setTimeout(r, 100));
      }
      await stream.waitFor(3, pings);
      expect(stream.messages.filter(updates)).toEqual([]);
      expect(new Set(stream.messages.map((m) => m.data.version))).toEqual(new Set([first!.data.version]));
    } finally {
      stream.close();
    }
  });

  it('someone coming, going, or a server failing is an update at once (before the next ping), naming the servers and who, never an address', async () => {
    const stream = await openStream();
    try {
      const [hello] = await stream.waitFor(1, pings);
      await poller.apply([goodRead('fra-1', '2026-11-28T10:00:10.000Z', [aliceNow, bob])]);
      // Sent as soon as it is stored, not with the next ping: the update comes before any ping does.
      const [came] = await stream.waitFor(1, updates);
      expect(stream.messages.slice(stream.messages.indexOf(hello!) + 1, stream.messages.indexOf(came!)).filter(pings)).toEqual([]);
      expect(came!.data).toMatchObject({ servers: ['fra-1'], events: [{ type: 'connected', server: 'fra-1', user: 'bob' }] });
      expect(came!.data.version).not.toBe(hello!.data.version);
      expect(JSON.stringify(came)).not.toMatch(/203\.0\.113/);
      // The API shows it at once.
      const status = await (await fetch(`${app.url}/api/status`)).json();
      expect([status.version, status.counts.activeConnections]).toEqual([came!.data.version, 2]);

      await poller.apply([failedRead('ams-1', '2026-11-28T10:00:20.000Z', 'ams-1 (10.0.0.9:22): connection refused; is sshd listening on port 22?')]);
      const [, failed] = await stream.waitFor(2, updates);
      expect(failed!.data).toMatchObject({ servers: ['ams-1'], events: [{ type: 'server-down', server: 'ams-1', user: null }] });
      expect(JSON.stringify(failed)).not.toContain('10.0.0.9');
    } finally {
      stream.close();
    }
  });

  it('a server\'s mode changing (the management stream drops) is an update too', async () => {
    const stream = await openStream();
    try {
      await stream.waitFor(1, pings);
      modes = { 'fra-1': { mode: 'reconnecting', since: '2026-11-28T10:00:30.000Z', lastError: 'fra-1: the management interface closed the connection' } };
      const [changed] = await stream.waitFor(1, updates);
      expect(changed!.data.servers).toEqual([]);
      const status = await (await fetch(`${app.url}/api/status`)).json();
      expect(status.servers.find((s: { name: string }) => s.name === 'fra-1').mode).toBe('reconnecting');
      // Only the mode matters, not each read's time.
      modes = { 'fra-1': { ...modes['fra-1']!, lastReadAt: '2026-11-28T10:00:31.000Z' } };
      await stream.waitFor(3, pings);
      expect(stream.messages.filter(updates)).toHaveLength(1);
    } finally {
      stream.close();
    }
  });

  it('holds at most maxClients streams: one more gets 503 with Retry-After (the page polls), and a freed place is taken again', async () => {
    const open = await Promise.all([openStream(), openStream(), openStream()]);
    try {
      const refused = await fetch(`${app.url}/api/stream`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(await refused.json()).toEqual({ error: 'Too many live streams are open (3); the page checks for changes every 1 s instead.' });
      expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^vpnwatch_stream_dropped_total\{reason="full"\} 1$/m);
      open.pop()!.close();
      await expect.poll(async () => (await fetch(`${app.url}/metrics`).then((r) => r.text())).match(/^vpnwatch_stream_clients (\d+)$/m)?.[1]).toBe('2');
      const again = await openStream();
      again.close();
    } finally {
      for (const s of open) s.close();
    }
  });

  it('cuts a client that stops reading once 64 KiB wait for it; the others keep their stream', async () => {
    const clients = async () => (await fetch(`${app.url}/metrics`).then((r) => r.text())).match(/^vpnwatch_stream_clients (\d+)$/m)?.[1];
    await expect.poll(clients).toBe('0');
    const reading = await openStream();
    // A client that sends its request and then never reads: the kernel's buffers fill, then ours would.
    const stuck = net.connect(Number(new URL(app.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => stuck.once('connect', resolve));
    stuck.write('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    stuck.pause();
    stuck.on('error', () => undefined);
    try {
      await expect.poll(clients).toBe('2');
      // Updates of 200 events each with long names (~400 kB a message), one after the other, until
      // the server gives up on the stuck client (it cannot tell: its socket is paused with the FIN unread).
      const longName = (i: number) => `user-${i}-${'x'.repeat(2000)}`;
      let sent = 0;
      while ((await clients()) === '2' && sent < 200) {
        sent++;
        const events = Array.from({ length: 200 }, (_, i) => ({ type: 'connected' as const, server: 'fra-1', at: '2026-11-28T10:01:00.000Z', session: vpnSession(longName(i), i) as VpnSession }));
        live.publish({ events, servers: ['fra-1'], sessions: ['fra-1'], health: [], counters: [], at: new Date().toISOString() });
        await reading.waitFor(sent, updates);
      }
      // Cut after what the kernel holds (a few MB on loopback) plus 64 KiB: well before 200 messages (80 MB).
      expect(sent).toBeLessThan(100);
      expect(stuck.bytesRead).toBeLessThan(sent * 411_000);
      expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^vpnwatch_stream_dropped_total\{reason="slow"\} 1$/m);
      // The reading client got every update, each capped at 200 events, and still has its stream.
      expect(reading.messages.filter(updates)).toHaveLength(sent);
      expect(reading.messages.filter(updates).every((m) => m.data.events!.length === 200)).toBe(true);
      await poller.apply([goodRead('fra-1', '2026-11-28T10:02:00.000Z', [aliceNow])]);
      await reading.waitFor(sent + 1, updates);
    } finally {
      stuck.destroy();
      reading.close();
    }
  });
});
