/**
 * Realistic traffic for the benchmark, from one seeded generator: what browsers send to
 * `POST /api/event` (ingest load), and rows in the events table's shape (drain and query data).
 * The shapes follow a shop-like site: a long tail of pages, search and social referrers, a few
 * campaigns, browsers and countries in plausible proportions, custom events with properties.
 */
import { sourceOfHost } from '../worker/src/ingest/sources.ts';

/** A seeded PRNG (mulberry32): the same seed gives the same data on every run. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pick from weighted entries. */
function weighted<T extends { weight: number }>(entries: readonly T[]): (rand: () => number) => T {
  const total = entries.reduce((sum, entry) => sum + entry.weight, 0);
  return (rand) => {
    let roll = rand() * total;
    for (const entry of entries) {
      roll -= entry.weight;
      if (roll < 0) return entry;
    }
    return entries[entries.length - 1] as T;
  };
}

/** Browser user agents with what ua-parser-js makes of them. */
export const AGENTS = [
  {
    weight: 34,
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    browser: 'Chrome',
    browserVersion: '131',
    os: 'Windows',
    osVersion: '10',
    device: 'desktop',
  },
  {
    weight: 22,
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    browser: 'Mobile Safari',
    browserVersion: '17',
    os: 'iOS',
    osVersion: '17.5',
    device: 'mobile',
  },
  {
    weight: 14,
    ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    browser: 'Chrome',
    browserVersion: '131',
    os: 'Android',
    osVersion: '14',
    device: 'mobile',
  },
  {
    weight: 10,
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    browser: 'Safari',
    browserVersion: '17',
    os: 'macOS',
    osVersion: '10.15.7',
    device: 'desktop',
  },
  {
    weight: 8,
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
    browser: 'Firefox',
    browserVersion: '133',
    os: 'Windows',
    osVersion: '10',
    device: 'desktop',
  },
  {
    weight: 7,
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    browser: 'Edge',
    browserVersion: '131',
    os: 'Windows',
    osVersion: '10',
    device: 'desktop',
  },
  {
    weight: 5,
    ua: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    browser: 'Mobile Safari',
    browserVersion: '17',
    os: 'iOS',
    osVersion: '17.5',
    device: 'tablet',
  },
] as const;

/** Countries with a region, a city and a timezone, as `request.cf` gives them. */
export const PLACES = [
  { weight: 30, country: 'US', region: 'California', city: 'San Francisco', timezone: 'America/Los_Angeles' },
  { weight: 10, country: 'US', region: 'New York', city: 'New York', timezone: 'America/New_York' },
  { weight: 14, country: 'DE', region: 'Berlin', city: 'Berlin', timezone: 'Europe/Berlin' },
  { weight: 9, country: 'GB', region: 'England', city: 'London', timezone: 'Europe/London' },
  { weight: 7, country: 'FR', region: 'Île-de-France', city: 'Paris', timezone: 'Europe/Paris' },
  { weight: 6, country: 'IN', region: 'Karnataka', city: 'Bengaluru', timezone: 'Asia/Kolkata' },
  { weight: 5, country: 'BR', region: 'São Paulo', city: 'São Paulo', timezone: 'America/Sao_Paulo' },
  { weight: 5, country: 'JP', region: 'Tokyo', city: 'Tokyo', timezone: 'Asia/Tokyo' },
  { weight: 4, country: 'CA', region: 'Ontario', city: 'Toronto', timezone: 'America/Toronto' },
  { weight: 4, country: 'NL', region: 'North Holland', city: 'Amsterdam', timezone: 'Europe/Amsterdam' },
  { weight: 3, country: 'AU', region: 'New South Wales', city: 'Sydney', timezone: 'Australia/Sydney' },
  { weight: 3, country: 'PL', region: 'Mazovia', city: 'Warsaw', timezone: 'Europe/Warsaw' },
] as const;

/** Referrers (null: direct traffic). */
const REFERRERS = [
  { weight: 40, url: null },
  { weight: 25, url: 'https://www.google.com/' },
  { weight: 4, url: 'https://www.bing.com/' },
  { weight: 3, url: 'https://duckduckgo.com/' },
  { weight: 5, url: 'https://t.co/abc123' },
  { weight: 4, url: 'https://www.facebook.com/' },
  { weight: 4, url: 'https://news.ycombinator.com/item' },
  { weight: 4, url: 'https://www.reddit.com/r/webdev/comments/1' },
  { weight: 3, url: 'https://github.com/tally/tally' },
  { weight: 2, url: 'https://www.linkedin.com/feed/' },
  { weight: 6, url: 'https://blog.partner.example/review-of-the-shop' },
] as const;

