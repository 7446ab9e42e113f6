/**
 * Issue 17's detail views and Properties panel in Chromium (worker + `vite dev`, the demo user on
 * the demo project, events sent straight to the worker): a breakdown's Details opens every row in
 * a dialog whose state is in the URL (a reload reopens it, Back closes it), pages through them, sorts
 * by a clicked column (aria-sort), searches with `contains`, downloads the CSV of what it shows, and
 * closes on Escape with focus back on its opener; a tab (Entry) opens its own breakdown; the
 * Properties panel lists the property keys, breaks one down and opens its detail view. Numbers are
 * checked against the API's answer to the same query. Screenshots of the dialog and the panel,
 * light and dark, at 1280 and 375 px, go to e2e/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES, METRICS, type MetricName, metricColumn } from '../sdk/src/catalog.ts';
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
const PAGE_SIZE = 50;

let worker: RunningWorker;
let dashboard: RunningDashboard;
let browser: Browser;
let context: BrowserContext;
let page: Page;

/**
 * Six visitors. Each reads ten docs pages of its own (60 pages: more than a page of the detail
 * view) after `/start`; the first also reads `/twice` twice; two sign up with a plan (and seats).
 */
const DOCS = (visitor: number) =>
  Array.from({ length: 10 }, (_, i) => `/docs/${String(visitor * 10 + i + 1).padStart(2, '0')}`);
const VISITS = Array.from({ length: 6 }, (_, visitor) => ({
  ip: `203.0.113.${visitor + 20}`,
  paths: ['/start', ...DOCS(visitor), ...(visitor === 0 ? ['/twice', '/twice'] : [])],
  props: visitor === 0 ? { plan: 'pro', seats: '5' } : visitor === 1 ? { plan: 'free' } : null,
}));
const EVENTS = VISITS.reduce((sum, visit) => sum + visit.paths.length + (visit.props ? 1 : 0), 0);

const dashboardUrl = () => `${dashboard.url}/projects/${DEMO.projectId}`;
const metric = (view: Page, name: string) => view.locator(`[data-testid="metric-${name}"]`);
const panel = (view: Page, title: string) =>
  view.locator('section.panel', { has: view.getByRole('heading', { name: title, exact: true }) });
const detail = (view: Page) => view.getByRole('dialog');
/** The dialog's rows as their cells' text. */
const cells = (view: Page) =>
  detail(view)
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent?.trim() ?? '')));
const header = (view: Page, name: string) => detail(view).getByRole('columnheader', { name });
const focused = (view: Page) =>
  view.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.focusKey ?? null);
const params = (view: Page) => new URL(view.url()).searchParams;

/** The metrics of the dialog's columns, read from their headings (the catalog decides them). */
async function columns(view: Page): Promise<MetricName[]> {
  const headings = await detail(view).locator('thead th:not(.dim)').allTextContents();
  return headings.map((heading) => {
    const found = METRIC_NAMES.find((name) => metricColumn(name) === heading.replace(/[↑↓]/g, '').trim());
    if (!found) throw new Error(`no metric is headed ${heading}`);
    return found;
  });
}

