/**
 * Who visits the demo site and what a visit does there: the pools the demo draws from (arrivals,
 * places, browsers, languages, pages) and the visit itself, as the tracker would send it. The
 * history (demo-history.ts) writes such visits into D1 for past hours; the live traffic
 * (demo-traffic.ts) sends them to the local worker as they happen. Both draw from here, so the
 * history and the live numbers name the same sources, countries and pages.
 */
import type { VisitorContext } from '../worker/src/ingest/enrich.ts';
import type { ValidEvent } from '../worker/src/ingest/schema.ts';

/** mulberry32: a small, fast PRNG; good enough for fake traffic, and seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function hashString(text: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

export type Weighted<T> = readonly (readonly [T, number])[];

export function pick<T>(random: () => number, options: Weighted<T>): T {
  const total = options.reduce((sum, [, weight]) => sum + weight, 0);
  let r = random() * total;
  for (const [value, weight] of options) {
    r -= weight;
    if (r < 0) return value;
  }
  return (options.at(-1) as readonly [T, number])[0];
}

export function hex(random: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

/** A UUIDv7-shaped id whose time bits are the event's own, like the worker's ids. */
export function eventId(random: () => number, ts: number): string {
  const time = ts.toString(16).padStart(12, '0');
  const variant = ((Math.floor(random() * 4) + 8) as number).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${hex(random, 3)}-${variant}${hex(random, 3)}-${hex(random, 12)}`;
}

/** How a visit arrives: `document.referrer` (null: none) and the landing URL's query string. */
interface Arrival {
  referrer: string | null;
  query: string;
}

const ARRIVALS: Weighted<Arrival> = [
  [{ referrer: null, query: '' }, 34],
  [{ referrer: 'https://www.google.com/', query: '' }, 26],
  [{ referrer: 'https://news.ycombinator.com/', query: '' }, 7],
  [{ referrer: 'https://t.co/', query: '' }, 5],
  [{ referrer: 'https://www.reddit.com/r/webdev/', query: '' }, 5],
  [{ referrer: 'https://duckduckgo.com/', query: '' }, 4],
  [{ referrer: 'https://github.com/tally/tally', query: '' }, 4],
  [{ referrer: 'https://www.bing.com/', query: '' }, 3],
  [{ referrer: 'https://www.linkedin.com/', query: '' }, 2],
  [{ referrer: 'https://blog.example.org/best-analytics-tools', query: '' }, 2],
  [{ referrer: null, query: '?utm_source=newsletter&utm_medium=email&utm_campaign=launch&utm_content=header-link' }, 5],
  [{ referrer: null, query: '?utm_source=producthunt&utm_medium=social&utm_campaign=launch' }, 2],
  [{ referrer: 'https://chatgpt.com/', query: '' }, 2],
  [{ referrer: 'https://www.youtube.com/', query: '' }, 1],
  [
    { referrer: 'https://www.facebook.com/', query: '?utm_source=facebook&utm_medium=paid_social&utm_campaign=launch' },
    1,
  ],
  // An auto-tagged Google Ads click: the click id alone makes it Paid Search.
  [{ referrer: 'https://www.google.com/', query: '?gclid=demo' }, 1],
  [
    {
      referrer: 'https://www.google.com/',
      query: '?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=privacy+analytics',
    },
    2,
  ],
];

/** `Accept-Language` headers as browsers send them, for visitors whose browser is not in their place's language. */
const LANGUAGES: Weighted<string> = [
  ['en-US,en;q=0.9', 12],
  ['en-GB,en;q=0.9', 3],
  ['de-DE,de;q=0.9,en;q=0.8', 2],
  ['fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7', 1],
  ['es-ES,es;q=0.9', 1],
  ['pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7', 1],
  ['zh-CN,zh;q=0.9', 1],
  // Privacy tools and some embedded browsers send none.
  ['', 1],
];

/** A place: `request.cf` as Cloudflare's edge gives it, and the `Accept-Language` most visitors there send. */
interface Place {
  cf: NonNullable<VisitorContext['cf']>;
  acceptLanguage: string;
}

const place = (
  country: NonNullable<VisitorContext['cf']>['country'],
  region: string,
  city: string,
  timezone: string,
  acceptLanguage: string,
): Place => ({ cf: { country, region, city, timezone }, acceptLanguage });

const PLACES: Weighted<Place> = [
  [place('US', 'California', 'San Francisco', 'America/Los_Angeles', 'en-US,en;q=0.9'), 10],
  [place('US', 'New York', 'New York', 'America/New_York', 'en-US,en;q=0.9'), 9],
  [place('US', 'Texas', 'Austin', 'America/Chicago', 'en-US,en;q=0.9,es;q=0.8'), 5],
  [place('DE', 'Berlin', 'Berlin', 'Europe/Berlin', 'de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7'), 7],
  [place('DE', 'Bavaria', 'Munich', 'Europe/Berlin', 'de,en-US;q=0.7,en;q=0.3'), 4],
  [place('GB', 'England', 'London', 'Europe/London', 'en-GB,en-US;q=0.9,en;q=0.8'), 9],
  [place('FR', 'Île-de-France', 'Paris', 'Europe/Paris', 'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7'), 6],
  [place('IN', 'Karnataka', 'Bengaluru', 'Asia/Kolkata', 'en-IN,en-GB;q=0.9,en-US;q=0.8,en;q=0.7,hi;q=0.6'), 6],
  [place('CA', 'Ontario', 'Toronto', 'America/Toronto', 'en-CA,en-US;q=0.9,en;q=0.8,fr-CA;q=0.7'), 5],
  [place('NL', 'North Holland', 'Amsterdam', 'Europe/Amsterdam', 'nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7'), 4],
  [place('BR', 'São Paulo', 'São Paulo', 'America/Sao_Paulo', 'pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7'), 4],
  [place('JP', 'Tokyo', 'Tokyo', 'Asia/Tokyo', 'ja,en-US;q=0.9,en;q=0.8'), 3],
  [place('AU', 'New South Wales', 'Sydney', 'Australia/Sydney', 'en-AU,en;q=0.9'), 3],
  [place('SE', 'Stockholm County', 'Stockholm', 'Europe/Stockholm', 'sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7'), 3],
  [place('ES', 'Madrid', 'Madrid', 'Europe/Madrid', 'es-ES,es;q=0.9'), 3],
  [place('PL', 'Mazovia', 'Warsaw', 'Europe/Warsaw', 'pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7'), 2],
  [place('CH', 'Zurich', 'Zurich', 'Europe/Zurich', 'de-CH,de;q=0.9,en;q=0.8'), 2],
];

/** A browser: its `User-Agent` header and the window widths (`innerWidth`) its visitors have. */
interface Browser {
  userAgent: string;
  widths: readonly number[];
}

const DESKTOP = [1920, 1536, 1440, 1366] as const;
const LAPTOP = [1280, 1440, 1512] as const;
const PHONE = [390, 393, 412, 430] as const;

const BROWSERS: Weighted<Browser> = [
  [
    {
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      widths: DESKTOP,
    },
    22,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      widths: LAPTOP,
    },
    14,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
      widths: LAPTOP,
    },
    9,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
      widths: PHONE,
    },
    16,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
      widths: PHONE,
    },
    12,
  ],
  [
    { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', widths: DESKTOP },
    6,
  ],
  [{ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', widths: LAPTOP }, 4],
  [
    {
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      widths: DESKTOP,
    },
    7,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36',
      widths: [360, 384, 412],
    },
    3,
  ],
  [
    {
      userAgent:
        'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
      widths: [820, 834, 1024],
    },
    3,
  ],
];

const ENTRY_PAGES: Weighted<string> = [
  ['/', 40],
  ['/blog/privacy-first-analytics', 14],
  ['/pricing', 10],
  ['/blog/launch-week', 9],
  ['/docs/getting-started', 8],
  ['/features', 8],
  ['/docs', 5],
  ['/about', 3],
  ['/blog', 3],
];

/** Where a visitor goes next from a page. */
const NEXT_PAGES: Record<string, Weighted<string>> = {
  '/': [
    ['/pricing', 4],
    ['/features', 4],
    ['/blog', 2],
    ['/docs', 2],
    ['/signup', 1],
  ],
  '/pricing': [
    ['/signup', 4],
    ['/features', 2],
    ['/', 1],
  ],
  '/features': [
    ['/pricing', 4],
    ['/docs/getting-started', 2],
    ['/', 1],
  ],
  '/blog': [
    ['/blog/privacy-first-analytics', 3],
    ['/blog/launch-week', 3],
  ],
  '/docs': [
    ['/docs/getting-started', 5],
    ['/pricing', 1],
  ],
};
const DEFAULT_NEXT: Weighted<string> = [
  ['/', 3],
  ['/pricing', 2],
  ['/features', 2],
  ['/docs', 1],
];

/** What a paid plan earns at signup, in USD (the demo's currency). */
const PLAN_PRICES: Record<string, number> = { pro: 19, team: 49 };

/**
 * Weight of each UTC hour in a day's visits: quiet at night, busiest in the afternoon, when Europe's
 * working day overlaps the Americas'. Index = hour.
 */
const HOUR_WEIGHTS = [3, 2, 2, 2, 2, 3, 4, 6, 8, 10, 11, 11, 12, 13, 15, 16, 16, 15, 13, 11, 9, 7, 5, 4] as const;
const HOUR_TOTAL = HOUR_WEIGHTS.reduce((sum, weight) => sum + weight, 0);

/** The share of a day's visits that start in a UTC hour (0–23); the 24 shares add up to 1. */
export function hourShare(hour: number): number {
  return (HOUR_WEIGHTS[hour] ?? 0) / HOUR_TOTAL;
}

/** Milliseconds into the day a visit starts, drawn from the daily curve. */
export function startOffset(random: () => number): number {
  const hour = pick(
    random,
    HOUR_WEIGHTS.map((weight, index) => [index, weight] as const),
  );
  return Math.round((hour + random()) * 3_600_000);
}

/** A visitor: what their requests tell ingest (user agent, `request.cf`, `Accept-Language`) and their window width. */
export interface DemoVisitor {
  context: VisitorContext;
  width: number | undefined;
}

/** Draw a visitor. */
export function drawVisitor(random: () => number): DemoVisitor {
  const where = pick(random, PLACES);
  const browser = pick(random, BROWSERS);
  return {
    context: {
      userAgent: browser.userAgent,
      cf: where.cf,
      acceptLanguage: random() < 0.8 ? where.acceptLanguage : pick(random, LANGUAGES),
    },
    width: browser.widths[Math.floor(random() * browser.widths.length)],
  };
}

/** One event of a visit: what the tracker sends (without its id), `at` ms after the visit began. */
export interface VisitStep {
  at: number;
  event: Omit<ValidEvent, 'i'>;
}

/**
 * Draw one visit of a visitor to `origin` (`http://localhost`): an arrival (referrer, campaign
 * tags on the landing URL), a bounce or a walk of 2–6 pages, `signup` events on /signup (paid
 * plans with revenue) and `download` events from the getting-started page.
 */
