/**
 * Issue 17's segments, share-link additions and "does not contain" in Chromium, against the
 * dashboard as production serves it (the adapter-cloudflare build under `wrangler pages dev`,
 * reaching the worker through its service binding): only there does src/hooks.server.ts write a
 * share link's `frame-ancestors`, which the embed needs.
 *
 * The demo user filters by "does not contain" in the builder; saves those filters as a segment,
 * applies it on a clean view, renames and deletes it; makes a share link embeddable on one origin
 * in the settings; the link's view shows the live visitor count and follows a new visitor; a page
 * on the allowed origin frames `?embed=1` (no site chrome), one on another origin is refused by
 * the CSP; other pages keep `frame-ancestors 'none'`. Screenshots, light and dark, at 1280 and
 * 375 px, go to e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDashboard, startPagesDashboard } from './dashboard-server.ts';
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

/** The build (~10 s), two wrangler starts, and Chromium, on a busy machine. */
const START_TIMEOUT = 300_000;
const STEP_TIMEOUT = 120_000;
const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');

let registry: string;
let worker: RunningWorker;
let dashboard: RunningDashboard;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Two sites that frame the share link: one the link allows, one it does not. */
let allowed: { url: string; server: Server };
let refused: { url: string; server: Server };
/** The share link's slug, once the settings made it. */
let slug = '';

const dashboardUrl = () => `${dashboard.url}/projects/${DEMO.projectId}`;
const metric = (view: Page, name: string) => view.locator(`[data-testid="metric-${name}"]`);

