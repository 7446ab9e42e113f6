/**
 * The script-tag tracker (`src/tracker/index.ts`) against the fake browser: what it sends, when,
 * how, and when it stays silent. Each test loads a fresh copy, as a page load would.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BATCH_DELAY_MS, BATCH_SIZE } from '../src/tracker/networking.ts';
import { type BrowserOptions, type FakeBrowser, installBrowser } from './fake-browser.ts';

type Tally = ((name: string, options?: object) => void) & { optOut(): void; optIn(): void; q?: IArguments[] };
const page = globalThis as unknown as { tally?: Tally };

/** Load the tracker on a page, as `<script defer src=… data-…>` does. */
async function load(options: BrowserOptions = {}): Promise<FakeBrowser> {
  const browser = installBrowser({
    url: 'https://example.com/',
    ...options,
    dataset: { site: 'demo', ...options.dataset },
  });
  await import('../src/tracker/index.ts');
  return browser;
}

/** Let the batch delay pass. */
const wait = () => vi.advanceTimersByTimeAsync(BATCH_DELAY_MS);

beforeEach(() => {
  vi.resetModules();
  vi.useFakeTimers({ now: new Date('2026-05-04T10:00:00Z') });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  delete page.tally;
});

describe('pageview on load', () => {
  it('sends the wire fields as one text/plain beacon to the script’s origin', async () => {
    const browser = await load({ url: 'https://example.com/pricing?plan=pro', referrer: 'https://news.example/' });
    expect(browser.sent).toEqual([]);
    await wait();
    expect(browser.sent).toHaveLength(1);
    expect(browser.sent[0]?.via).toBe('beacon');
    expect(browser.sent[0]?.url).toBe('https://tally.example.com/api/event');
    expect(browser.events()).toEqual([
      {
        s: 'demo',
        n: 'pageview',
        u: 'https://example.com/pricing?plan=pro',
        r: 'https://news.example/',
        w: 1280,
        h: false,
        t: Date.parse('2026-05-04T10:00:00Z'),
        i: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      },
    ]);
  });

  it('posts to data-api when set, below its path: a proxy may serve the API under a prefix', async () => {
    for (const [api, endpoint] of [
      ['https://stats.example.org', 'https://stats.example.org/api/event'],
      ['https://example.com/stats', 'https://example.com/stats/api/event'],
      // Relative to the script's URL, as a src attribute is.
      ['/stats', 'https://tally.example.com/stats/api/event'],
    ] as const) {
      vi.resetModules();
      const browser = await load({ dataset: { api } });
      await wait();
      expect(String(browser.sent[0]?.url)).toBe(endpoint);
      vi.unstubAllGlobals();
      delete page.tally;
    }
  });

  it('gives every event its own id', async () => {
    const browser = await load();
    page.tally?.('a');
    page.tally?.('b');
    await wait();
    const ids = browser.events().map((event) => event.i);
    expect(new Set(ids).size).toBe(3);
  });
});

describe('custom events', () => {
  it('maps props and revenue to the protocol’s short fields', async () => {
    const browser = await load();
    page.tally?.('signup', { props: { plan: 'pro', seats: 3, trial: false }, revenue: { amount: 9, currency: 'EUR' } });
    await wait();
    expect(browser.events()[1]).toMatchObject({
      n: 'signup',
      p: { plan: 'pro', seats: 3, trial: false },
      $: { a: 9, c: 'EUR' },
    });
  });

  it('sends the calls queued by the snippet before the script loaded, after the pageview and in order', async () => {
    // The documented snippet: window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) }
    const stub = function (this: unknown) {
      stub.q = stub.q || [];
      // biome-ignore lint/complexity/noArguments: the snippet queues `arguments`, exactly as a page would.
      stub.q.push(arguments);
    } as unknown as Tally;
    page.tally = stub;
    stub('first', { props: { n: 1 } });
    stub('second');
    const browser = await load();
    expect(page.tally).not.toBe(stub);
    await wait();
    expect(browser.events().map((event) => [event.n, event.p])).toEqual([
      ['pageview', undefined],
      ['first', { n: 1 }],
      ['second', undefined],
    ]);
  });
});

