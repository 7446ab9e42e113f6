/**
 * Realistic traffic for the benchmark, from one seeded generator: what browsers send to
 * `POST /api/event` — the wire event, user agent, `request.cf` and `Accept-Language` — for the
 * ingest load, and for the rows of drain and query data (bench/rows.ts enriches it as ingest does).
 * The shapes follow a shop-like site: a long tail of pages, search and social referrers, a few
 * campaigns, browsers, countries and languages in plausible proportions, custom events with
 * properties.
 */
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

/**
 * Browsers' `User-Agent` headers, as they reach the Worker. What they say (browser, version, OS,
 * device) is ingest's business: `enrichEvent` parses them, as it does live traffic.
 */
export const AGENTS = [
  {
    weight: 32,
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  },
  {
    weight: 20,
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  },
  {
    weight: 13,
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  },
  {
    weight: 8,
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  },
  {
    weight: 5,
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  },
  { weight: 6, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0' },
  { weight: 2, ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
  {
    weight: 7,
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  },
  {
    weight: 3,
    ua: 'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36',
  },
  {
    weight: 4,
    ua: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  },
] as const;

/** Places as `request.cf` gives them (country, region, city, timezone). */
export const PLACES = [
  { weight: 30, cf: { country: 'US', region: 'California', city: 'San Francisco', timezone: 'America/Los_Angeles' } },
  { weight: 10, cf: { country: 'US', region: 'New York', city: 'New York', timezone: 'America/New_York' } },
  { weight: 14, cf: { country: 'DE', region: 'Berlin', city: 'Berlin', timezone: 'Europe/Berlin' } },
  { weight: 9, cf: { country: 'GB', region: 'England', city: 'London', timezone: 'Europe/London' } },
  { weight: 7, cf: { country: 'FR', region: 'Île-de-France', city: 'Paris', timezone: 'Europe/Paris' } },
  { weight: 6, cf: { country: 'IN', region: 'Karnataka', city: 'Bengaluru', timezone: 'Asia/Kolkata' } },
  { weight: 5, cf: { country: 'BR', region: 'São Paulo', city: 'São Paulo', timezone: 'America/Sao_Paulo' } },
  { weight: 5, cf: { country: 'JP', region: 'Tokyo', city: 'Tokyo', timezone: 'Asia/Tokyo' } },
  { weight: 4, cf: { country: 'CA', region: 'Ontario', city: 'Toronto', timezone: 'America/Toronto' } },
  { weight: 4, cf: { country: 'NL', region: 'North Holland', city: 'Amsterdam', timezone: 'Europe/Amsterdam' } },
  { weight: 3, cf: { country: 'AU', region: 'New South Wales', city: 'Sydney', timezone: 'Australia/Sydney' } },
  { weight: 3, cf: { country: 'PL', region: 'Mazovia', city: 'Warsaw', timezone: 'Europe/Warsaw' } },
] as const;

/** `Accept-Language` headers as browsers send them (a few send none). */
const LANGUAGES = [
  { weight: 30, header: 'en-US,en;q=0.9' },
  { weight: 9, header: 'en-GB,en-US;q=0.9,en;q=0.8' },
  { weight: 12, header: 'de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 2, header: 'de' },
  { weight: 7, header: 'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 5, header: 'es-ES,es;q=0.9' },
  { weight: 5, header: 'pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 4, header: 'ja,en-US;q=0.9,en;q=0.8' },
  { weight: 4, header: 'zh-CN,zh;q=0.9' },
  { weight: 3, header: 'en-IN,en-GB;q=0.9,en-US;q=0.8,en;q=0.7,hi;q=0.6' },
  { weight: 3, header: 'nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 2, header: 'pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 1, header: 'zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7' },
  { weight: 2, header: '' },
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
  { weight: 89, query: '' },
  { weight: 4, query: '?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale' },
  { weight: 3, query: '?utm_source=twitter&utm_medium=social&utm_campaign=launch&utm_content=video_a' },
  { weight: 3, query: '?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=shoes' },
  // An auto-tagged ad click: Paid Search when the referrer is Google.
  { weight: 1, query: '?gclid=bench' },
] as const;

/** Window widths (`innerWidth`), of which ingest makes the screen class. */
const SCREENS = [
  { weight: 35, width: 390 },
  { weight: 10, width: 820 },
  { weight: 30, width: 1366 },
  { weight: 25, width: 1920 },
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
  { weight: 50, name: 'add_to_cart', props: { product: 'item-12', variant: 'blue' }, revenue: null },
  { weight: 25, name: 'signup', props: { plan: 'pro' }, revenue: null },
  { weight: 15, name: 'download', props: { file: 'guide.pdf' }, revenue: null },
  { weight: 10, name: 'purchase', props: { items: '2' }, revenue: { a: 49.9, c: 'EUR' } },
] as const;

export const pickAgent = weighted(AGENTS);
export const pickPlace = weighted(PLACES);
export const pickReferrer = weighted(REFERRERS);
export const pickCampaign = weighted(CAMPAIGNS);
export const pickScreen = weighted(SCREENS);
export const pickPage = weighted(PAGES);
export const pickCustom = weighted(CUSTOM);
export const pickLanguage = weighted(LANGUAGES);

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
    language: pickLanguage(rand),
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
        ...(custom ? { p: custom.props } : {}),
        ...(custom?.revenue ? { $: custom.revenue } : {}),
      };
    });
    return {
      headers: {
        'content-type': 'text/plain;charset=UTF-8',
        'user-agent': person.agent.ua,
        'cf-connecting-ip': person.ip,
        'mf-cf-blob': JSON.stringify(person.place.cf),
        ...(person.language.header ? { 'accept-language': person.language.header } : {}),
        origin: `https://${SITE_HOST}`,
      },
      body: JSON.stringify(eventsPerRequest === 1 ? events[0] : events),
    };
  });
}
