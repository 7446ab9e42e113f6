/**
 * Issue 17's new views in Chromium (worker + `vite dev`, the demo user on the demo project, five
 * visitors sent straight to the worker): the filter builder adds a filter of several values (OR)
 * picked from the dimension's suggestions by keyboard, edits it from its chip (operator changed, a
 * value removed), adds typed text as a value, merges nothing it should not, closes on Escape with
 * focus back where it was, and removes a filter; the main chart has a table of the same numbers;
 * breakdown tabs are tabs with panels and rows read their numbers with their column's heading; the
 * settings' timezone picker searches canonical IANA names (an old name finds the new one), shows
 * each zone's offset, is worked by keyboard and saves. Screenshots of the builder and the picker,
 * light and dark, at 1280 and 375 px, go to e2e/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
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

/** Five visitors (one address each) and the pages they saw, in order; the last one signs up. */
const VISITS: { ip: string; paths: string[]; referrer?: string; signup?: boolean }[] = [
  { ip: '203.0.113.1', paths: ['/', '/pricing'], referrer: 'https://www.google.com/' },
  { ip: '203.0.113.2', paths: ['/blog/a'], referrer: 'https://news.example.com/post' },
  { ip: '203.0.113.3', paths: ['/blog/b'] },
  { ip: '203.0.113.4', paths: ['/blog/a', '/blog/b'] },
  { ip: '203.0.113.5', paths: ['/pricing'], signup: true },
];
const EVENTS = VISITS.reduce((sum, visit) => sum + visit.paths.length + (visit.signup ? 1 : 0), 0);

const dashboardUrl = () => `${dashboard.url}/projects/${DEMO.projectId}`;
const metric = (view: Page, name: string) => view.locator(`[data-testid="metric-${name}"]`);
const panel = (view: Page, title: string) =>
  view.locator('section.panel', { has: view.getByRole('heading', { name: title }) });
const builder = (view: Page) => view.getByRole('dialog');
/** What holds keyboard focus: its tag, text and focus key. */
const focused = (view: Page) =>
  view.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    return {
      tag: element?.tagName ?? null,
      text: element?.textContent?.trim() ?? null,
      key: element?.dataset.focusKey ?? null,
    };
  });