describe('single-page navigation', () => {
  it('counts pushState, replaceState and popstate to a new path, once each', async () => {
    const browser = await load();
    history.pushState({}, '', '/docs');
    history.replaceState({ scroll: 1 }, '', '/docs'); // same page: state only
    history.replaceState({}, '', '/docs?tab=2'); // a query string is not a new page
    history.replaceState({}, '', '/docs/intro');
    browser.back('/docs');
    await wait();
    expect(browser.events().map((event) => [event.n, event.u])).toEqual([
      ['pageview', 'https://example.com/'],
      ['pageview', 'https://example.com/docs'],
      ['pageview', 'https://example.com/docs/intro'],
      ['pageview', 'https://example.com/docs'],
    ]);
  });

  it('keeps the original pushState working', async () => {
    await load();
    history.pushState({ id: 7 }, '', '/a');
    expect(location.href).toBe('https://example.com/a');
    expect(history.state).toEqual({ id: 7 });
  });

  it('with data-hash, counts each #/route and marks the events as hash-routed', async () => {
    const browser = await load({ url: 'https://example.com/#/home', dataset: { hash: '' } });
    browser.back('/#/settings');
    browser.back('/#/settings');
    await wait();
    expect(browser.events().map((event) => [event.u, event.h])).toEqual([
      ['https://example.com/#/home', true],
      ['https://example.com/#/settings', true],
    ]);
  });

  it('without data-hash, a hash change is the same page', async () => {
    const browser = await load({ url: 'https://example.com/#intro' });
    browser.back('/#details');
    await wait();
    expect(browser.events()).toHaveLength(1);
  });
});

