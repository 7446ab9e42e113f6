/**
 * The dashboard as production runs it, in Chromium: the adapter-cloudflare build served by
 * `wrangler pages dev` (dashboard/wrangler.toml), reaching the worker — under `wrangler dev`, as
 * `tally` in a dev registry of this file's own — through the `API` service binding, so that
 * src/hooks.server.ts forwards /api and the live socket, and `_headers` covers the files Pages
 * serves itself. Every other browser test runs `vite dev`, whose proxy skips the hook.
 *
 * The demo user signs in, the session cookies set through the forwarded /api are HttpOnly and
 * SameSite=Lax, the demo dashboard shows a stored visit and the realtime card counts it over the
 * forwarded WebSocket; a page and an /_app/immutable asset carry the security headers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDashboard, startPagesDashboard } from './dashboard-server.ts';
import { CHROME_UA, DEMO, eventually, freePort, launchBrowser, type RunningWorker, startWorker } from './harness.ts';

/** The build (~10 s), two wrangler starts, and Chromium, on a busy machine. */
const START_TIMEOUT = 300_000;
const STEP_TIMEOUT = 120_000;

/** What src/hooks.server.ts sets on pages, and dashboard/_headers on the files Pages serves. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
};

let registry: string;
let worker: RunningWorker;
let dashboard: RunningDashboard;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Content-Security-Policy complaints Chromium logged (a blocked script or style). */
const cspViolations: string[] = [];

beforeAll(async () => {
  registry = mkdtempSync(path.join(tmpdir(), 'tally-e2e-registry-'));
  worker = await startWorker({ registry });
  dashboard = await startPagesDashboard(registry, await freePort());
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  // One visit to the demo site, straight to the worker: the dashboard has a number to show.
  const sent = await fetch(`${worker.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, 'cf-connecting-ip': '203.0.113.9' },
    body: JSON.stringify({ s: DEMO.siteKey, n: 'pageview', u: 'http://127.0.0.1/pricing' }),
  });
  expect(sent.status).toBe(202);
  await eventually(async () => {
    const rows = await worker.d1(`SELECT count(*) AS n FROM events WHERE project_id = '${DEMO.projectId}'`);
    expect(rows[0]?.n).toBe(1);
  });
}, START_TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await dashboard?.stop();
  await worker?.stop();
  if (registry) rmSync(registry, { recursive: true, force: true });
});

describe('the dashboard on Pages (wrangler pages dev, service binding to the worker)', () => {
  it(
    'signs the demo user in through the forwarded /api with HttpOnly, SameSite=Lax cookies',
    async () => {
      await page.goto(`${dashboard.url}/signin`);
      await page.getByRole('heading', { name: 'Sign in to Tally' }).waitFor();
      await page.getByLabel('Email').fill(DEMO.email);
      await page.getByLabel('Password').fill(DEMO.password);
      const [signin] = await Promise.all([
        page.waitForResponse((response) => new URL(response.url()).pathname === '/api/auth/signin'),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      expect(signin.status()).toBe(200);
      await page.waitForURL('**/projects');
      await page.getByRole('link', { name: DEMO.projectName, exact: true }).waitFor();

      const setCookies = (await signin.headersArray())
        .filter(({ name }) => name.toLowerCase() === 'set-cookie')
        .map(({ value }) => value);
      expect(setCookies.map((cookie) => cookie.split('=')[0]).sort()).toEqual(['tally_access', 'tally_refresh']);
      for (const cookie of setCookies) {
        expect(cookie).toMatch(/;\s*HttpOnly(;|$)/i);
        expect(cookie).toMatch(/;\s*SameSite=Lax(;|$)/i);
        expect(cookie).toMatch(/;\s*Secure(;|$)/i);
      }
      // As the browser stored them: for the dashboard's own host, out of reach of its scripts.
      const stored = (await context.cookies()).sort((a, b) => a.name.localeCompare(b.name));
      expect(
        stored.map(({ name, domain, path: scope, httpOnly, sameSite }) => ({
          name,
          domain,
          scope,
          httpOnly,
          sameSite,
        })),
      ).toEqual([
        { name: 'tally_access', domain: '127.0.0.1', scope: '/api', httpOnly: true, sameSite: 'Lax' },
        { name: 'tally_refresh', domain: '127.0.0.1', scope: '/api/auth', httpOnly: true, sameSite: 'Lax' },
      ]);
      expect(await page.evaluate(() => document.cookie)).toBe('');
    },
    STEP_TIMEOUT,
  );

  it(
    'shows the demo project its numbers, and the realtime card counts the visitor over the forwarded socket',
    async () => {
      await page.goto(`${dashboard.url}/projects/${DEMO.projectId}`);
      const metric = (name: string) => page.locator(`[data-testid="metric-${name}"]`);
      await expect.poll(() => metric('visitors').textContent(), { timeout: 30_000 }).toBe('1');
      expect(await metric('pageviews').textContent()).toBe('1');
      await page
        .locator('section.panel', { has: page.getByRole('heading', { name: 'Pages' }) })
        .locator('.row-btn', { hasText: '/pricing' })
        .waitFor();
      await expect.poll(() => page.getByTestId('live-visitors').textContent(), { timeout: 30_000 }).toBe('1');
      expect(cspViolations).toEqual([]);
    },
    STEP_TIMEOUT,
  );

  it(
    'sends the security headers with a page (the hook) and with an /_app/immutable asset (_headers)',
    async () => {
      // A fresh context: nothing comes from the browser's cache, so every asset is a response.
      const fresh = await browser.newContext();
      const view = await fresh.newPage();
      const assets: Response[] = [];
      view.on('response', (response) => {
        if (new URL(response.url()).pathname.startsWith('/_app/immutable/')) assets.push(response);
      });
      const document = await view.goto(`${dashboard.url}/signin`);
      await view.getByRole('heading', { name: 'Sign in to Tally' }).waitFor();

      expect(document?.status()).toBe(200);
      const pageHeaders = (await document?.allHeaders()) ?? {};
      expect(pageHeaders).toMatchObject(SECURITY_HEADERS);
      const csp = pageHeaders['content-security-policy'] ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      // Scripts run by nonce (mode: 'auto' on a rendered page), never 'unsafe-inline'.
      expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);

      const script = assets.find((response) => response.url().endsWith('.js'));
      expect(script, 'an /_app/immutable script loaded').toBeDefined();
      const assetHeaders = (await script?.allHeaders()) ?? {};
      expect(script?.status()).toBe(200);
      expect(assetHeaders).toMatchObject({ ...SECURITY_HEADERS, 'content-security-policy': "frame-ancestors 'none'" });
      // adapter-cloudflare's own rule for hashed files.
      expect(assetHeaders['cache-control']).toContain('immutable');
      await fresh.close();
    },
    STEP_TIMEOUT,
  );
});
