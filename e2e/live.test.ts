/**
 * Live visitors in a real browser: the `/live.js` widget on a site's page (fixtures/live-counter.html)
 * shows the public count and moves when another page with the tracker opens; it comes back after
 * its socket is closed under it, and empties itself and stops when there is no counter to show; and a dashboard's live ticket opens one socket, once, from the
 * API's own origin only. The one-second target is measured by the bench, not asserted here.
 */
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureServer, startFixtureServer } from './fixture-server.ts';
import { CHROME_UA, DEMO, eventually, launchBrowser, type RunningWorker, startWorker } from './harness.ts';

// This file's ports (8811–8819 are the live tests').
const WORKER_PORT = 8811;
const SITE_PORT = 8812;

let worker: RunningWorker;
let site: FixtureServer;
let browser: Browser;
let token: string;

/** Call the worker's API from Node as the demo user (Bearer: no cookies, no Origin needed). */
async function demoApi(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(`${worker.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

/** A browser context that ingest counts as a person (headless Chrome's own user agent is a bot's). */
function personContext(): Promise<BrowserContext> {
  return browser.newContext({ userAgent: CHROME_UA });
}

/** The inline widget's default text, and the targeted one's own words (data-one / data-other). */
const people = (n: number) => `${n} ${n === 1 ? 'person' : 'people'} on this site now`;
const readers = (n: number) => `${n} ${n === 1 ? 'reader' : 'readers'} here`;

/** The count a widget element shows, from its `data-visitors` (null before the first message). */
function countOf(page: Page, selector: string): Promise<number | null> {
  return page.$eval(selector, (el) => {
    const value = el.getAttribute('data-visitors');
    return value === null ? null : Number(value);
  });
}

/**
 * The counter page, once it shows a count, with every widget socket passed through to the worker
 * so that a test can close it from the server side.
 */
async function openRoutedCounter(): Promise<{ viewer: BrowserContext; page: Page; connections: WebSocketRoute[] }> {
  const viewer = await personContext();
  const page = await viewer.newPage();
  const connections: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/api\/live\/public\//, (route) => {
    route.connectToServer();
    connections.push(route);
  });
  await page.goto(`${site.url}/live-counter.html`);
  await page.waitForFunction(() => document.querySelector('#inline .tally-live')?.hasAttribute('data-visitors'));
  return { viewer, page, connections };
}

beforeAll(async () => {
  worker = await startWorker({ port: WORKER_PORT });
  site = await startFixtureServer(worker.url, SITE_PORT);
  browser = await launchBrowser();
  const signin = await fetch(`${worker.url}/api/auth/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: worker.url },
    body: JSON.stringify({ email: DEMO.email, password: DEMO.password, mode: 'token' }),
  });
  expect(signin.status).toBe(200);
  token = ((await signin.json()) as { accessToken: string }).accessToken;
  const enabled = await demoApi(`/api/projects/${DEMO.projectId}`, { method: 'PATCH', body: { publicLive: true } });
  expect(enabled.status).toBe(200);
});

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await worker?.stop();
});

describe('the live.js widget', () => {
  it('shows the count where it is placed, accessibly, and moves when a page with the tracker opens', async () => {
    const viewer = await personContext();
    const page = await viewer.newPage();
    await page.goto(`${site.url}/live-counter.html`);

    const inline = '#inline .tally-live';
    await page.waitForFunction(
      () => document.querySelector('#inline .tally-live')?.hasAttribute('data-visitors') === true,
    );
    const before = (await countOf(page, inline)) ?? -1;
    expect(before).toBeGreaterThanOrEqual(0);
    const widget = page.locator(inline);
    expect(await widget.getAttribute('role')).toBe('status');
    expect(await widget.getAttribute('aria-live')).toBe('polite');
    expect(await widget.textContent()).toBe(people(before));
    // The second widget filled its target with the site's own words, and reads its custom property.
    await expect.poll(() => page.locator('#corner').textContent()).toBe(readers(before));
    const dot = await page.$eval('#corner', (el) => getComputedStyle(el, '::before').backgroundColor);
    expect(dot).toBe('rgb(255, 0, 0)');

    // Someone else opens a page with the tracker: one more visitor.
    const visitor = await personContext();
    await (await visitor.newPage()).goto(`${site.url}/basic.html`);
    await page.waitForFunction(
      (expected) => document.querySelector('#inline .tally-live')?.getAttribute('data-visitors') === String(expected),
      before + 1,
      { timeout: 15_000 },
    );
    expect(await widget.textContent()).toBe(people(before + 1));
    await expect.poll(() => page.locator('#corner').textContent()).toBe(readers(before + 1));
    await visitor.close();
    await viewer.close();
  });

  it('reconnects after its socket is closed under it (a restarted ProjectDO)', async () => {
    const { viewer, page, connections } = await openRoutedCounter();
    const opened = connections.length; // one per widget on the page

    for (const connection of connections) await connection.close({ code: 1012, reason: 'Service Restart' });
    await page.waitForFunction(() =>
      document.querySelector('#inline .tally-live')?.classList.contains('tally-live--offline'),
    );
    // Both widgets come back on their own, after their backoff, and show the count again.
    await eventually(() => expect(connections.length).toBe(2 * opened), 15_000, 100);
    await page.waitForFunction(
      () => !document.querySelector('#inline .tally-live')?.classList.contains('tally-live--offline'),
      undefined,
      { timeout: 15_000 },
    );
    expect(await countOf(page, '#inline .tally-live')).toBeGreaterThanOrEqual(0);
    await viewer.close();
  });

  it('empties itself and stops when the public counter is turned off (close code 4403)', async () => {
    // The ProjectDO notices the switch within a minute (worker/test/live-public.test.ts); here the
    // close it then sends is played from the server side of each socket.
    const { viewer, page, connections } = await openRoutedCounter();
    const opened = connections.length;

    for (const connection of connections) {
      await connection.close({ code: 4403, reason: 'The public live counter is off' });
    }
    // No stale, greyed count: both elements are emptied.
    await page.waitForFunction(() =>
      ['#inline .tally-live', '#corner'].every((selector) => {
        const el = document.querySelector(selector);
        return el && !el.hasAttribute('data-visitors') && el.textContent === '' && !el.matches('.tally-live--offline');
      }),
    );
    // And no reconnection: the first retry would come within 1 s, the second within 3 s.
    await page.waitForTimeout(3_500);
    expect(connections.length).toBe(opened);
    await viewer.close();
  });

  it('gives up after a few tries when the site never had a public counter (404 handshakes)', async () => {
    const viewer = await personContext();
    const page = await viewer.newPage();
    let sockets = 0;
    page.on('websocket', () => sockets++);
    await page.goto(`${site.url}/live-unknown.html`);
    await eventually(() => expect(sockets).toBe(3), 15_000, 100);
    // The third failure is the last: after it, backoff would retry within 4 s; nothing comes.
    await page.waitForTimeout(5_000);
    expect(sockets).toBe(3);
    expect(await page.$eval('#inline .tally-live', (el) => [el.textContent, el.className])).toEqual(['', 'tally-live']);
    await viewer.close();
  });
});

