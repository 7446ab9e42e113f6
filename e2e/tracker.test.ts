/**
 * The script-tag tracker in Debian's Chromium against the worker run locally (Plausible's tracker
 * tests are the model): HTML fixtures load `/t.js` with `data-*` attributes, the fixture server
 * records the exact payloads on their way to the worker, and every test ends by checking that D1
 * holds exactly those events, field for field, once the queue has drained. The privacy checks read
 * what Chromium itself kept: cookies, Web Storage, IndexedDB, and the Set-Cookie of every answer.
 *
 * Pages get URLs of their own (`/<fixture>/<run>/…`) so that each test reads only its events.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureServer, startFixtureServer } from './fixture-server.ts';
import { CHROME_UA, eventually, launchBrowser, type RunningWorker, startWorker } from './harness.ts';

/** An event as the tracker puts it on the wire. */
interface WireEvent {
  s: string;
  n: string;
  u: string;
  r: string;
  w: number;
  h: boolean;
  p?: Record<string, unknown>;
  $?: { a: number; c: string };
  t: number;
  i: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let worker: RunningWorker;
let site: FixtureServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  worker = await startWorker();
  site = await startFixtureServer(worker.url);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await worker?.stop();
});

/** A fresh browser profile per test: storage, history and caches never carry over. */
async function openPage(init?: () => void): Promise<Page> {
  // Headless Chromium names itself HeadlessChrome, which ingest drops as a bot; a visitor does not.
  context = await browser.newContext({ userAgent: CHROME_UA });
  if (init) await context.addInitScript(init);
  page = await context.newPage();
  return page;
}

afterEach(async () => {
  await context?.close();
});

/** A path of its own for this test under a fixture. */
const runPath = (fixture: string) => `/${fixture}/${randomUUID().slice(0, 8)}/`;

/** The event requests that came from pages under `path`, each as its list of events. */
function requestsFrom(path: string): WireEvent[][] {
  return site.captured
    .map((request) => request.body as WireEvent[])
    .filter((events) => Array.isArray(events) && events.some((event) => new URL(event.u).pathname.startsWith(path)));
}

/** Every event sent from pages under `path`, in the order they arrived. */
const eventsFrom = (path: string) => requestsFrom(path).flat();

/** Wait until the events from `path` are exactly `count`; return them. */
function waitForEvents(path: string, count: number): Promise<WireEvent[]> {
  return eventually(() => {
    const events = eventsFrom(path);
    expect(events).toHaveLength(count);
    return events;
  });
}

/** The row D1 must hold for an event sent by the tracker. */
function expectedRow(event: WireEvent) {
  const url = new URL(event.u);
  const route = event.h && /^#!?\//.test(url.hash) ? url.hash.split('?')[0] : '';
  return {
    id: event.i,
    name: event.n,
    ts: event.t,
    hostname: url.hostname,
    path: decodeURIComponent(url.pathname + route),
    referrer: null,
    props: event.p ?? null,
    revenue_amount: event.$?.a ?? null,
    revenue_currency: event.$?.c ?? null,
    browser: 'Chrome',
  };
}

/**
 * Poll D1 until it holds a row for every event, and compare them field for field. The ids come
 * from captured payloads and are checked to be UUIDs before they go into the SQL text (the
 * wrangler CLI takes no bound parameters).
 */
async function expectStored(events: WireEvent[]): Promise<void> {
  for (const event of events) expect(event.i).toMatch(UUID);
  const ids = events.map((event) => `'${event.i}'`).join(', ');
  const rows = await eventually(async () => {
    const found = await worker.d1(
      'SELECT id, name, ts, hostname, path, referrer, props, revenue_amount, revenue_currency, browser ' +
        `FROM events WHERE project_id = 'demo' AND id IN (${ids}) ORDER BY ts, seq`,
    );
    expect(found).toHaveLength(events.length);
    return found;
  }, 60_000);
  const stored: Record<string, unknown>[] = rows.map((row) => ({
    ...row,
    props: row.props === null ? null : JSON.parse(String(row.props)),
  }));
  const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
  expect(stored.sort(byId)).toEqual(events.map(expectedRow).sort(byId));
}

