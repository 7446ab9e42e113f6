/**
 * What ingest adds to an event before storing it: browser, OS and device from real user agents;
 * screen class; referrer, source and UTM tags; page path; props; revenue; geography from `cf`.
 */
import type { WireEvent } from '@tally/sdk/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { primaryLanguage } from '../src/ingest/enrich.ts';
import type { StoredEvent } from '../src/pipeline/messages.ts';
import { createProject, pageview, postEvent, type TestProject, USER_AGENTS, waitForEvents } from './helpers.ts';

let project: TestProject;
beforeEach(async () => {
  project = await createProject();
});

/** Send one batch of events, each on its own path, and return the stored rows by path. */
async function storeByPath(events: Record<string, Partial<WireEvent>>): Promise<Record<string, StoredEvent>> {
  const body = Object.entries(events).map(([path, fields]) =>
    pageview(project.siteKey, { u: `https://example.com${path}`, ...fields }),
  );
  const res = await postEvent(body);
  expect(res.status, await res.clone().text()).toBe(202);
  const rows = await waitForEvents(project.id, body.length);
  return Object.fromEntries(rows.map((row) => [row.path, row]));
}

describe('user agent', () => {
  it.each([
    ['Chrome on Windows', USER_AGENTS.chromeWindows, ['Chrome', '131', 'Windows', '10', 'desktop']],
    ['Firefox on Windows', USER_AGENTS.firefoxWindows, ['Firefox', '133', 'Windows', '10', 'desktop']],
    ['Safari on an iPhone', USER_AGENTS.safariIphone, ['Mobile Safari', '17', 'iOS', '17.5', 'mobile']],
  ])('%s', async (_name, userAgent, [browser, browserVersion, os, osVersion, device]) => {
    expect((await postEvent(pageview(project.siteKey), { headers: { 'user-agent': userAgent } })).status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row).toMatchObject({ browser, browserVersion, os, osVersion, device });
  });
});

describe('screen class from the width', () => {
  it('follows the Mobile < 576 ≤ Tablet < 992 ≤ Laptop < 1440 ≤ Desktop breakpoints', async () => {
    const expected: Record<number, string> = {
      0: 'Mobile',
      375: 'Mobile',
      575: 'Mobile',
      576: 'Tablet',
      800: 'Tablet',
      991: 'Tablet',
      992: 'Laptop',
      1280: 'Laptop',
      1439: 'Laptop',
      1440: 'Desktop',
      1920: 'Desktop',
    };
    const rows = await storeByPath({
      ...Object.fromEntries(Object.keys(expected).map((w) => [`/${w}`, { w: Number(w) }])),
      '/none': {},
    });
    for (const [width, screen] of Object.entries(expected)) expect(rows[`/${width}`]?.screen, width).toBe(screen);
    expect(rows['/none']?.screen).toBeNull();
  });
});

describe('referrer and source', () => {
  it('names known sources and keeps referrers without their query string', async () => {
    const rows = await storeByPath({
      '/google': { r: 'https://www.google.co.uk/' },
      '/hn': { r: 'https://news.ycombinator.com/item?id=1' },
      '/blog': { r: 'https://blog.other.org/posts/1?utm=x#comments' },
      '/self': { r: 'https://example.com/pricing?plan=pro' },
      '/direct': {},
      '/not-a-url': { r: 'android-app://com.google.android.gm/' },
    });
    expect(rows['/google']).toMatchObject({
      referrer: 'https://www.google.co.uk/',
      referrerHost: 'www.google.co.uk',
      source: 'Google',
    });
    expect(rows['/hn']).toMatchObject({ referrer: 'https://news.ycombinator.com/item', source: 'Hacker News' });
    expect(rows['/blog']).toMatchObject({ referrer: 'https://blog.other.org/posts/1', source: 'blog.other.org' });
    for (const path of ['/self', '/direct', '/not-a-url']) {
      expect(rows[path], path).toMatchObject({ referrer: null, referrerHost: null, source: null });
    }
  });

  it('stores UTM tags, lets utm_source win as the source, and keeps the query out of the path', async () => {
    const tags = 'utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=hero';
    const rows = await storeByPath({
      '/landing': { u: `https://example.com/landing?${tags}&id=42`, r: 'https://www.google.com/' },
    });
    expect(rows['/landing']).toMatchObject({
      path: '/landing',
      referrer: 'https://www.google.com/',
      source: 'newsletter',
      utmSource: 'newsletter',
      utmMedium: 'email',
      utmCampaign: 'spring',
      utmTerm: 'shoes',
      utmContent: 'hero',
    });
  });
});