/** The API's answer to a query (JSON, or the CSV text), asked from the signed-in page (its cookies). */
function api<T>(view: Page, body: Record<string, unknown>): Promise<T> {
  return view.evaluate(async (request) => {
    const response = await fetch('/api/v1/query', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    return request.format === 'csv' ? response.text() : response.json();
  }, body);
}

/** Save a screenshot of the page (or of what the window shows) in both colour schemes. */
async function screenshots(view: Page, name: string, fullPage = true): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await view.emulateMedia({ colorScheme: scheme });
    await view.waitForTimeout(300);
    await view.screenshot({ path: path.join(ARTIFACTS, `${name}-${scheme}.png`), fullPage });
  }
  await view.emulateMedia({ colorScheme: 'light' });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  worker = await startWorker();
  dashboard = await startDashboard(worker.url, await freePort());
  browser = await launchBrowser();
  const now = Date.now();
  // Every event on one day of the demo's calendar (UTC), though the run may start just after
  // midnight: visits end at midnight, and visitors are counted per day (a visit is under two
  // minutes, within the five the clock may run ahead).
  const first = Math.max(now - 600_000, Math.floor(now / 86_400_000) * 86_400_000 + 1_000);
  for (const visit of VISITS) {
    const body: Record<string, unknown>[] = visit.paths.map((pathname, index) => ({
      s: DEMO.siteKey,
      n: 'pageview',
      u: `http://127.0.0.1${pathname}`,
      t: first + index * 10_000,
    }));
    if (visit.props) {
      body.push({ s: DEMO.siteKey, n: 'signup', u: 'http://127.0.0.1/start', p: visit.props, t: first + 150_000 });
    }
    const sent = await fetch(`${worker.url}/api/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, 'cf-connecting-ip': visit.ip },
      body: JSON.stringify(body),
    });
    expect(sent.status).toBe(202);
  }
  await eventually(async () => {
    const rows = await worker.d1(`SELECT count(*) AS n FROM events WHERE project_id = '${DEMO.projectId}'`);
    expect(rows[0]?.n).toBe(EVENTS);
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
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

describe('a breakdown’s detail view', () => {
  it(
    'opens from Details with every row a page at a time, the API’s numbers, its state in the URL',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe('6');
      const pages = panel(page, 'Pages');
      await pages.getByRole('button', { name: /^\/start Visitors 6/ }).waitFor();
      await pages.getByRole('button', { name: 'Details: Page' }).click();
      const dialog = detail(page);
      await dialog.getByRole('heading', { name: 'Page' }).waitFor();
      expect(params(page).get('detail')).toBe('page');
      // Focus starts in the search field.
      expect(await page.evaluate(() => document.activeElement?.getAttribute('placeholder'))).toMatch(/^Search page/);

      // 62 pages: the first 50, sorted by visitors (then by path), as the API answers the same query.
      await dialog.getByText('Rows 1–50').waitFor();
      const first = await cells(page);
      expect(first).toHaveLength(PAGE_SIZE);
      const metrics = await columns(page);
      expect(metrics.slice(0, 2)).toEqual(['visitors', 'pageviews']);
      const answer = await api<{ results: { dimensions: string[]; metrics: number[] }[] }>(page, {
        project: DEMO.projectId,
        metrics,
        date_range: '30d',
        dimensions: ['page'],
        limit: PAGE_SIZE,
      });
      expect(first.map((row) => row[0])).toEqual(answer.results.map((row) => row.dimensions[0]));
      // Counts read as the API gives them (numbers this small are not abbreviated).
      metrics.forEach((name, m) => {
        if (METRICS[name].format !== 'count') return;
        expect(first.map((row) => row[m + 1])).toEqual(answer.results.map((row) => String(row.metrics[m])));
      });
      expect(first[0]?.slice(0, 3)).toEqual(['/start', '6', '6']);
      expect(first[1]?.slice(0, 3)).toEqual(['/docs/01', '1', '1']);

      await dialog.getByRole('button', { name: 'Next →' }).click();
      await dialog.getByText('Rows 51–62').waitFor();
      expect(params(page).get('detail_page')).toBe('2');
      const second = await cells(page);
      expect(second.map((row) => row[0])).toEqual([...DOCS(4).slice(9), ...DOCS(5), '/twice']);
      expect(second.at(-1)?.slice(0, 3)).toEqual(['/twice', '1', '2']);
      expect(await dialog.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);

      // The URL holds the view: a reload opens it again, on the same page.
      await page.reload();
      await detail(page).getByText('Rows 51–62').waitFor();
      await dialog.getByRole('button', { name: '← Previous' }).click();
      await dialog.getByText('Rows 1–50').waitFor();
      expect(params(page).get('detail_page')).toBeNull();
    },
    STEP_TIMEOUT,
  );

  it(
    'sorts by a clicked metric column, descending then ascending, with aria-sort',
    async () => {
      const dialog = detail(page);
      expect(await header(page, 'Visitors').getAttribute('aria-sort')).toBe('descending');
      expect(await header(page, 'Views').getAttribute('aria-sort')).toBe('none');
      await header(page, 'Views').getByRole('button').click();
      await expect.poll(() => header(page, 'Views').getAttribute('aria-sort')).toBe('descending');
      expect(await header(page, 'Visitors').getAttribute('aria-sort')).toBe('none');
      expect(params(page).get('detail_sort')).toBe('pageviews,desc');
      await expect
        .poll(async () => (await cells(page)).slice(0, 2).map((row) => row.slice(0, 3)))
        .toEqual([
          ['/start', '6', '6'],
          ['/twice', '1', '2'],
        ]);
      // By keyboard: the heading's button takes Enter.
      await header(page, 'Views').getByRole('button').focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => header(page, 'Views').getAttribute('aria-sort')).toBe('ascending');
      await expect.poll(async () => (await cells(page))[0]?.slice(0, 3)).toEqual(['/docs/01', '1', '1']);
      expect(await dialog.getByText('Rows 1–50').count()).toBe(1);
    },
    STEP_TIMEOUT,
  );

  it(
    'searches with contains as one types, and downloads the CSV of that search and sort',
    async () => {
      const dialog = detail(page);
      await dialog.getByRole('textbox', { name: 'Search Page' }).fill('docs/0');
      // /docs/01 … /docs/09, views ascending then path.
      await expect.poll(async () => (await cells(page)).map((row) => row[0])).toEqual(DOCS(0).slice(0, 9));
      expect(params(page).get('detail_search')).toBe('docs/0');
      await dialog.getByText('Rows 1–9').waitFor();
      await screenshots(page, 'detail-view', false);

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        dialog.getByRole('button', { name: 'Download CSV' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`tally-${DEMO.projectId}-page.csv`);
      const csv = readFileSync(await download.path(), 'utf8');
      const lines = csv.split('\r\n');
      expect(lines[0]).toBe(['page', ...(await columns(page))].join(','));
      expect(lines.slice(1).map((line) => line.split(',').slice(0, 3).join(','))).toEqual([
        ...DOCS(0)
          .slice(0, 9)
          .map((docs) => `${docs},1,1`),
        '',
      ]);
      // Exactly what the API answers for this search and sort, every row.
      expect(csv).toBe(
        await api<string>(page, {
          project: DEMO.projectId,
          metrics: await columns(page),
          date_range: '30d',
          dimensions: ['page'],
          filters: [['contains', 'page', ['docs/0']]],
          order_by: [['pageviews', 'asc']],
          limit: 10_000,
          format: 'csv',
        }),
      );

      // Nothing matches: said in words.
      await dialog.getByRole('textbox', { name: 'Search Page' }).fill('nothing-like-this');
      await dialog.getByText(/No page contains “nothing-like-this” in this range/).waitFor();
    },
    STEP_TIMEOUT,
  );

  it(
    'closes on Escape with focus back on Details, and Back closes a view Details opened',
    async () => {
      await page.keyboard.press('Escape');
      await detail(page).waitFor({ state: 'hidden' });
      // The dialog hides at once; its `close` event (which writes the URL) follows as a task.
      await expect.poll(() => params(page).get('detail')).toBeNull();
      expect(params(page).get('detail_search')).toBeNull();
      await expect.poll(() => focused(page)).toMatch(/^details:/);
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Details');

      // Keyboard all the way: Enter on the focused Details opens it again; Back closes it.
      await page.keyboard.press('Enter');
      await detail(page).getByRole('heading', { name: 'Page' }).waitFor();
      expect(params(page).get('detail')).toBe('page');
      await page.goBack();
      await detail(page).waitFor({ state: 'hidden' });
      expect(params(page).get('detail')).toBeNull();
    },
    STEP_TIMEOUT,
  );

  it(
    'opens a tab’s own breakdown (Entry pages), and a click on a value filters the dashboard',
    async () => {
      const pages = panel(page, 'Pages');
      await pages.getByRole('tab', { name: 'Entry' }).click();
      await pages.getByRole('button', { name: 'Details: Entry page' }).click();
      const dialog = detail(page);
      await dialog.getByRole('heading', { name: 'Entry page' }).waitFor();
      expect(params(page).get('detail')).toBe('entry_page');
      expect(await header(page, 'Bounce rate').count()).toBe(1);
      await expect.poll(async () => (await cells(page)).map((row) => row.slice(0, 2))).toEqual([['/start', '6']]);
      await dialog.getByRole('button', { name: '/start', exact: true }).click();
      await detail(page).waitFor({ state: 'hidden' });
      await page.waitForURL(/[?&]f=is,entry_page,\/start(&|$)/);
      expect(params(page).get('detail')).toBeNull();
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('6');
      await page.getByRole('button', { name: 'Remove filter: Entry page is /start' }).click();
    },
    STEP_TIMEOUT,
  );

  it(
    'shows a page’s bounce rate and an exit page’s exit rate, which the panels leave out',
    async () => {
      await page.goto(dashboardUrl());
      const pages = panel(page, 'Pages');
      await pages.getByRole('button', { name: 'Details: Page' }).click();
      await header(page, 'Bounce rate').waitFor();
      await page.keyboard.press('Escape');
      await detail(page).waitFor({ state: 'hidden' });
      await pages.getByRole('tab', { name: 'Exit' }).click();
      await pages.getByRole('button', { name: 'Details: Exit page' }).click();
      await detail(page).getByRole('heading', { name: 'Exit page' }).waitFor();
      await header(page, 'Exit rate').waitFor();
      // Every visit here leaves from a page it viewed: a share, never above 100 %.
      await expect
        .poll(async () => (await cells(page)).every((row) => Number.parseInt(row[row.length - 1] ?? '', 10) <= 100))
        .toBe(true);
      // Closing navigates back: let it land before the next test navigates (or its goto is aborted).
      await page.keyboard.press('Escape');
      await detail(page).waitFor({ state: 'hidden' });
      await page.waitForURL((url) => !url.searchParams.has('detail'));
      await page.waitForLoadState('networkidle');
    },
    STEP_TIMEOUT,
  );
});

describe('the Properties panel', () => {
  it(
    'lists the property keys, breaks the chosen one down, and opens its detail view',
    async () => {
      await page.goto(dashboardUrl());
      const properties = panel(page, 'Properties');
      const key = properties.getByLabel('Values dimension');
      await key.waitFor();
      expect(await key.locator('option').allTextContents()).toEqual(['plan', 'seats']);
      await properties.getByRole('button', { name: 'free Visitors 1 Events 1' }).waitFor();
      await properties.getByRole('button', { name: 'pro Visitors 1 Events 1' }).waitFor();
      await key.selectOption('event:props:seats');
      await properties.getByRole('button', { name: '5 Visitors 1 Events 1' }).waitFor();
      await key.selectOption('event:props:plan');
      await properties.getByRole('button', { name: 'pro Visitors 1 Events 1' }).waitFor();
      await properties.scrollIntoViewIfNeeded();
      await screenshots(page, 'properties-panel');

      await properties.getByRole('button', { name: 'Details: Property plan' }).click();
      const dialog = detail(page);
      await dialog.getByRole('heading', { name: 'Property plan' }).waitFor();
      expect(params(page).get('detail')).toBe('event:props:plan');
      await expect
        .poll(() => cells(page))
        .toEqual([
          ['free', '1', '1'],
          ['pro', '1', '1'],
        ]);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => focused(page)).toMatch(/^details:/);
    },
    STEP_TIMEOUT,
  );

  it(
    'fits a 375 px screen: the panel and the detail view',
    async () => {
      const phone = await browser.newContext({
        viewport: { width: 375, height: 740 },
        storageState: await context.storageState(),
      });
      const small = await phone.newPage();
      try {
        await small.goto(`${dashboardUrl()}?detail=source`);
        const dialog = detail(small);
        await dialog.getByRole('heading', { name: 'Source' }).waitFor();
        // Every column of the sources export on a phone, without a sideways scroll.
        await expect
          .poll(async () => (await cells(small)).map((row) => row.slice(0, 4)))
          .toEqual([['Direct / None', '6', '6', '68']]);
        const box = await dialog.boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true);
        expect(await dialog.evaluate((element) => element.scrollWidth <= element.clientWidth)).toBe(true);
        // The value has a line of its own (not a column squeezed beside five numbers), and the
        // table is still a table of rows and headers.
        const value = dialog.getByRole('rowheader', { name: 'Direct / None' });
        expect((await value.boundingBox({ timeout: 5_000 }))?.width ?? 0).toBeGreaterThan(250);
        expect(await dialog.getByRole('row').count()).toBe(2);
        expect(await dialog.getByRole('columnheader').count()).toBe(1 + (await columns(small)).length);
        await screenshots(small, 'detail-view-375', false);
        await small.keyboard.press('Escape');
        await dialog.waitFor({ state: 'hidden' });

        const properties = panel(small, 'Properties');
        await properties.getByRole('button', { name: 'pro Visitors 1 Events 1' }).waitFor();
        expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
        await properties.scrollIntoViewIfNeeded();
        await screenshots(small, 'properties-panel-375');
      } finally {
        await phone.close();
      }
    },
    STEP_TIMEOUT,
  );
});