describe('pageview on load', () => {
  it('sends the wire fields as a text/plain beacon, and D1 stores exactly that event', async () => {
    const path = runPath('basic');
    await openPage();
    await page.goto(`${site.url}${path}?utm_source=e2e`);
    const [event] = await waitForEvents(path, 1);
    expect(event).toEqual({
      s: 'demo',
      n: 'pageview',
      u: `${site.url}${path}?utm_source=e2e`,
      r: '',
      w: 1280,
      h: false,
      t: expect.any(Number),
      i: expect.stringMatching(UUID),
    });
    const request = site.captured.find((captured) => (captured.body as WireEvent[]).includes(event as WireEvent));
    expect(request).toMatchObject({ contentType: 'text/plain;charset=UTF-8', userAgent: CHROME_UA, status: 202 });
    expect(request?.answer).toEqual({ accepted: 1, ids: [event?.i] });
    await expectStored([event as WireEvent]);
  });

  it('works with the tag as sites use it: the script and the events cross-origin on the worker', async () => {
    const path = runPath('direct');
    await openPage();
    await page.goto(`${site.url}${path}`);
    const rows = await eventually(async () => {
      const found = await worker.d1(`SELECT name, hostname, path FROM events WHERE path = '${path}'`);
      expect(found).toHaveLength(1);
      return found;
    }, 60_000);
    expect(rows).toEqual([{ name: 'pageview', hostname: '127.0.0.1', path }]);
    // Nothing went through the site's proxy: the beacon went straight to the worker.
    expect(eventsFrom(path)).toEqual([]);
  });
});

describe('single-page navigation', () => {
  it('counts pushState routes and the back button, not a replaceState that keeps the page', async () => {
    const path = runPath('spa');
    await openPage();
    await page.goto(`${site.url}${path}`);
    await page.click('#about');
    await page.click('#pricing');
    await page.evaluate(() => history.replaceState({ tab: 2 }, '', location.href));
    await page.goBack();
    await expect.poll(() => page.evaluate(() => location.pathname)).toBe(`${path}about`);
    const events = await waitForEvents(path, 4);
    expect(events.map((event) => [event.n, new URL(event.u).pathname])).toEqual([
      ['pageview', path],
      ['pageview', `${path}about`],
      ['pageview', `${path}pricing`],
      ['pageview', `${path}about`],
    ]);
    await expectStored(events);
  });

  it('with data-hash, counts each #/route and D1 keeps the route in the path', async () => {
    const path = runPath('hash');
    await openPage();
    await page.goto(`${site.url}${path}`);
    await page.click('#settings');
    await page.click('#billing');
    const events = await waitForEvents(path, 3);
    expect(events.map((event) => [new URL(event.u).hash, event.h])).toEqual([
      ['', true],
      ['#/settings', true],
      ['#/billing', true],
    ]);
    await expectStored(events);
    const paths = await worker.d1(`SELECT path FROM events WHERE path LIKE '${path}%' ORDER BY ts, seq`);
    expect(paths.map((row) => row.path)).toEqual([path, `${path}#/settings`, `${path}#/billing`]);
  });
});

describe('custom events', () => {
  it('sends queued calls and events with props and revenue, stored with both', async () => {
    const path = runPath('custom');
    await openPage();
    await page.goto(`${site.url}${path}`);
    await page.click('#signup');
    const events = await waitForEvents(path, 3);
    expect(events.map(({ n, p, $ }) => ({ n, p, $ }))).toEqual([
      { n: 'pageview', p: undefined, $: undefined },
      { n: 'queued', p: { early: true }, $: undefined },
      { n: 'signup', p: { plan: 'pro' }, $: { a: 9, c: 'EUR' } },
    ]);
    await expectStored(events);
  });
});