describe('page path', () => {
  it('includes the `#/` route only with hash routing', async () => {
    const rows = await storeByPath({
      '/#/settings': { u: 'https://example.com/#/settings', h: true },
      '/app': { u: 'https://example.com/app#/settings' },
      '/docs/intro': { u: 'https://example.com/docs/intro#section-2', h: true },
    });
    expect(Object.keys(rows).sort()).toEqual(['/#/settings', '/app', '/docs/intro']);
  });

  it('keeps no query string, not even one inside a hash route', async () => {
    // schema.ts: "query strings are not kept" — they can carry personal data (emails, tokens).
    const rows = await storeByPath({
      '/#/users': { u: 'https://example.com/?a=1#/users?email=ann@example.com', h: true },
    });
    expect(Object.keys(rows)).toEqual(['/#/users']);
  });

  it('is decoded', async () => {
    const rows = await storeByPath({ '/caf%C3%A9': {} });
    expect(Object.keys(rows)).toEqual(['/café']);
  });
});

describe('props, revenue and names', () => {
  it('stores props as JSON, revenue with an upper-case currency, and custom names', async () => {
    const rows = await storeByPath({
      '/checkout': { n: 'purchase', p: { plan: 'pro', seats: 3, trial: false }, $: { a: 9.99, c: 'eur' } },
      '/plain': { p: {} },
    });
    expect(rows['/checkout']).toMatchObject({ name: 'purchase', revenueAmount: 9.99, revenueCurrency: 'EUR' });
    expect(JSON.parse(rows['/checkout']?.props ?? 'null')).toEqual({ plan: 'pro', seats: 3, trial: false });
    expect(rows['/plain']).toMatchObject({ name: 'pageview', props: null, revenueAmount: null, revenueCurrency: null });
  });
});

describe('geography from request.cf', () => {
  it('stores country, region, city and timezone', async () => {
    // exports.default.fetch hands RequestInit.cf through to c.req.raw.cf, as the edge would.
    const cf = { country: 'DE', region: 'Berlin', city: 'Berlin', timezone: 'Europe/Berlin' } as const;
    expect((await postEvent(pageview(project.siteKey), { cf })).status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row).toMatchObject({ country: 'DE', region: 'Berlin', city: 'Berlin', timezone: 'Europe/Berlin' });
  });

  it('stores no country the edge could not name', async () => {
    expect((await postEvent(pageview(project.siteKey), { cf: { country: 'T1' } })).status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row).toMatchObject({ country: null, region: null, city: null });
  });
});

describe('language from Accept-Language', () => {
  it('stores the first language of the request, canonicalised, and nothing else of the header', async () => {
    const res = await postEvent(pageview(project.siteKey), {
      headers: { 'accept-language': 'pt-br,pt;q=0.9,en;q=0.8' },
    });
    expect(res.status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row?.language).toBe('pt-BR');
  });

  it.each([
    ['de-de,en;q=0.8', 'de-DE'],
    ['en;q=0.5, fr-CA', 'fr-CA'],
    ['ZH-hant-tw', 'zh-Hant-TW'],
    ['en-US-x-private', 'en-US'],
    ['*', null],
    ['', null],
    ['en;q=0', null],
    ['!!;q=1', null],
    [`${'x'.repeat(600)},de`, null],
  ])('%j → %j', (header, language) => {
    expect(primaryLanguage(header)).toBe(language);
  });
});
