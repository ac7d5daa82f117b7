// The status page in a real browser: Debian's Chromium driven by playwright-core, against the real
// app, store and Poller. What a person sees: counts and rows, the filter, live updates without a
// reload, common names as text, masked addresses until the admin signs in, and screenshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import type { VpnSession } from '../src/domain.ts';
import { LiveFeed } from '../src/poll/live-feed.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Poller } from '../src/poll/poller.ts';
import type { Store } from '../src/store/store.ts';
import { createWebApp } from '../src/web/server.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { CHROMIUM, CHROMIUM_ARGS, chromiumPrerequisite, listen, type Listening } from './support/browser.ts';
import { failedRead, goodRead, testPoller, vpnSession } from './support/data.ts';
import { dropTestStore, openTestStore } from './support/store.ts';

const TOKEN = 'browser-admin-token-42';
const NOW = new Date('2026-11-28T10:03:00.000Z');
const SCRIPT_CN = '<script>alert(1)</script>';
const ARTIFACTS = path.resolve('test-artifacts');

const describeWithChromium = requirePrerequisite(chromiumPrerequisite(), 'chromium');

describeWithChromium('status page in Chromium', () => {
  let store: Store;
  let live: LiveFeed;
  let poller: Poller;
  let app: Listening;
  /** The same store, refreshing every second, with no live stream: the fallback path. */
  let pollingApp: Listening;
  let browser: Browser;
  let tmp: string;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const dialogs: string[] = [];

  const fleet: VpnSession[] = Array.from({ length: 60 }, (_, i) => vpnSession(`user-${String(i + 1).padStart(2, '0')}`, 100 + i));
  let fra1 = [vpnSession('alice', 10), vpnSession(SCRIPT_CN, 11), ...fleet];
  const ams1 = [vpnSession('carol', 20), vpnSession('dave', 21)];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-browser-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    store = await openTestStore();
    live = new LiveFeed();
    poller = await testPoller(store, ['fra-1', 'ams-1', 'lon-1'], live);
    await poller.apply([
      goodRead('fra-1', '2026-11-28T10:00:00.000Z', fra1),
      goodRead('ams-1', '2026-11-28T10:00:00.000Z', [...ams1, vpnSession('frank', 22)]),
      failedRead('lon-1', '2026-11-28T10:00:00.000Z', 'connect ETIMEDOUT'),
    ]);
    await poller.apply([goodRead('ams-1', '2026-11-28T10:01:00.000Z', ams1)]);

    const metrics = createMetrics();
    app = await listen(createWebApp({ store, config: loadConfig({ VPNWATCH_ADMIN_TOKEN: TOKEN, PAGE_REFRESH: '60' }, tmp), metrics, live, now: () => NOW }));
    pollingApp = await listen(createWebApp({ store, config: loadConfig({ PAGE_REFRESH: '1' }, tmp), metrics, live: new LiveFeed(), now: () => NOW }));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await pollingApp?.close();
    if (store) await dropTestStore(store);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    // Script errors, CSP violations and failed requests show up here; none are expected.
    expect(problems.splice(0)).toEqual([]);
    expect(dialogs.splice(0)).toEqual([]);
  });

  async function open(url: string, options: { javaScriptEnabled?: boolean; colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
      javaScriptEnabled: options.javaScriptEnabled ?? true,
      colorScheme: options.colorScheme ?? 'light',
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    page.on('dialog', (dialog) => { dialogs.push(dialog.message()); void dialog.dismiss(); });
    await page.goto(url);
    return page;
  }

  const card = (page: Page, id: string) => page.locator(`[data-card="${id}"] .value`);
  const sessionRows = (page: Page) => page.locator('#sessions tbody tr');
  const cellsOf = (page: Page, key: string) => page.locator(`#sessions tbody tr[data-key="${key}"] td`).allTextContents();

  it('shows the right counts and rows for a known state (screenshots in test-artifacts/)', async () => {
    const page = await open(app.url);
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page.png'), fullPage: true });
    expect(await page.title()).toBe('VPN status · vpnwatch');
    expect(await card(page, 'usersOnline').textContent()).toBe('64');
    expect(await card(page, 'activeConnections').textContent()).toBe('64');
    expect(await card(page, 'activeServers').textContent()).toBe('2 / 3');
    expect(await page.locator('[data-card="activeServers"] .note').textContent()).toBe('1 unhealthy');
    expect(await card(page, 'averageConnection').textContent()).toBe('1h 3m');
    expect(await sessionRows(page).count()).toBe(64);
    expect(await cellsOf(page, 'fra-1#10')).toEqual(['alice', 'fra-1', '203.0.113.x', '10.8.0.10', '2026-11-28 09:00 UTC', '1h 3m', '10 kB', '20 kB']);
    expect(await page.locator('#servers tbody tr').evaluateAll((rows) => rows.map((r) => [...(r as HTMLTableRowElement).cells].slice(0, 3).map((c) => c.textContent)))).toEqual([
      ['ams-1', '2', 'ok'], ['fra-1', '62', 'ok'], ['lon-1', '0', 'down'],
    ]);
    expect(await page.locator('#recent tbody tr td:first-child').allTextContents()).toEqual(['frank']);
    expect(await page.locator('#offline tbody tr td:first-child').allTextContents()).toEqual(['frank']);
    // Badges: green for online users, grey for offline ones.
    const dotColour = (selector: string) => page.locator(selector).first().evaluate((el) => getComputedStyle(el, '::before').backgroundColor);
    expect(await dotColour('#sessions td.dot.on')).toBe('rgb(31, 157, 85)');
    expect(await dotColour('#offline td.dot.off')).toBe('rgb(154, 163, 173)');

    const dark = await open(app.url, { colorScheme: 'dark' });
    expect(await dark.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(18, 21, 27)');
    await dark.screenshot({ path: path.join(ARTIFACTS, 'status-page-dark.png'), fullPage: true });
    expect(fs.statSync(path.join(ARTIFACTS, 'status-page.png')).size).toBeGreaterThan(10_000);
  });

  it('fits a phone screen: cards in two columns, the wide tables scroll inside their boxes', async () => {
    const page = await open(app.url, { width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page-phone.png') });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const boxes = await page.locator('.card').evaluateAll((cards) => cards.map((c) => c.getBoundingClientRect().left));
    expect(new Set(boxes).size).toBe(2);
    expect(await page.locator('#sessions').evaluate((t) => t.parentElement!.scrollWidth > t.parentElement!.clientWidth)).toBe(true);
  });

  it('the server filter shows one server, keeps it in the URL, and sorting by a column works', async () => {
    const page = await open(app.url);
    await page.selectOption('#server-filter', 'ams-1');
    await expect.poll(() => sessionRows(page).count()).toBe(2);
    expect(await page.locator('#sessions tbody tr td:nth-child(2)').allTextContents()).toEqual(['ams-1', 'ams-1']);
    expect(new URL(page.url()).search).toBe('?server=ams-1');
    expect(await page.locator('#sessions-note').textContent()).toBe('Showing 2 of 64 connections');

    await page.selectOption('#server-filter', '');
    await expect.poll(() => sessionRows(page).count()).toBe(64);
    await page.click('#sessions th >> text="In"');
    await expect.poll(() => page.locator('#sessions th[aria-sort]').textContent()).toBe('In');
    expect(await page.locator('#sessions th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
    expect(await page.locator('#sessions tbody tr:first-child td:first-child').textContent()).toBe('user-60');
    expect(new URL(page.url()).search).toBe('?sort=in&dir=desc');

    // A reload (or a shared link) shows the same view, rendered by the server.
    await page.goto(`${app.url}/?server=ams-1`);
    expect(await sessionRows(page).count()).toBe(2);
    expect(await page.locator('#server-filter').inputValue()).toBe('ams-1');
  });

  it('without JavaScript the page reloads itself (meta refresh); with JavaScript that tag is inert', async () => {
    const noJs = await open(`${app.url}/?server=ams-1`, { javaScriptEnabled: false });
    expect(await noJs.locator('head meta[http-equiv="refresh"]').getAttribute('content')).toBe('60');
    expect(await noJs.locator('#filter button[type="submit"]').isVisible()).toBe(true);
    const withJs = await open(app.url);
    expect(await withJs.locator('head meta[http-equiv="refresh"]').count()).toBe(0);
  });

  it('a new connection appears through the live stream without a reload; filter and scroll stay', async () => {
    const page = await open(`${app.url}/?server=fra-1`, { height: 600 });
    await expect.poll(() => page.locator('#live').isVisible()).toBe(true);
    const scroller = page.locator('#sessions').locator('xpath=..');
    await scroller.evaluate((el) => { el.scrollTop = 400; });
    await page.evaluate(() => { (window as unknown as { marker: string }).marker = 'same page'; });

    const zed = vpnSession('zed', 200);
    fra1 = [...fra1, zed];
    await poller.apply([goodRead('fra-1', '2026-11-28T10:02:00.000Z', fra1)]);
    // The page refreshes every 60 s: only the live stream can bring this in time.
    await expect.poll(() => cellsOf(page, 'fra-1#200'), { timeout: 5000 }).toEqual(['zed', 'fra-1', '203.0.113.x', '10.8.0.200', '2026-11-28 09:00 UTC', '1h 3m', '200 kB', '400 kB']);
    expect(await card(page, 'activeConnections').textContent()).toBe('65');
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('same page');
    expect(await page.locator('#server-filter').inputValue()).toBe('fra-1');
    expect(await sessionRows(page).count()).toBe(63);
    expect(await scroller.evaluate((el) => el.scrollTop)).toBe(400);
  });

  it('when the live stream says nothing, the periodic refresh still brings changes in', async () => {
    const page = await open(pollingApp.url);
    await page.evaluate(() => { (window as unknown as { marker: string }).marker = 'same page'; });
    fra1 = [...fra1, vpnSession('yara', 201)];
    await poller.apply([goodRead('fra-1', '2026-11-28T10:02:30.000Z', fra1)]);
    await expect.poll(() => cellsOf(page, 'fra-1#201').then((c) => c[0]), { timeout: 10_000 }).toBe('yara');
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('same page');
  });

  it('a <script> common name stays text, in the first render and in live-patched rows', async () => {
    const page = await open(app.url);
    expect((await cellsOf(page, 'fra-1#11'))[0]).toBe(SCRIPT_CN);
    const img = '<img src=x onerror=alert(2)>';
    fra1 = [...fra1, vpnSession(img, 202)];
    await poller.apply([goodRead('fra-1', '2026-11-28T10:02:45.000Z', fra1)]);
    await expect.poll(() => cellsOf(page, 'fra-1#202').then((c) => c[0]), { timeout: 5000 }).toBe(img);
    expect(await page.locator('#sessions img, #sessions script').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('anonymous viewers see masked IPs; the admin signs in through the form and sees them', async () => {
    const page = await open(app.url);
    expect((await cellsOf(page, 'fra-1#10'))[2]).toBe('203.0.113.x');
    expect(await page.content()).not.toContain('203.0.113.10');

    await page.click('text=Admin sign in');
    await page.fill('#token', 'not-the-token');
    await page.click('button[type="submit"]');
    expect(await page.locator('#login-error').textContent()).toBe('That is not the admin token (VPNWATCH_ADMIN_TOKEN).');
    problems.splice(0); // Chromium logs the 401 of the refused login as a console error: expected here.
    await page.fill('#token', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${app.url}/`);
    expect((await cellsOf(page, 'fra-1#10'))[2]).toBe('203.0.113.10:40010');
    expect(await page.locator('.who').textContent()).toContain('Admin view');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'vpnwatch_admin', httpOnly: true, sameSite: 'Strict' });
    expect(cookie!.value).not.toContain(TOKEN);
    expect(await page.evaluate(() => document.cookie)).toBe('');

    await page.click('text=Sign out');
    await page.waitForURL(`${app.url}/`);
    expect((await cellsOf(page, 'fra-1#10'))[2]).toBe('203.0.113.x');
  });
});