describe('outbound links and downloads', () => {
  it('an outbound click arrives although the page navigates away at once', async () => {
    const path = runPath('links');
    await openPage();
    await page.goto(`${site.url}${path}`);
    await Promise.all([page.waitForURL(`${site.localhostUrl}/landing.html?from=links`), page.click('#outbound')]);
    const events = await waitForEvents(path, 2);
    expect(events.map(({ n, p }) => ({ n, p }))).toEqual([
      { n: 'pageview', p: undefined },
      { n: 'outbound', p: { url: `${site.localhostUrl}/landing.html?from=links` } },
    ]);
    // The pending pageview left with the click, in the same request.
    expect(requestsFrom(path)).toHaveLength(1);
    await expectStored(events);
  });

  it('counts a file download, and not a link within the site', async () => {
    const path = runPath('links');
    await openPage();
    await page.goto(`${site.url}${path}`);
    const download = page.waitForEvent('download');
    await page.click('#download');
    await download;
    await Promise.all([page.waitForURL(`${site.url}/landing.html`), page.click('#internal')]);
    const events = await waitForEvents(path, 2);
    expect(events.map(({ n, p }) => ({ n, p }))).toEqual([
      { n: 'pageview', p: undefined },
      { n: 'download', p: { url: `${site.url}/files/guide.pdf` } },
    ]);
    await expectStored(events);
  });
});

describe('batching', () => {
  it('sends a full batch at once and the rest after the delay, every event stored once', async () => {
    const path = runPath('batch');
    await openPage();
    await page.goto(`${site.url}${path}`);
    const events = await waitForEvents(path, 13);
    expect(requestsFrom(path).map((request) => request.map((event) => event.p?.n ?? event.n))).toEqual([
      ['pageview', 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12],
    ]);
    await expectStored(events);
  });

  it('flushes what is waiting when the page is left, before its timer could fire', async () => {
    const path = runPath('basic');
    await openPage();
    await page.goto(`${site.url}${path}`);
    // The tracker has loaded once the stub's queue is gone; then an event and an immediate exit.
    await page.waitForFunction(() => typeof (window as { tally?: { optOut?: unknown } }).tally?.optOut === 'function');
    await Promise.all([
      page.waitForURL(`${site.url}/landing.html`),
      page.evaluate(() => {
        (window as unknown as { tally(name: string): void }).tally('leaving');
        location.href = '/landing.html';
      }),
    ]);
    const events = await waitForEvents(path, 2);
    expect(events.map((event) => event.n)).toEqual(['pageview', 'leaving']);
    expect(requestsFrom(path)).toHaveLength(1);
    await expectStored(events);
  });
});

describe('silence', () => {
  it('sends nothing while opted out, and again after tally.optIn()', async () => {
    const path = runPath('basic');
    await openPage(() => localStorage.setItem('tally_ignore', '1'));
    await page.goto(`${site.url}${path}`);
    await page.waitForFunction(() => typeof (window as { tally?: { optOut?: unknown } }).tally?.optOut === 'function');
    await page.evaluate(() => {
      const tally = (window as unknown as { tally: ((name: string) => void) & { optIn(): void } }).tally;
      tally('while-opted-out');
      history.pushState({}, '', 'next');
      tally.optIn();
      tally('after-opt-in');
    });
    // Events leave in order through one queue: once the last has arrived, any earlier one would have.
    const events = await waitForEvents(path, 1);
    expect(events.map((event) => event.n)).toEqual(['after-opt-in']);
    await expectStored(events);
  });

  it('sends nothing on localhost from an automated browser without data-allow-local', async () => {
    const silent = runPath('local');
    const counted = runPath('basic');
    await openPage();
    await page.goto(`${site.url}${silent}`);
    await page.waitForFunction(() => typeof (window as { tally?: { optOut?: unknown } }).tally?.optOut === 'function');
    await page.evaluate(() => (window as unknown as { tally(name: string): void }).tally('custom'));
    // Leaving flushes whatever the silent page had queued; the next page is the sync point.
    await page.goto(`${site.url}${counted}`);
    await waitForEvents(counted, 1);
    expect(eventsFrom(silent)).toEqual([]);
    expect(await worker.d1(`SELECT id FROM events WHERE path LIKE '${silent}%'`)).toEqual([]);
  });
});