export function drawVisit(random: () => number, origin: string, width: number | undefined): VisitStep[] {
  const arrival = pick(random, ARRIVALS);
  const pageviews = random() < 0.42 ? 1 : 2 + Math.floor(random() * 5);
  let path = pick(random, ENTRY_PAGES);
  // What the tracker reads on each page: the landing page keeps its query and the outside
  // referrer; each later page has the previous one as its (internal) referrer.
  let href = `${origin}${path}${arrival.query}`;
  let referrer = arrival.referrer;
  let at = 0;
  const steps: VisitStep[] = [];
  const add = (name: string, props?: Record<string, string>, revenue?: number) => {
    steps.push({
      at,
      event: {
        n: name,
        u: href,
        ...(referrer ? { r: referrer } : {}),
        ...(width === undefined ? {} : { w: width }),
        ...(props ? { p: props } : {}),
        ...(revenue === undefined ? {} : { $: { a: revenue, c: 'USD' } }),
      },
    });
  };
  for (let p = 0; p < pageviews; p++) {
    if (p > 0) {
      at += Math.round((8 + random() * 150) * 1000);
      referrer = href;
      path = pick(random, NEXT_PAGES[path] ?? DEFAULT_NEXT);
      href = `${origin}${path}`;
    }
    add('pageview');
    if (path === '/signup' && random() < 0.55) {
      at += Math.round((20 + random() * 60) * 1000);
      const plan = pick(random, [
        ['free', 6],
        ['pro', 3],
        ['team', 1],
      ] as const);
      add('signup', { plan }, PLAN_PRICES[plan]);
    }
    if (path === '/docs/getting-started' && random() < 0.3) {
      at += Math.round((10 + random() * 40) * 1000);
      add('download', {
        file: pick(random, [
          ['tally.js', 3],
          ['sdk.tar.gz', 1],
        ] as const),
      });
    }
  }
  return steps;
}