describe('a live ticket, from the browser', () => {
  it('opens one dashboard socket from the API origin, and cannot be used again', async () => {
    const context = await personContext();
    const page = await context.newPage();
    // The dashboard's origin is the API's own here. API answers carry `default-src 'none'` (no
    // fetch, no socket from them), so the page is /live.js, which carries no CSP.
    await page.goto(`${worker.url}/live.js`);
    const result = await page.evaluate(
      async ({ projectId, bearer }) => {
        const response = await fetch(`/api/projects/${projectId}/live-ticket`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}` },
        });
        const { ticket } = (await response.json()) as { ticket: string };
        const url = `${location.origin.replace(/^http/, 'ws')}/api/projects/${projectId}/live?ticket=${ticket}`;
        /** Open a socket; resolve with its first message, or with how it failed. */
        const open = () =>
          new Promise<{ opened: boolean; first: unknown; closeCode: number | null }>((resolve) => {
            const socket = new WebSocket(url);
            let opened = false;
            socket.onopen = () => {
              opened = true;
            };
            socket.onmessage = (event) => {
              resolve({ opened, first: JSON.parse(event.data as string), closeCode: null });
              socket.close();
            };
            socket.onclose = (event) => resolve({ opened, first: null, closeCode: event.code });
          });
        const first = await open();
        const second = await open();
        return { status: response.status, first, second };
      },
      { projectId: DEMO.projectId, bearer: token },
    );

    expect(result.status).toBe(201);
    expect(result.first.opened).toBe(true);
    expect(result.first.first).toMatchObject({ type: 'snapshot' });
    expect(Object.keys(result.first.first as object).sort()).toEqual([
      'countries',
      'pages',
      'recent',
      'type',
      'visitors',
    ]);
    // The reused ticket: the handshake is refused (401), which a browser reports as a failed socket.
    expect(result.second).toEqual({ opened: false, first: null, closeCode: 1006 });
    await context.close();
  });

  it('is refused on a page of another origin, and stays unspent', async () => {
    const ticketRes = await demoApi(`/api/projects/${DEMO.projectId}/live-ticket`, { method: 'POST' });
    const { ticket } = (await ticketRes.json()) as { ticket: string };
    const context = await personContext();
    const page = await context.newPage();
    await page.goto(`${site.url}/basic.html`);
    const url = `${worker.url.replace(/^http/, 'ws')}/api/projects/${DEMO.projectId}/live?ticket=${ticket}`;
    const outcome = await page.evaluate(
      (target) =>
        new Promise<{ opened: boolean; closeCode: number }>((resolve) => {
          const socket = new WebSocket(target);
          let opened = false;
          socket.onopen = () => {
            opened = true;
          };
          socket.onclose = (event) => resolve({ opened, closeCode: event.code });
        }),
      url,
    );
    expect(outcome).toEqual({ opened: false, closeCode: 1006 });

    // The refusal came before the ticket was looked at: it still opens a socket from the API's origin.
    await page.goto(`${worker.url}/live.js`);
    const reopened = await page.evaluate(
      (target) =>
        new Promise<boolean>((resolve) => {
          const socket = new WebSocket(target);
          socket.onmessage = () => {
            resolve(true);
            socket.close();
          };
          socket.onclose = () => resolve(false);
        }),
      url,
    );
    expect(reopened).toBe(true);
    await context.close();
  });
});