/** Save a screenshot of the page in both colour schemes. */
async function screenshots(view: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await view.emulateMedia({ colorScheme: scheme });
    await view.waitForTimeout(300);
    await view.screenshot({ path: path.join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: true });
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
    const body: Record<string, unknown>[] = visit.paths.map((pathname, index) => ({
      s: DEMO.siteKey,
      n: 'pageview',
      u: `http://127.0.0.1${pathname}`,
      ...(index === 0 && visit.referrer ? { r: visit.referrer } : {}),
      t: now - 120_000 + index * 30_000,
    }));
    if (visit.signup) {
      body.push({ s: DEMO.siteKey, n: 'signup', u: 'http://127.0.0.1/pricing', p: { plan: 'pro' }, t: now - 60_000 });
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

describe('the filter builder', () => {
  it(
    'adds one filter of two values picked by keyboard from the suggestions (either may hold)',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe('5');

      const add = page.getByRole('button', { name: 'Add a filter' });
      await add.click();
      const dialog = builder(page);
      await dialog.getByRole('heading', { name: 'Add a filter' }).waitFor();
      // Focus starts on the dimension; Page is the default.
      expect(await focused(page)).toMatchObject({ tag: 'SELECT' });
      expect(await dialog.getByLabel('Dimension').inputValue()).toBe('page');
      expect(await dialog.getByRole('radio', { name: 'is', exact: true }).isChecked()).toBe(true);
      // The operators are the API's, "does not contain" among them.
      expect(await dialog.getByRole('radio').allTextContents()).toHaveLength(5);

      // Suggestions come from the page breakdown, with their visitors.
      const options = dialog.getByRole('listbox').getByRole('option');
      await options.filter({ hasText: '/pricing' }).waitFor();
      expect(await options.filter({ hasText: '/pricing' }).textContent()).toMatch(/\/pricing\s*2$/);
      expect(await options.count()).toBe(4);
      const values = dialog.getByRole('combobox', { name: /Values/ });
      // The search keeps the matching suggestions, and offers the text itself last (for `is`).
      await values.fill('blog');
      await expect.poll(() => options.allTextContents()).toHaveLength(3);
      expect((await options.last().textContent())?.trim()).toBe('Use “blog”');
      await screenshots(page, 'filter-builder');
      await values.fill('blog/a');
      await values.press('ArrowDown');
      await values.press('Enter');
      await values.fill('blog/b');
      await values.press('ArrowDown');
      await values.press('Enter');
      await dialog.getByRole('button', { name: 'Remove value /blog/a' }).waitFor();
      await dialog.getByRole('button', { name: 'Remove value /blog/b' }).waitFor();
      expect(await options.and(dialog.getByRole('option', { selected: true })).count()).toBe(2);

      await dialog.getByRole('button', { name: 'Add filter' }).click();
      await page.waitForURL(/[?&]f=is,page,\/blog\/a,\/blog\/b(&|$)/);
      await dialog.waitFor({ state: 'hidden' });
      // Visitors 2, 3 and 4 saw a blog page.
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('3');
      await page.getByRole('button', { name: 'Edit filter: Page is /blog/a or /blog/b' }).waitFor();
      // Focus is back on the button that opened the builder.
      await expect.poll(() => focused(page)).toMatchObject({ tag: 'BUTTON', key: 'filter-add' });
    },
    STEP_TIMEOUT,
  );

  it(
    'edits a filter from its chip: the builder opens with its values, the operator and values change',
    async () => {
      await page.getByRole('button', { name: 'Edit filter: Page is /blog/a or /blog/b' }).click();
      const dialog = builder(page);
      await dialog.getByRole('heading', { name: 'Edit filter' }).waitFor();
      expect(await dialog.getByRole('radio', { name: 'is', exact: true }).isChecked()).toBe(true);
      expect(await dialog.getByRole('list', { name: 'Chosen values' }).getByRole('listitem').count()).toBe(2);
      await dialog.getByRole('radio', { name: 'is not' }).check();
      await dialog.getByRole('button', { name: 'Remove value /blog/b' }).click();
      await dialog.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/[?&]f=is_not,page,\/blog\/a(&|$)/);
      expect(new URL(page.url()).searchParams.getAll('f')).toEqual(['is_not,page,/blog/a']);
      // Every visitor with a pageview other than /blog/a: all but visitor 2.
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('4');
      await expect.poll(() => focused(page)).toMatchObject({ tag: 'BUTTON', key: 'chip-edit:0' });
    },
    STEP_TIMEOUT,
  );

  it(
    'takes typed text as a value (contains), and a second filter narrows the first (AND)',
    async () => {
      await page.getByRole('button', { name: 'Add a filter' }).click();
      const dialog = builder(page);
      await dialog.getByRole('radio', { name: 'contains' }).check();
      const values = dialog.getByRole('combobox', { name: /Values/ });
      await values.fill('/blo');
      // Typed text comes first for `contains`; Enter takes it.
      await dialog.getByRole('listbox').getByRole('option', { name: 'Use “/blo”' }).waitFor();
      await values.press('Enter');
      await dialog.getByRole('button', { name: 'Remove value /blo' }).waitFor();
      // Enter with nothing typed submits the dialog.
      await values.press('Enter');
      await page.waitForURL(/[?&]f=contains,page,\/blo(&|$)/);
      expect(new URL(page.url()).searchParams.getAll('f')).toEqual(['is_not,page,/blog/a', 'contains,page,/blo']);
      // Only /blog/b pageviews pass both: visitors 3 and 4.
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('2');
    },
    STEP_TIMEOUT,
  );

  it(
    'closes on Escape without a change, with focus back on the chip that opened it',
    async () => {
      const before = page.url();
      const chip = page.getByRole('button', { name: 'Edit filter: Page contains /blo' });
      await chip.focus();
      await page.keyboard.press('Enter');
      const dialog = builder(page);
      await dialog.getByRole('heading', { name: 'Edit filter' }).waitFor();
      // Editing starts in the values field.
      expect(await focused(page)).toMatchObject({ tag: 'INPUT' });
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(page.url()).toBe(before);
      await expect.poll(() => focused(page)).toMatchObject({ tag: 'BUTTON', key: 'chip-edit:1' });
    },
    STEP_TIMEOUT,
  );

  it(
    'removes a filter from the builder and from its chip',
    async () => {
      await page.getByRole('button', { name: 'Edit filter: Page contains /blo' }).click();
      await builder(page).getByRole('button', { name: 'Remove filter' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.getAll('f')).toEqual(['is_not,page,/blog/a']);
      await page.getByRole('button', { name: 'Remove filter: Page is not /blog/a' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.getAll('f')).toEqual([]);
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('5');
    },
    STEP_TIMEOUT,
  );

  it(
    'filters by a custom property: its key is offered from recent events, its values suggested',
    async () => {
      await page.getByRole('button', { name: 'Add a filter' }).click();
      const dialog = builder(page);
      await dialog.getByLabel('Dimension').selectOption({ label: 'Custom property…' });
      const key = dialog.getByLabel('Property key');
      const offered = dialog.locator('datalist option');
      await expect
        .poll(() => offered.evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)))
        .toEqual(['plan']);
      await key.fill('plan');
      const options = dialog.getByRole('listbox').getByRole('option');
      await options.filter({ hasText: 'pro' }).click();
      await dialog.getByRole('button', { name: 'Add filter' }).click();
      await page.waitForURL(/[?&]f=is,event:props:plan,pro(&|$)/);
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('1');
      await page.getByRole('button', { name: 'Remove filter: Property plan is pro' }).click();
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('5');
    },
    STEP_TIMEOUT,
  );

  it(
    'suggests a visit dimension’s values with their labels, and fits a 375 px screen',
    async () => {
      const phone = await browser.newContext({
        viewport: { width: 375, height: 740 },
        storageState: await context.storageState(),
      });
      const small = await phone.newPage();
      try {
        await small.goto(dashboardUrl());
        await expect.poll(() => metric(small, 'visitors').textContent(), { timeout: 30_000 }).toBe('5');
        await small.getByRole('button', { name: 'Add a filter' }).click();
        const dialog = builder(small);
        await dialog.getByLabel('Dimension').selectOption('source');
        // Direct visits are "Direct / None" (a null value), next to the named sources.
        const options = dialog.getByRole('listbox').getByRole('option');
        await options.filter({ hasText: 'Direct / None' }).waitFor();
        expect(await options.filter({ hasText: 'Direct / None' }).textContent()).toMatch(/Direct \/ None\s*3$/);
        await options.filter({ hasText: 'Google' }).click();
        await options.filter({ hasText: 'Direct / None' }).click();
        const box = await dialog.boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true);
        expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
        await screenshots(small, 'filter-builder-375');
        await dialog.getByRole('button', { name: 'Add filter' }).click();
        await small.waitForURL(/[?&]f=is,source,Google,(&|$)/);
        // Visitor 1 came from Google; visitors 3, 4 and 5 came directly.
        await expect.poll(() => metric(small, 'visitors').textContent(), { timeout: 15_000 }).toBe('4');
        await small.getByRole('button', { name: 'Edit filter: Source is Google or Direct / None' }).waitFor();
      } finally {
        await phone.close();
      }
    },
    STEP_TIMEOUT,
  );
});

