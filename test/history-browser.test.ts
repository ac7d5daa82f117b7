// The history charts in a real browser (Debian's Chromium), drawn from the demo fleet's data: the
// demo's simulated servers read over SSH by the real poll code, stored by the real Poller and
// HistoryRecorder, served by the real app. The charts render, show a point's time and values on
// hover, follow dark mode, redraw when the live stream says something was stored, and a user's
// page (admin only) charts their sessions and days.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startDemoFleet, type DemoFleet } from '../src/demo/fleet.ts';
import { logger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import { HistoryRecorder } from '../src/poll/history-recorder.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { Poller } from '../src/poll/poller.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { SshPool } from '../src/ssh.ts';
import { DAY_MS } from '../src/store/history.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { CHROMIUM, CHROMIUM_ARGS, chromiumPrerequisite, listen, type Listening } from './support/browser.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const TOKEN = 'history-browser-token';
const ARTIFACTS = path.resolve('test-artifacts');
const describeWithChromium = requirePrerequisite(chromiumPrerequisite(), 'chromium');

describeWithChromium('history charts in Chromium, with the demo fleet', () => {
  let store: Store;
  let fleet: DemoFleet;
  let pool: SshPool;
  let poller: Poller;
  let history: HistoryRecorder;
  let app: Listening;
  let browser: Browser;
  let tmp: string;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  /** One poll of the demo fleet through the real pipeline, its history written. */
  async function pollOnce(): Promise<void> {
    await poller.apply(await readServers(fleet.servers, pool, { concurrency: 3, timeoutMs: 10_000 }));
    await history.flush();
  }

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-history-browser-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // Steps only when the test says (an hour between automatic ones).
    fleet = await startDemoFleet({ stepSeconds: 3600, seed: 7 });
    pool = new SshPool({ connectTimeoutMs: 10_000 });
    store = await openTestStore();
    const live = new LiveFeed();
    history = new HistoryRecorder({ history: store.history, maxSpanMs: 600_000, minutesRetainMs: 7 * DAY_MS, log: logger });
    poller = new Poller({ store, servers: fleet.servers, pollIntervalSeconds: 5, downAfter: 3, targets: () => ['log'], log: logger, live, history });
    await poller.start();
    await pollOnce();
    fleet.step();
    await pollOnce();
    await store.history.rollUp(new Date(), { minutesDays: 7, hoursDays: 400, retentionDays: 400 });
    app = await listen(createWebApp({ store, config: loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN }, tmp), metrics: createMetrics(), live }));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await pool?.closeAll();
    await fleet?.stop();
    if (store) await dropTestStore(store);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    expect(problems.splice(0)).toEqual([]);
  });

  async function open(url: string, options: { colorScheme?: 'light' | 'dark'; admin?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light',
      ...(options.admin ? { extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } } : {}),
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    await page.goto(url);
    await page.locator('[data-history][data-drawn-at]').waitFor();
    return page;
  }

  const pathOf = (page: Page, chart: string, series: string) => page.locator(`[data-chart="${chart}"] path[data-series="${series}"]`).getAttribute('d');

  it('draws the fleet and each demo server from the first minutes of data', async () => {
    const page = await open(app.url);
    await page.locator('.history').screenshot({ path: path.join(ARTIFACTS, 'history-charts.png') });
    for (const chart of ['online-total', 'traffic-total', 'online-servers']) {
      expect(Number(await page.locator(`[data-chart="${chart}"] svg`).getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    }
    expect(await pathOf(page, 'online-total', 'peak')).toMatch(/^M[\d.]+,[\d.]+/);
    expect(await page.locator('[data-chart="online-servers"] .legend').textContent()).toBe('demo-amsdemo-frademo-nyc');
    // The y axis says the peak: the fleet's online count as the API has it.
    const api = (await (await fetch(`${app.url}/api/history?server=all`)).json()) as { series: { points: { online: number }[] }[] };
    const peak = Math.max(...api.series[0]!.points.map((p) => p.online));
    expect(peak).toBeGreaterThan(20);
    expect(await page.locator('[data-chart="online-total"] text.label').first().textContent()).toBe(String(peak));
  });

  it('hovering shows the time and the values of the nearest point', async () => {
    const page = await open(app.url);
    const hit = page.locator('[data-chart="online-total"] rect.hit');
    const box = (await hit.boundingBox())!;
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    const tip = page.locator('[data-chart="online-total"] .tip');
    await expect.poll(() => tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTCpeak \d+ onlinemean [\d.]+$/);
    await page.mouse.move(box.x + box.width - 2, box.y + box.height + 100);
    await expect.poll(() => tip.isVisible()).toBe(false);
  });

  it('follows dark mode', async () => {
    const page = await open(app.url, { colorScheme: 'dark' });
    const stroke = await page.locator('[data-chart="online-total"] path.line.s0').evaluate((el) => getComputedStyle(el).stroke);
    expect(stroke).toBe('rgb(60, 207, 122)');
    await page.locator('.history').screenshot({ path: path.join(ARTIFACTS, 'history-charts-dark.png') });
  });

  it('redraws when the live stream says something was stored', async () => {
    const page = await open(app.url);
    const drawnAt = await page.locator('[data-history]').getAttribute('data-drawn-at');
    // The traffic chart's scale is the largest step's bytes: this minute's step grows with the next poll.
    const scale = () => page.locator('[data-chart="traffic-total"] text.label').first().textContent();
    const before = await scale();
    fleet.step(); // every demo session moves bytes
    await pollOnce();
    await expect.poll(() => page.locator('[data-history]').getAttribute('data-drawn-at'), { timeout: 15_000 }).not.toBe(drawnAt);
    await expect.poll(scale, { timeout: 15_000 }).not.toBe(before);
  });

  it("a user's page: admin only; their sessions over time and their days", async () => {
    const user = (await store.queries.online())[0]!.commonName;
    const anonymous = await fetch(`${app.url}/users/${encodeURIComponent(user)}`);
    expect(anonymous.status).toBe(401);
    const page = await open(`${app.url}/users/${encodeURIComponent(user)}`, { admin: true });
    expect(await page.locator('h1').textContent()).toBe(user);
    expect(Number(await page.locator('[data-chart="user-sessions"] svg').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-chart="user-sessions"] rect.bar').count()).toBeGreaterThanOrEqual(1);
    expect(Number(await page.locator('[data-chart="user-traffic"] svg').getAttribute('data-points'))).toBe(1); // today
    await page.locator('.history').screenshot({ path: path.join(ARTIFACTS, 'history-user.png') });
  });
});
