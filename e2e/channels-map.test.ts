/**
 * Issue 17's Channels tab and world map in Chromium (worker + `vite dev`, the demo user on the
 * demo project): six visitors sent straight to the worker, each arriving another way and from
 * another country. The Sources panel's Channels tab lists the channel ingest gave each (a Google
 * visit tagged `utm_medium=cpc` is Paid Search) and filters by one; the Locations panel's
 * Countries tab shows the map beside the list, shaded where visitors came from, names a country on
 * hover and focus, and filters by it on click. Screenshots, light and dark, at 1280 and 375 px, go
 * to e2e/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDashboard, startDashboard } from './dashboard-server.ts';
import {
  CHROME_UA,
  DEMO,
  eventually,
  freePort,
  launchBrowser,
  ROOT,
  type RunningWorker,
  startWorker,
} from './harness.ts';

const STEP_TIMEOUT = 120_000;
const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');

let worker: RunningWorker;
let dashboard: RunningDashboard;
let browser: Browser;
let context: BrowserContext;
let page: Page;

/** One visitor each: where they came from, what the landing URL carried, and the channel that makes. */
const VISITS = [
  {
    ip: '203.0.113.11',
    country: 'US',
    query: '?utm_source=google&utm_medium=cpc',
    referrer: 'https://www.google.com/',
    channel: 'Paid Search',
  },
  { ip: '203.0.113.12', country: 'DE', query: '', referrer: 'https://www.google.de/', channel: 'Organic Search' },
  { ip: '203.0.113.13', country: 'DE', query: '', referrer: 'https://t.co/x', channel: 'Organic Social' },
  { ip: '203.0.113.14', country: 'FR', query: '', referrer: undefined, channel: 'Direct' },
  {
    ip: '203.0.113.15',
    country: 'BR',
    query: '?utm_source=newsletter&utm_medium=email',
    referrer: undefined,
    channel: 'Email',
  },
  {
    ip: '203.0.113.16',
    country: 'JP',
    query: '',
    referrer: 'https://blog.partner.example/review',
    channel: 'Referral',
  },
] as const;

const dashboardUrl = () => `${dashboard.url}/projects/${DEMO.projectId}`;
const metric = (view: Page, name: string) => view.locator(`[data-testid="metric-${name}"]`);
const panel = (view: Page, title: string) =>
  view.locator('section.panel', { has: view.getByRole('heading', { name: title }) });
/** A panel's rows as "label visitors" lines. */
const rowTexts = (where: Locator) =>
  where.locator('.row-btn').evaluateAll((rows) => rows.map((row) => row.textContent?.replace(/\s+/g, ' ').trim()));

/** Save screenshots of `target` (a page or one element) in both colour schemes. */
async function screenshots(view: Page, target: Page | Locator, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await view.emulateMedia({ colorScheme: scheme });
    await view.waitForTimeout(300);
    const file = path.join(ARTIFACTS, `${name}-${scheme}.png`);
    if (target === view) await view.screenshot({ path: file, fullPage: true });
    else await (target as Locator).screenshot({ path: file });
  }
  await view.emulateMedia({ colorScheme: 'light' });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  worker = await startWorker();
  dashboard = await startDashboard(worker.url, await freePort());
  browser = await launchBrowser();
  const now = Date.now();
  for (const visit of VISITS) {
    const sent = await fetch(`${worker.url}/api/event`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': CHROME_UA,
        'cf-connecting-ip': visit.ip,
        // workerd turns this into `request.cf`, as Cloudflare's edge would fill it.
        'mf-cf-blob': JSON.stringify({ country: visit.country }),
      },
      body: JSON.stringify({
        s: DEMO.siteKey,
        n: 'pageview',
        u: `http://127.0.0.1/landing${visit.query}`,
        ...(visit.referrer ? { r: visit.referrer } : {}),
        t: now - 60_000,
      }),
    });
    expect(sent.status).toBe(202);
  }
  await eventually(async () => {
    const rows = await worker.d1(`SELECT count(*) AS n FROM events WHERE project_id = '${DEMO.projectId}'`);
    expect(rows[0]?.n).toBe(VISITS.length);
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  await page.goto(`${dashboard.url}/signin`);
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByLabel('Password').fill(DEMO.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/projects');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.stop();
  await worker?.stop();
});

describe('the Channels tab', () => {
  it(
    'lists the channel of each visit and filters by one',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe(String(VISITS.length));
      const sources = panel(page, 'Sources');
      await sources.getByRole('tab', { name: 'Channels' }).click();
      await expect
        .poll(() => rowTexts(sources).then((rows) => rows.toSorted()))
        .toEqual(VISITS.map((visit) => `${visit.channel} 1`).toSorted());
      await screenshots(page, sources, 'channels');

      await sources.getByRole('button', { name: /^Paid Search/ }).click();
      await page.waitForURL(/[?&]f=is,channel,Paid(%20|\+| )Search(&|$)/);
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('1');
      // The tab itself follows the filter.
      await expect.poll(() => rowTexts(sources)).toEqual(['Paid Search 1']);
    },
    STEP_TIMEOUT,
  );
});