describe('batching and delivery', () => {
  it('sends a full batch at once and waits with a partial one', async () => {
    const browser = await load();
    for (let n = 1; n < BATCH_SIZE; n++) page.tally?.(`e${n}`);
    expect(browser.sent).toHaveLength(1);
    expect(browser.sent[0]?.body).toHaveLength(BATCH_SIZE);
    page.tally?.('late');
    await vi.advanceTimersByTimeAsync(BATCH_DELAY_MS - 1);
    expect(browser.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(browser.sent.map((request) => request.body.map((event) => event.n))).toEqual([
      ['pageview', ...Array.from({ length: BATCH_SIZE - 1 }, (_, n) => `e${n + 1}`)],
      ['late'],
    ]);
  });

  it('flushes on pagehide and on visibilitychange without waiting', async () => {
    const browser = await load();
    browser.fire('pagehide');
    expect(browser.sent).toHaveLength(1);
    page.tally?.('hidden');
    browser.fire('visibilitychange');
    expect(browser.sent.map((request) => request.body[0]?.n)).toEqual(['pageview', 'hidden']);
    await wait();
    expect(browser.sent).toHaveLength(2);
  });

  it('falls back to fetch with keepalive when the beacon is refused or missing', async () => {
    for (const beacon of [false, 'missing'] as const) {
      vi.resetModules();
      const browser = await load({ beacon });
      await wait();
      expect(browser.sent).toHaveLength(1);
      expect(browser.sent[0]).toMatchObject({
        via: 'fetch',
        url: 'https://tally.example.com/api/event',
        init: { method: 'POST', keepalive: true },
      });
      // A string body: sent as text/plain, so no CORS preflight.
      expect(typeof browser.sent[0]?.init?.body).toBe('string');
      vi.unstubAllGlobals();
      delete page.tally;
    }
  });

  it('retries a failed fetch with backoff (1, 2, 4, 8 s), the same events each time, then gives up', async () => {
    const browser = await load({ beacon: false });
    browser.fetchAnswers.push('error', 503, 429, 500, 502);
    await wait();
    expect(browser.sent).toHaveLength(1);
    for (const [delay, count] of [
      [1000, 2],
      [2000, 3],
      [4000, 4],
      [8000, 5],
    ] as const) {
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(browser.sent).toHaveLength(count - 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(browser.sent).toHaveLength(count);
    }
    await vi.advanceTimersByTimeAsync(60_000);
    expect(browser.sent).toHaveLength(5);
    const bodies = browser.sent.map((request) => JSON.stringify(request.body));
    expect(new Set(bodies).size).toBe(1);
  });

  it('does not retry what the API refused for good, nor what it accepted', async () => {
    const browser = await load({ beacon: false });
    browser.fetchAnswers.push(400);
    await wait();
    page.tally?.('next');
    await wait();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(browser.sent.map((request) => request.body[0]?.n)).toEqual(['pageview', 'next']);
  });
});

describe('outbound links and file downloads', () => {
  it('counts a click on a link to another host and sends it before the page can leave', async () => {
    const browser = await load({ dataset: { outbound: '' } });
    browser.click(browser.link('https://other.example/path?q=1'));
    expect(browser.sent).toHaveLength(1);
    expect(browser.events().map((event) => [event.n, event.p])).toEqual([
      ['pageview', undefined],
      ['outbound', { url: 'https://other.example/path?q=1' }],
    ]);
  });

  it('counts middle clicks but not same-host links, right clicks or pages without data-outbound', async () => {
    const browser = await load({ dataset: { outbound: '' } });
    browser.click(browser.link('/internal'));
    browser.click(browser.link('https://other.example/'), 2);
    browser.click(browser.link('https://other.example/tab'), 1);
    await wait();
    expect(browser.events().map((event) => event.p)).toEqual([undefined, { url: 'https://other.example/tab' }]);

    vi.resetModules();
    vi.unstubAllGlobals();
    delete page.tally;
    const plain = await load();
    plain.click(plain.link('https://other.example/'));
    await wait();
    expect(plain.events().map((event) => event.n)).toEqual(['pageview']);
  });

  it('counts downloads of the usual file types, or of the listed ones', async () => {
    const browser = await load({ dataset: { downloads: '' } });
    // The path's extension only, as in Plausible: a file named in the query string is a page's link.
    for (const href of ['/files/report.PDF', '/setup.exe', '/page.html', 'https://cdn.example/a.zip', '/get?f=x.pdf']) {
      browser.click(browser.link(href));
    }
    expect(browser.events().flatMap((event) => (event.n === 'download' ? [event.p] : []))).toEqual([
      { url: 'https://example.com/files/report.PDF' },
      { url: 'https://example.com/setup.exe' },
      { url: 'https://cdn.example/a.zip' },
    ]);

    vi.resetModules();
    vi.unstubAllGlobals();
    delete page.tally;
    const listed = await load({ dataset: { downloads: 'epub|mobi' } });
    for (const href of ['/book.epub', '/report.pdf']) listed.click(listed.link(href));
    expect(listed.events().flatMap((event) => (event.n === 'download' ? [event.p] : []))).toEqual([
      { url: 'https://example.com/book.epub' },
    ]);
  });
});

describe('when nothing is sent', () => {
  it('after tally.optOut(), until tally.optIn()', async () => {
    const browser = await load();
    page.tally?.optOut();
    expect(browser.storage).toEqual({ tally_ignore: '1' });
    page.tally?.('while-out');
    history.pushState({}, '', '/elsewhere');
    await wait();
    expect(browser.events().map((event) => event.n)).toEqual(['pageview']);
    page.tally?.optIn();
    page.tally?.('back-in');
    await wait();
    expect(browser.events().map((event) => event.n)).toEqual(['pageview', 'back-in']);
  });

  it('on a page load of a visitor who opted out earlier', async () => {
    const browser = installBrowser({ dataset: { site: 'demo' } });
    browser.storage.tally_ignore = '1';
    await import('../src/tracker/index.ts');
    page.tally?.('x');
    await wait();
    expect(browser.sent).toEqual([]);
  });

  it('still counts when storage is blocked (no opt-out can exist there)', async () => {
    const browser = await load({ storageBlocked: true });
    await wait();
    expect(browser.events()).toHaveLength(1);
  });

  it('with Do Not Track, only when the site asks for it', async () => {
    const respectful = await load({ doNotTrack: '1', dataset: { respectDnt: '' } });
    await wait();
    expect(respectful.sent).toEqual([]);

    vi.resetModules();
    vi.unstubAllGlobals();
    delete page.tally;
    const other = await load({ doNotTrack: '1' });
    await wait();
    expect(other.events()).toHaveLength(1);
  });

  it('on excluded pages', async () => {
    const browser = await load({ url: 'https://example.com/admin/users', dataset: { exclude: '/admin*, /private' } });
    page.tally?.('on-admin');
    for (const path of ['/private', '/privateer', '/blog/admin']) history.pushState({}, '', path);
    page.tally?.('on-blog');
    await wait();
    expect(browser.events().map((event) => [event.n, event.u])).toEqual([
      ['pageview', 'https://example.com/privateer'],
      ['pageview', 'https://example.com/blog/admin'],
      ['on-blog', 'https://example.com/blog/admin'],
    ]);
  });

  it('on localhost and in automated browsers, unless data-allow-local', async () => {
    for (const options of [
      { url: 'http://localhost:3000/' },
      { url: 'http://127.0.0.1:8080/' },
      { url: 'http://[::1]:8080/' },
      { url: 'http://0.0.0.0:5173/' },
      { url: 'http://shop.localhost:3000/' },
      { webdriver: true },
    ]) {
      vi.resetModules();
      const ignored = await load(options);
      page.tally?.('x');
      await wait();
      expect(ignored.sent, JSON.stringify(options)).toEqual([]);
      vi.unstubAllGlobals();
      delete page.tally;

      vi.resetModules();
      const allowed = await load({ ...options, dataset: { allowLocal: '' } });
      await wait();
      expect(allowed.events(), JSON.stringify(options)).toHaveLength(1);
      vi.unstubAllGlobals();
      delete page.tally;
    }
  });
});

describe('privacy', () => {
  it('keeps nothing in storage and never touches cookies', async () => {
    // The fake document throws on any cookie access.
    const browser = await load({ dataset: { outbound: '', downloads: '' } });
    page.tally?.('signup', { props: { plan: 'pro' } });
    history.pushState({}, '', '/next');
    browser.click(browser.link('https://other.example/'));
    await wait();
    expect(browser.events()).toHaveLength(4);
    expect(browser.storage).toEqual({});
  });
});