const CAMPAIGNS = [
  { weight: 90, query: '' },
  { weight: 4, query: '?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale' },
  { weight: 3, query: '?utm_source=twitter&utm_medium=social&utm_campaign=launch' },
  { weight: 3, query: '?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=shoes' },
] as const;

const SCREENS = [
  { weight: 35, width: 390, screen: 'Mobile' },
  { weight: 10, width: 820, screen: 'Tablet' },
  { weight: 30, width: 1366, screen: 'Laptop' },
  { weight: 25, width: 1920, screen: 'Desktop' },
] as const;

/** The site's hostname (projects in the benchmark accept any). */
export const SITE_HOST = 'shop.example.com';

/** 400 pages with a long tail: a few are most of the traffic. */
export const PAGES: readonly { weight: number; path: string }[] = (() => {
  const fixed = ['/', '/pricing', '/products', '/cart', '/checkout', '/about', '/blog', '/docs', '/login', '/signup'];
  const tail = Array.from({ length: 390 }, (_, i) =>
    i % 3 === 0 ? `/products/item-${i}` : i % 3 === 1 ? `/blog/post-${i}` : `/docs/guide/section-${i}`,
  );
  return [...fixed, ...tail].map((path, i) => ({ path, weight: 1 / (i + 1) ** 0.9 }));
})();

/** Custom events: names, properties and revenue. */
const CUSTOM = [
  { weight: 50, name: 'add_to_cart', props: '{"product":"item-12","variant":"blue"}', revenue: null },
  { weight: 25, name: 'signup', props: '{"plan":"pro"}', revenue: null },
  { weight: 15, name: 'download', props: '{"file":"guide.pdf"}', revenue: null },
  { weight: 10, name: 'purchase', props: '{"items":"2"}', revenue: 49.9 },
] as const;

export const pickAgent = weighted(AGENTS);
export const pickPlace = weighted(PLACES);
export const pickReferrer = weighted(REFERRERS);
export const pickCampaign = weighted(CAMPAIGNS);
export const pickScreen = weighted(SCREENS);
export const pickPage = weighted(PAGES);
export const pickCustom = weighted(CUSTOM);

/** The traffic source the Worker derives from a referrer URL (null: direct). */
export function sourceOf(referrer: string | null): { host: string | null; source: string | null } {
  if (!referrer) return { host: null, source: null };
  const host = new URL(referrer).hostname;
  return { host, source: sourceOfHost(host) };
}

/** A request a browser would make: headers (with `request.cf` as Miniflare's header) and body. */
export interface WireRequest {
  headers: Record<string, string>;
  body: string;
}

/**
 * `count` distinct ingest requests from `visitors` simulated visitors (IP, user agent and place
 * each), of `eventsPerRequest` events each: the first a pageview, the rest a mix of further
 * pageviews and custom events (a batch is what the SDK sends for one visitor).
 */
export function wireRequests(siteKey: string, count: number, eventsPerRequest: number, seed = 1): WireRequest[] {
  const rand = random(seed);
  const visitors = Math.max(1, Math.min(5_000, count));
  const people = Array.from({ length: visitors }, (_, i) => ({
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    agent: pickAgent(rand),
    place: pickPlace(rand),
    screen: pickScreen(rand),
  }));
  return Array.from({ length: count }, (_, i) => {
    const person = people[i % visitors] as (typeof people)[number];
    const events = Array.from({ length: eventsPerRequest }, (_, k) => {
      const custom = k > 0 && rand() < 0.3 ? pickCustom(rand) : null;
      const url = `https://${SITE_HOST}${pickPage(rand).path}${k === 0 ? pickCampaign(rand).query : ''}`;
      const referrer = k === 0 ? pickReferrer(rand).url : null;
      return {
        s: siteKey,
        n: custom?.name ?? 'pageview',
        u: url,
        ...(referrer ? { r: referrer } : {}),
        w: person.screen.width,
        ...(custom ? { p: JSON.parse(custom.props) as Record<string, string> } : {}),
        ...(custom?.revenue ? { $: { a: custom.revenue, c: 'EUR' } } : {}),
      };
    });
    return {
      headers: {
        'content-type': 'text/plain;charset=UTF-8',
        'user-agent': person.agent.ua,
        'cf-connecting-ip': person.ip,
        'mf-cf-blob': JSON.stringify({
          country: person.place.country,
          region: person.place.region,
          city: person.place.city,
          timezone: person.place.timezone,
        }),
        origin: `https://${SITE_HOST}`,
      },
      body: JSON.stringify(eventsPerRequest === 1 ? events[0] : events),
    };
  });
}