describe('the world map', () => {
  it(
    'shades the countries visitors came from beside the list, names them on hover and focus, and filters on click',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe(String(VISITS.length));
      const locations = panel(page, 'Locations');
      // The map loads as it nears the screen.
      await locations.scrollIntoViewIfNeeded();
      const map = locations.getByTestId('country-map');
      const germany = map.getByRole('button', { name: 'Germany: 2 visitors' });
      await germany.waitFor();
      // Each country with visitors is shaded and focusable; the list beside it is kept.
      expect(await map.getByRole('button').count()).toBe(5);
      expect(await map.locator('path[data-country="CN"]').getAttribute('aria-hidden')).toBe('true');
      await expect.poll(() => rowTexts(locations).then((rows) => rows[0])).toMatch(/Germany 2$/);
      const fill = (code: string) =>
        map
          .locator(`path[data-country="${code}"]`)
          .first()
          .evaluate((path) => getComputedStyle(path).fill);
      expect(await fill('DE')).not.toBe(await fill('CN'));
      expect(await fill('DE')).not.toBe(await fill('US'));

      await map.locator('path[data-country="US"]').hover();
      await expect.poll(() => map.getByTestId('country-map-tip').textContent()).toBe('United States: 1 visitor');
      await screenshots(page, locations, 'world-map');
      await germany.focus();
      await expect.poll(() => map.getByTestId('country-map-tip').textContent()).toBe('Germany: 2 visitors');

      await map.locator('path[data-country="US"]').click();
      await page.waitForURL(/[?&]f=is,country,US(&|$)/);
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('1');
      await expect.poll(() => map.getByRole('button').count()).toBe(1);
    },
    STEP_TIMEOUT,
  );

  it(
    'fits a 375 px screen',
    async () => {
      const phone = await browser.newContext({
        viewport: { width: 375, height: 740 },
        storageState: await context.storageState(),
      });
      const small = await phone.newPage();
      try {
        await small.goto(dashboardUrl());
        await expect
          .poll(() => metric(small, 'visitors').textContent(), { timeout: 30_000 })
          .toBe(String(VISITS.length));
        const locations = panel(small, 'Locations');
        await locations.scrollIntoViewIfNeeded();
        const map = locations.getByTestId('country-map');
        await map.getByRole('button', { name: 'Germany: 2 visitors' }).waitFor();
        const box = await map.boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= 375 && box.height > 80).toBe(true);
        expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
        await screenshots(small, locations, 'world-map-375');
        const sources = panel(small, 'Sources');
        await sources.getByRole('tab', { name: 'Channels' }).click();
        await sources.getByRole('button', { name: /^Paid Search/ }).waitFor();
        await screenshots(small, small, 'dashboard-channels-map-375');
      } finally {
        await phone.close();
      }
    },
    STEP_TIMEOUT,
  );
});
