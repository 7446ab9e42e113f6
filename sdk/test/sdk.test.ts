/**
 * The npm module (`src/index.ts`): safe to import and call on a server, and in a browser the
 * same tracker as the script tag, configured by `init()`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BATCH_DELAY_MS } from '../src/tracker/networking.ts';
import { installBrowser } from './fake-browser.ts';

const wait = () => vi.advanceTimersByTimeAsync(BATCH_DELAY_MS);

beforeEach(() => {
  vi.resetModules();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('on the server', () => {
  it('imports and ignores every call without touching browser globals', async () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    const sdk = await import('../src/index.ts');
    sdk.init({ site: 'demo', api: 'https://tally.example.com' });
    sdk.track('signup', { props: { plan: 'pro' } });
    sdk.pageview();
    sdk.optOut();
    sdk.optIn();
    sdk.flush();
    await wait();
    expect(fetchMock).not.toHaveBeenCalled();
  });
});

describe('in a browser', () => {
  it('sends nothing before init, then a pageview and custom events to the api origin', async () => {
    const browser = installBrowser({ url: 'https://shop.example/cart', referrer: 'https://search.example/' });
    const sdk = await import('../src/index.ts');
    sdk.track('early');
    sdk.init({ site: 'shop', api: 'https://tally.example.com' });
    sdk.track('purchase', { props: { items: 2 }, revenue: { amount: 49.9, currency: 'USD' } });
    await wait();
    expect(browser.sent.map((request) => request.url)).toEqual(['https://tally.example.com/api/event']);
    expect(browser.events().map(({ s, n, u, r, p, $ }) => ({ s, n, u, r, p, $ }))).toEqual([
      {
        s: 'shop',
        n: 'pageview',
        u: 'https://shop.example/cart',
        r: 'https://search.example/',
        p: undefined,
        $: undefined,
      },
      {
        s: 'shop',
        n: 'purchase',
        u: 'https://shop.example/cart',
        r: 'https://search.example/',
        p: { items: 2 },
        $: { a: 49.9, c: 'USD' },
      },
    ]);
  });

  it('defaults the api to the page’s own origin (a proxy) and counts SPA navigations', async () => {
    const browser = installBrowser({ url: 'https://app.example/' });
    const sdk = await import('../src/index.ts');
    sdk.init({ site: 'app', hashRouting: true });
    history.pushState({}, '', '/#/settings');
    await wait();
    expect(browser.sent[0]?.url).toBe('https://app.example/api/event');
    expect(browser.events().map((event) => [event.u, event.h])).toEqual([
      ['https://app.example/', true],
      ['https://app.example/#/settings', true],
    ]);
  });

  it('posts below the api’s path, with or without its trailing slash (a proxy under a prefix)', async () => {
    const browser = installBrowser({ url: 'https://shop.example/' });
    const sdk = await import('../src/index.ts');
    sdk.init({ site: 'shop', api: 'https://shop.example/stats/' });
    await wait();
    expect(browser.sent[0]?.url).toBe('https://shop.example/stats/api/event');
  });

  it('with autoPageviews off, counts only the pageviews asked for, with their props', async () => {
    const browser = installBrowser();
    const sdk = await import('../src/index.ts');
    sdk.init({ site: 'demo', autoPageviews: false });
    history.pushState({}, '', '/not-counted');
    sdk.pageview({ props: { author: 'ada' } });
    sdk.flush();
    expect(browser.events().map((event) => [event.n, event.u, event.p])).toEqual([
      ['pageview', 'https://example.com/not-counted', { author: 'ada' }],
    ]);
  });

  it('honours only the first init', async () => {
    const browser = installBrowser();
    const sdk = await import('../src/index.ts');
    sdk.init({ site: 'first', api: 'https://one.example' });
    sdk.init({ site: 'second', api: 'https://two.example' });
    await wait();
    expect(browser.sent.map((request) => [request.url, request.body.map((event) => event.s)])).toEqual([
      ['https://one.example/api/event', ['first']],
    ]);
  });

  it('maps the options to the tracker’s switches: downloads list, outbound, exclude, DNT, local', async () => {
    const browser = installBrowser({ url: 'http://localhost:5173/', doNotTrack: '0' });
    const sdk = await import('../src/index.ts');
    sdk.init({
      site: 'demo',
      allowLocal: true,
      respectDnt: true,
      outboundLinks: true,
      fileDownloads: ['.epub', 'mobi'],
      exclude: ['/drafts*'],
    });
    browser.click(browser.link('/book.epub'));
    browser.click(browser.link('/book.pdf'));
    browser.click(browser.link('https://elsewhere.example/'));
    history.pushState({}, '', '/drafts/1');
    sdk.track('ignored-on-draft');
    await wait();
    expect(browser.events().map((event) => [event.n, event.p])).toEqual([
      ['pageview', undefined],
      ['download', { url: 'http://localhost:5173/book.epub' }],
      ['outbound', { url: 'https://elsewhere.example/' }],
    ]);
  });

  it('opts out and in through localStorage', async () => {
    const browser = installBrowser();
    const sdk = await import('../src/index.ts');
    sdk.optOut();
    sdk.init({ site: 'demo' });
    sdk.track('hidden');
    await wait();
    expect(browser.sent).toEqual([]);
    sdk.optIn();
    sdk.track('seen');
    await wait();
    expect(browser.events().map((event) => event.n)).toEqual(['seen']);
  });
});