describe('a page on a local host', () => {
  it('is told once in the console why nothing is counted (t.local, served for a local Referer)', async () => {
    const silent = runPath('local-worker');
    await openPage();
    const said: string[] = [];
    page.on('console', (message) => {
      if (message.text().startsWith('Tally:')) said.push(message.text());
    });
    await page.goto(`${site.url}${silent}`);
    await page.waitForFunction(() => typeof (window as { tally?: { optOut?: unknown } }).tally?.optOut === 'function');
    await page.evaluate(() => {
      const tally = (window as unknown as { tally(name: string): void }).tally;
      tally('custom');
      tally('again');
    });
    await expect.poll(() => said.length).toBe(1);
    expect(said[0]).toMatch(/^Tally: this page is not counted: .*data-allow-local/);
    expect(eventsFrom(silent)).toEqual([]);
  });
});

describe('privacy', () => {
  /** What the page's origin keeps: both Web Storages, entry by entry, and its IndexedDB databases. */
  function storedByPage(): Promise<{ local: object; session: object; databases: string[] }> {
    return page.evaluate(async () => ({
      local: { ...localStorage },
      session: { ...sessionStorage },
      databases: (await indexedDB.databases()).map((database) => String(database.name)),
    }));
  }

  it('sets no cookie and stores nothing, through the proxy and cross-origin, and no answer carries Set-Cookie', async () => {
    await openPage();
    const answers: { url: string; setCookie: string | undefined }[] = [];
    page.on('response', async (response) => {
      if (!/\/(t\.js|api\/event)(\?|$)/.test(new URL(response.url()).pathname)) return;
      answers.push({ url: response.url(), setCookie: (await response.allHeaders())['set-cookie'] });
    });
    for (const fixture of ['basic', 'direct']) {
      const path = runPath(fixture);
      await page.goto(`${site.url}${path}`);
      await page.waitForFunction(() => typeof (window as { tally?: unknown }).tally === 'function');
      await page.evaluate(() => {
        const tally = (window as unknown as { tally(name: string): void }).tally;
        tally('signup');
        history.pushState({}, '', 'next');
      });
      // The beacons are answered (D1 has them) before storage and cookies are read.
      await eventually(async () => {
        const rows = await worker.d1(`SELECT id FROM events WHERE path LIKE '${path}%'`);
        expect(rows).toHaveLength(3);
      }, 60_000);
      expect(await storedByPage()).toEqual({ local: {}, session: {}, databases: [] });
    }
    expect(await context.cookies()).toEqual([]);
    // Both the script and the events, from the site's proxy and from the worker itself.
    await eventually(() => {
      expect(answers.filter((answer) => answer.url.includes('/t.js')).length).toBeGreaterThanOrEqual(2);
      expect(answers.filter((answer) => answer.url.includes('/api/event')).length).toBeGreaterThanOrEqual(2);
    });
    expect(answers.filter((answer) => answer.setCookie !== undefined)).toEqual([]);
  });

  it('keeps only the opt-out flag after tally.optOut(), and still no cookie', async () => {
    await openPage();
    await page.goto(`${site.url}${runPath('basic')}`);
    await page.waitForFunction(() => typeof (window as { tally?: { optOut?: unknown } }).tally?.optOut === 'function');
    await page.evaluate(() => (window as unknown as { tally: { optOut(): void } }).tally.optOut());
    expect(await storedByPage()).toEqual({ local: { tally_ignore: '1' }, session: {}, databases: [] });
    expect(await context.cookies()).toEqual([]);
  });
});