describe('screen-reader basics', () => {
  it(
    'gives the main chart a table of the same numbers, shown by its toggle',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe('5');
      const table = page.getByRole('table', { name: /^Visitors by day/ });
      await table.waitFor({ state: 'attached' });
      // Thirty days, one row each; today's holds every visitor.
      expect(await table.locator('tbody tr').count()).toBe(30);
      const last = table.locator('tbody tr').last();
      expect(await last.locator('td').first().textContent()).toBe('5');
      // Hidden to the eye (in a one-pixel clip) until asked for.
      const toggle = page.getByRole('button', { name: 'Show as table' });
      const holder = page.locator(`#${await toggle.getAttribute('aria-controls')}`);
      expect((await holder.boundingBox())?.height ?? 0).toBeLessThanOrEqual(1);
      await toggle.click();
      expect(await page.getByRole('button', { name: 'Hide table' }).getAttribute('aria-expanded')).toBe('true');
      expect((await holder.boundingBox())?.height ?? 0).toBeGreaterThan(100);
      await screenshots(page, 'chart-table');
      await page.getByRole('button', { name: 'Hide table' }).click();
    },
    STEP_TIMEOUT,
  );

  it(
    'makes breakdown tabs tabs with a panel each, and reads row numbers with their column',
    async () => {
      const pages = panel(page, 'Pages');
      const tabs = pages.getByRole('tab');
      expect(await tabs.count()).toBeGreaterThan(1);
      const selected = pages.getByRole('tab', { selected: true });
      expect(await selected.count()).toBe(1);
      const check = async () => {
        const tab = pages.getByRole('tab', { selected: true });
        const controls = await tab.getAttribute('aria-controls');
        const tabId = await tab.getAttribute('id');
        const tabpanel = page.locator(`#${controls}`);
        expect(await tabpanel.getAttribute('role')).toBe('tabpanel');
        expect(await tabpanel.getAttribute('aria-labelledby')).toBe(tabId);
      };
      await check();
      // Arrow keys move between tabs, and the panel follows.
      await selected.focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => pages.getByRole('tab', { selected: true }).textContent()).toBe('Entry');
      await check();
      await page.keyboard.press('ArrowLeft');
      await expect.poll(() => pages.getByRole('tab', { selected: true }).textContent()).toBe('Top');

      // "/pricing": two visitors, two views; each number is read after its column's heading.
      await pages.getByRole('button', { name: /^\/pricing Visitors 2 Views 2$/ }).waitFor();
      const sources = panel(page, 'Sources');
      await sources.getByRole('button', { name: /^Direct \/ None Visitors 3$/ }).waitFor();
      await sources.getByRole('tabpanel').waitFor();
      await panel(page, 'Custom events')
        .getByRole('button', { name: /^signup Uniques 1 Total 1$/ })
        .waitFor();
    },
    STEP_TIMEOUT,
  );
});