/** Save a screenshot of the page in both colour schemes. */
async function screenshots(view: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await view.emulateMedia({ colorScheme: scheme });
    await view.waitForTimeout(300);
    await view.screenshot({ path: path.join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await view.emulateMedia({ colorScheme: 'light' });
}

/** One visitor's page views, sent straight to the worker from an address of its own. */
async function visit(ip: string, paths: string[]): Promise<void> {
  const now = Date.now();
  const body = paths.map((pathname, index) => ({
    s: DEMO.siteKey,
    n: 'pageview',
    u: `http://127.0.0.1${pathname}`,
    t: now - 60_000 + index * 10_000,
  }));
  const sent = await fetch(`${worker.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, 'cf-connecting-ip': ip },
    body: JSON.stringify(body),
  });
  expect(sent.status).toBe(202);
}

/** A page on its own origin that frames whatever `/?src=` names. */
async function framingSite(): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer((request, response) => {
    const src = new URL(request.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><title>A blog</title><h1 style="font:16px sans-serif">A blog post with stats</h1>` +
        `<iframe src="${src.replaceAll('"', '&quot;')}" title="Stats" style="width:100%;height:1400px;border:1px solid #ccc"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  registry = mkdtempSync(path.join(tmpdir(), 'tally-e2e-registry-'));
  worker = await startWorker({ registry });
  dashboard = await startPagesDashboard(registry, await freePort());
  [allowed, refused] = [await framingSite(), await framingSite()];
  browser = await launchBrowser();
  await visit('203.0.113.21', ['/', '/pricing']);
  await visit('203.0.113.22', ['/blog/a']);
  await visit('203.0.113.23', ['/blog/b', '/docs']);
  await eventually(async () => {
    const rows = await worker.d1(`SELECT count(*) AS n FROM events WHERE project_id = '${DEMO.projectId}'`);
    expect(rows[0]?.n).toBe(5);
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  await page.goto(`${dashboard.url}/signin`);
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByLabel('Password').fill(DEMO.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/projects');
}, START_TIMEOUT);

afterAll(async () => {
  await browser?.close();
  for (const site of [allowed, refused]) await new Promise((resolve) => site?.server.close(resolve));
  await dashboard?.stop();
  await worker?.stop();
  if (registry) rmSync(registry, { recursive: true, force: true });
});

describe('"does not contain" in the filter builder', () => {
  it(
    'keeps the visitors whose pages contain none of the values',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe('3');
      await page.getByRole('button', { name: 'Add a filter' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Add a filter' }).waitFor();
      await dialog.getByRole('radio', { name: 'does not contain' }).check();
      await dialog.getByText(/Keeps values that contain none of these/).waitFor();
      const values = dialog.getByRole('combobox', { name: /Values/ });
      await values.fill('/blog');
      // Typed text comes first for this operator: Enter takes it.
      await values.press('Enter');
      await dialog.getByRole('button', { name: 'Remove value /blog' }).waitFor();
      await screenshots(page, 'filter-does-not-contain');
      await dialog.getByRole('button', { name: 'Add filter' }).click();
      await page.waitForURL(/[?&]f=does_not_contain,page,\/blog(&|$)/);
      // Page is an event dimension: the events whose path has no /blog are kept — visitors 1 and 3.
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('2');
      await page.getByRole('button', { name: 'Edit filter: Page does not contain /blog' }).waitFor();
    },
    STEP_TIMEOUT,
  );
});

describe('saved segments', () => {
  it(
    'saves the current filters as a segment, shown as applied',
    async () => {
      await page.getByRole('button', { name: 'Segments' }).click();
      const dialog = page.getByRole('dialog', { name: 'Segments' });
      await dialog.getByText('No segments yet.', { exact: false }).waitFor();
      await dialog.getByLabel('Save the current filters as').fill('Not the blog');
      await dialog.getByRole('button', { name: 'Save segment' }).click();
      const applied = dialog.getByRole('button', { name: 'Apply segment Not the blog' });
      await applied.waitFor();
      expect(await applied.getAttribute('aria-current')).toBe('true');
      expect(await applied.textContent()).toContain('Page does not contain /blog');
      await screenshots(page, 'segments');
      // A second name that is taken is refused in words.
      await dialog.getByLabel('Save the current filters as').fill('Not the blog');
      await dialog.getByRole('button', { name: 'Save segment' }).click();
      await dialog.getByRole('alert').filter({ hasText: 'Another segment has this name' }).waitFor();
      await dialog.getByRole('button', { name: 'Close' }).click();
      await dialog.waitFor({ state: 'hidden' });
      const rows = await worker.d1(`SELECT name, filters FROM segments WHERE project_id = '${DEMO.projectId}'`);
      expect(rows).toEqual([
        { name: 'Not the blog', filters: JSON.stringify([['does_not_contain', 'page', ['/blog']]]) },
      ]);
    },
    STEP_TIMEOUT,
  );

  it(
    'applies a segment to a view without filters',
    async () => {
      await page.goto(dashboardUrl());
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 30_000 }).toBe('3');
      await page.getByRole('button', { name: 'Segments' }).click();
      const dialog = page.getByRole('dialog', { name: 'Segments' });
      await dialog.getByRole('button', { name: 'Apply segment Not the blog' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.waitForURL(/[?&]f=does_not_contain,page,\/blog(&|$)/);
      await expect.poll(() => metric(page, 'visitors').textContent(), { timeout: 15_000 }).toBe('2');
      await page.getByRole('button', { name: 'Edit filter: Page does not contain /blog' }).waitFor();
    },
    STEP_TIMEOUT,
  );

  it(
    'renames and deletes a segment, at 375 px',
    async () => {
      const small = await context.newPage();
      await small.setViewportSize({ width: 375, height: 800 });
      await small.goto(dashboardUrl());
      await small.getByRole('button', { name: 'Segments' }).click();
      const dialog = small.getByRole('dialog', { name: 'Segments' });
      await dialog.getByRole('button', { name: 'Rename segment Not the blog' }).click();
      await dialog.getByLabel('New name of Not the blog').fill('No blog pages');
      await dialog.getByRole('button', { name: 'Save', exact: true }).click();
      await dialog.getByRole('button', { name: 'Apply segment No blog pages' }).waitFor();
      await screenshots(small, 'segments-375');
      await dialog.getByRole('button', { name: 'Delete segment No blog pages' }).click();
      await dialog.getByRole('button', { name: 'Delete No blog pages' }).click();
      await dialog.getByText('No segments yet.', { exact: false }).waitFor();
      expect(await worker.d1(`SELECT count(*) AS n FROM segments WHERE project_id = '${DEMO.projectId}'`)).toEqual([
        { n: 0 },
      ]);
      await small.close();
    },
    STEP_TIMEOUT,
  );
});

describe('share links', () => {
  it(
    'are made embeddable on an origin in the settings',
    async () => {
      await page.goto(`${dashboard.url}/projects/${DEMO.projectId}/settings#shares`);
      const shares = page.locator('#shares');
      await shares.getByLabel('Name').fill('Blog embed');
      await shares.getByLabel(/^Embeddable on/).fill('https://blog.example.com/post');
      await shares.getByRole('button', { name: 'Create link' }).click();
      // A path is no origin: the API says so, and nothing is made.
      await shares.getByRole('alert').filter({ hasText: 'no path' }).waitFor();
      await shares.getByLabel(/^Embeddable on/).fill(allowed.url);
      await shares.getByRole('button', { name: 'Create link' }).click();
      await shares.getByText(`Embeddable on ${allowed.url}`).waitFor();
      await shares.getByRole('button', { name: 'Copy embed code' }).waitFor();
      const href = (await shares.getByTestId('share-link').getAttribute('href')) ?? '';
      slug = href.replace('/share/', '');
      expect(slug).toMatch(/^[\w-]{22}$/);
    },
    STEP_TIMEOUT,
  );

  it(
    "show the live visitor count on the link's view, and follow a new visitor",
    async () => {
      const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const view = await viewer.newPage();
      await view.goto(`${dashboard.url}/share/${slug}`);
      await expect.poll(() => view.getByTestId('share-live-visitors').textContent(), { timeout: 30_000 }).toBe('3');
      await expect.poll(() => metric(view, 'visitors').textContent(), { timeout: 30_000 }).toBe('3');
      await view.getByText('visitors on the site now').waitFor();
      await screenshots(view, 'share-live');
      await visit('203.0.113.24', ['/']);
      await expect.poll(() => view.getByTestId('share-live-visitors').textContent(), { timeout: 30_000 }).toBe('4');

      await view.setViewportSize({ width: 375, height: 800 });
      await view.waitForTimeout(300);
      await screenshots(view, 'share-live-375');
      await viewer.close();
    },
    STEP_TIMEOUT,
  );

  it(
    "are framed by a page of an allowed origin (no site chrome), refused by the CSP elsewhere, and other pages keep 'none'",
    async () => {
      const shareUrl = `${dashboard.url}/share/${slug}?embed=1`;
      const sharePage = await fetch(`${dashboard.url}/share/${slug}`);
      expect(sharePage.headers.get('content-security-policy')).toContain(`frame-ancestors ${allowed.url}`);
      expect(sharePage.headers.get('x-frame-options')).toBeNull();
      await sharePage.body?.cancel();
      for (const other of ['/signin', `/projects/${DEMO.projectId}`, '/share/no-such-link']) {
        const response = await fetch(`${dashboard.url}${other}`);
        expect(response.headers.get('content-security-policy'), other).toContain("frame-ancestors 'none'");
        expect(response.headers.get('x-frame-options'), other).toBe('DENY');
        await response.body?.cancel();
      }

      const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const host = await viewer.newPage();
      await host.goto(`${allowed.url}/?src=${encodeURIComponent(shareUrl)}`);
      const frame = host.frameLocator('iframe');
      // Share reads are cached for a minute at the edge: the fourth visitor may not be in yet.
      await expect
        .poll(() => frame.getByTestId('metric-visitors').textContent(), { timeout: 30_000 })
        .toMatch(/^[34]$/);
      await frame.getByTestId('share-live-visitors').waitFor();
      // Embedded: the dashboard alone, without Tally's header or the shared-view banner.
      expect(await frame.locator('header.top').count()).toBe(0);
      expect(await frame.getByText('A read-only dashboard shared with you.').count()).toBe(0);
      await screenshots(host, 'share-embed');
      await host.setViewportSize({ width: 375, height: 800 });
      await host.waitForTimeout(300);
      await screenshots(host, 'share-embed-375');

      const blocked = await viewer.newPage();
      const complaints: string[] = [];
      blocked.on('console', (message) => complaints.push(message.text()));
      await blocked.goto(`${refused.url}/?src=${encodeURIComponent(shareUrl)}`);
      // Chromium replaces a refused frame with its error page, and says why in the console.
      await expect
        .poll(
          () =>
            complaints.some((text) => /frame-ancestors/.test(text)) ||
            blocked.frames().some((frame) => frame.url().startsWith('chrome-error://')),
          { timeout: 15_000 },
        )
        .toBe(true);
      expect(await blocked.frameLocator('iframe').getByTestId('metric-visitors').count()).toBe(0);
      await viewer.close();
    },
    STEP_TIMEOUT,
  );
});

describe('lowering retention (defect 9)', () => {
  it(
    'asks first, naming how many days of raw events go; Cancel keeps them',
    async () => {
      await page.goto(`${dashboard.url}/projects/${DEMO.projectId}/settings#general`);
      const general = page.locator('#general');
      await general.getByLabel(/^Keep raw events for/).fill('5');
      await general.getByRole('button', { name: 'Save changes' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete 360 days of raw events?' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('for 5 instead of 365 days');
      await screenshots(page, 'retention-confirm');
      await page.setViewportSize({ width: 375, height: 800 });
      await screenshots(page, 'retention-confirm-375');
      await page.setViewportSize({ width: 1280, height: 900 });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      const retention = async () =>
        (await worker.d1(`SELECT retention_days AS d FROM projects WHERE id = '${DEMO.projectId}'`))[0]?.d;
      expect(await retention()).toBe(365);
      await general.getByRole('button', { name: 'Save changes' }).click();
      await dialog.getByRole('button', { name: 'Delete 360 days and save' }).click();
      await general.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      expect(await retention()).toBe(5);
    },
    STEP_TIMEOUT,
  );
});