describe('the timezone picker', () => {
  it(
    'finds canonical zones (an old name finds the new one), shows offsets, and saves by keyboard',
    async () => {
      await page.goto(`${dashboard.url}/projects/${DEMO.projectId}/settings#general`);
      const general = page.locator('#general');
      const field = general.getByRole('combobox', { name: /^Timezone/ });
      await field.waitFor();
      expect(await field.inputValue()).toBe('UTC');
      await general.getByText('(now UTC+00:00)').waitFor();

      await field.fill('Calcutta');
      const options = general.getByRole('option');
      await expect.poll(() => options.allTextContents()).toHaveLength(1);
      expect((await options.first().textContent())?.replace(/\s+/g, ' ').trim()).toBe(
        'Asia/Kolkata (formerly Asia/Calcutta) UTC+05:30',
      );
      // The old name is never offered itself, even typed whole.
      await field.fill('Asia/Calcutta');
      await expect.poll(() => options.allTextContents()).toEqual([expect.stringMatching(/^Asia\/Kolkata /)]);
      await field.fill('kiev');
      await expect.poll(() => options.allTextContents()).toHaveLength(1);
      expect(await options.first().textContent()).toMatch(/^Europe\/Kyiv \(formerly Europe\/Kiev\)\s*UTC\+0[23]:00$/);
      // An offset finds its zones.
      await field.fill('+05:45');
      await expect.poll(() => options.allTextContents()).toEqual([expect.stringMatching(/^Asia\/Kathmandu/)]);
      // Escape closes the list and keeps the saved zone.
      await field.press('Escape');
      expect(await field.inputValue()).toBe('UTC');
      expect(await field.getAttribute('aria-expanded')).toBe('false');

      await field.fill('kolk');
      await field.press('ArrowDown');
      expect(await field.getAttribute('aria-activedescendant')).toBeTruthy();
      await screenshots(page, 'timezone-picker');
      await field.press('Enter');
      expect(await field.inputValue()).toBe('Asia/Kolkata');
      await general.getByText('(now UTC+05:30)').waitFor();
      await general.getByRole('note').filter({ hasText: 'The new timezone applies' }).waitFor();
      await general.getByRole('button', { name: 'Save changes' }).click();
      await general.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      const [row] = await worker.d1(`SELECT timezone FROM projects WHERE id = '${DEMO.projectId}'`);
      expect(row?.timezone).toBe('Asia/Kolkata');

      await page.reload();
      await field.waitFor();
      await expect.poll(() => field.inputValue()).toBe('Asia/Kolkata');
    },
    STEP_TIMEOUT,
  );

  it(
    'fits a 375 px screen with its list open',
    async () => {
      await page.setViewportSize({ width: 375, height: 740 });
      const general = page.locator('#general');
      const field = general.getByRole('combobox', { name: /^Timezone/ });
      await field.fill('america');
      await general.getByRole('listbox').waitFor();
      const box = await general.getByRole('listbox').boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true);
      await screenshots(page, 'timezone-picker-375');
      await field.press('Escape');
      await page.setViewportSize({ width: 1280, height: 900 });
    },
    STEP_TIMEOUT,
  );
});
