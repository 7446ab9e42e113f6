/**
 * Thirty days of made-up but plausible traffic for the local demo project, so that a first
 * `npm start` shows historical numbers next to the live ones: a growing site with weekly rhythm,
 * search and social sources, a newsletter campaign, visitors from many countries, languages and
 * devices, and `signup` / `download` custom events (paid signups carry revenue in USD, the demo's
 * currency). Deterministic per day (seeded by the date), so re-running produces the same rows and
 * `INSERT OR IGNORE` keeps them once.
 *
 * The demo makes up only what a browser would send — the tracker's wire event, the user agent,
 * `request.cf` and `Accept-Language` — and ingest's own `enrichEvent` makes the columns, as it does
 * for live events: the history and today name a browser, a source or a language alike, and a
 * column added to the schema and to enrich.ts appears here with no change.
 *
 * Rules the rows keep, because the stats engine relies on them (docs/STATS.md):
 * - a visit never crosses a local midnight of the project's timezone (every visit ends on its day);
 * - visitor ids change every day (daily salts), so one id never spans two days;
 * - every hour that receives events is marked, with the store's own SQL (`markSpanHoursSqlText`),
 *   so rollups recompute it (the store's invariant, ARCHITECTURE.md "The store").
 */
import { getTableColumns } from 'drizzle-orm';
import { events } from '../worker/src/db/schema.ts';
import { enrichEvent, type VisitorContext } from '../worker/src/ingest/enrich.ts';
import type { ValidEvent } from '../worker/src/ingest/schema.ts';
import type { StoredEvent } from '../worker/src/pipeline/messages.ts';
import { markSpanHoursSqlText } from '../worker/src/store/freshness.ts';
import { sqlString } from './seed.ts';

const HOUR_MS = 3_600_000;

/** Local dates (`YYYY-MM-DD`) of the days to generate, oldest first: the `days` days before today. */
export function historyDays(now: number, days: number): string[] {
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  return Array.from({ length: days }, (_, i) => new Date(today - (days - i) * 86_400_000).toISOString().slice(0, 10));
}

/** mulberry32: a small, fast PRNG; good enough for fake traffic, and seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function hashString(text: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

type Weighted<T> = readonly (readonly [T, number])[];

function pick<T>(random: () => number, options: Weighted<T>): T {
  const total = options.reduce((sum, [, weight]) => sum + weight, 0);
  let r = random() * total;
  for (const [value, weight] of options) {
    r -= weight;
    if (r < 0) return value;
  }
  return (options.at(-1) as readonly [T, number])[0];
}

function hex(random: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

/** A UUIDv7-shaped id whose time bits are the event's own, like the worker's ids. */
function eventId(random: () => number, ts: number): string {
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

/** The events table's columns, from the drizzle schema: a column added there is generated here too. */
const COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({
  key: key as keyof StoredEvent,
  name: column.name,
}));

/** The events columns, in the order of each row's values. */
export const EVENT_COLUMNS: readonly string[] = COLUMNS.map((column) => column.name);

/** One event row in the order of `EVENT_COLUMNS` (booleans as 0 and 1, as SQLite stores them). */
type Row = (string | number | null)[];

/**
 * One demo event before the pipeline: what the tracker sends (`u: location.href`,
 * `r: document.referrer`, `w: innerWidth`, …), what the request tells about the visitor, and what
 * the ProjectDO assigns. Ingest's own `enrichEvent` turns it into the row, as it does live events.
 */
export interface DemoEvent {
  event: ValidEvent;
  visitor: VisitorContext;
  ts: number;
  receivedAt: number;
  assigned: Pick<StoredEvent, 'visitorId' | 'sessionId' | 'seq' | 'isEntry'>;
}

/** What a paid plan earns at signup, in USD. */
const PLAN_PRICES: Record<string, number> = { pro: 19, team: 49 };

/** Visitors on a day: a growing site (about +40 % over the month), quieter at weekends, with noise. */
function visitorsOn(day: string, index: number, count: number, random: () => number): number {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  const weekend = weekday === 0 || weekday === 6 ? 0.62 : 1;
  const growth = 110 + (60 * index) / Math.max(1, count - 1);
  // One launch spike, a week and a half ago.
  const spike = index === count - 11 ? 2.6 : index === count - 10 ? 1.5 : 1;
  return Math.round(growth * weekend * spike * (0.85 + random() * 0.3));
}

/** Seconds into the day a visit starts: most traffic in the (UTC) working day of Europe and the US. */
function startSecond(random: () => number): number {
  const hour = pick(random, [
    [0, 2],
    [3, 1],
    [6, 3],
    [8, 6],
    [10, 7],
    [12, 7],
    [14, 8],
    [16, 8],
    [18, 6],
    [20, 4],
    [22, 3],
  ] as const);
  return (hour + random() * 2) * 3600;
}

/**
 * What browsers sent on one day of the demo project, event by event. `dayStart` is the day's first
 * instant (ms); every visit ends before `dayStart + 24 h`.
 */
export function demoDayInputs(
  projectId: string,
  hostname: string,
  day: string,
  index: number,
  count: number,
): DemoEvent[] {
  const random = prng(hashString(`${projectId}:${day}`));
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const dayEnd = dayStart + 86_400_000;
  const origin = `http://${hostname}`;
  const inputs: DemoEvent[] = [];
  const visitors = visitorsOn(day, index, count, random);
  for (let v = 0; v < visitors; v++) {
    const visitorId = hex(random, 16);
    const where = pick(random, PLACES);
    const browser = pick(random, BROWSERS);
    const visitor: VisitorContext = {
      userAgent: browser.userAgent,
      cf: where.cf,
      acceptLanguage: random() < 0.8 ? where.acceptLanguage : pick(random, LANGUAGES),
    };
    const width = browser.widths[Math.floor(random() * browser.widths.length)];
    const visits = random() < 0.14 ? 2 : 1;
    // Timestamps are whole milliseconds, as the worker stores them.
    let earliest = dayStart + Math.round(startSecond(random) * 1000);
    for (let visit = 0; visit < visits; visit++) {
      const sessionId = `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;
      const arrival = pick(random, ARRIVALS);
      const bounce = random() < 0.42;
      const pageviews = bounce ? 1 : 2 + Math.floor(random() * 5);
      let path = pick(random, ENTRY_PAGES);
      let ts = Math.min(earliest, dayEnd - 3_600_000);
      let seq = 0;
      // What the tracker reads on each page: the landing page keeps its query and the outside
      // referrer; each later page has the previous one as its (internal) referrer.
      let href = `${origin}${path}${arrival.query}`;
      let referrer = arrival.referrer;
      const visitInputs: DemoEvent[] = [];
      const add = (name: string, props?: Record<string, string>, revenue?: number) => {
        seq++;
        const event: ValidEvent = {
          n: name,
          u: href,
          ...(referrer ? { r: referrer } : {}),
          ...(width === undefined ? {} : { w: width }),
          ...(props ? { p: props } : {}),
          ...(revenue === undefined ? {} : { $: { a: revenue, c: 'USD' } }),
          i: eventId(random, ts),
        };
        visitInputs.push({
          event,
          visitor,
          ts,
          receivedAt: ts + 150 + Math.floor(random() * 400),
          assigned: { visitorId, sessionId, seq, isEntry: seq === 1 },
        });
      };
      for (let p = 0; p < pageviews; p++) {
        if (p > 0) {
          ts += Math.round((8 + random() * 150) * 1000);
          referrer = href;
          path = pick(random, NEXT_PAGES[path] ?? DEFAULT_NEXT);
          href = `${origin}${path}`;
        }
        add('pageview');
        if (path === '/signup' && random() < 0.55) {
          ts += Math.round((20 + random() * 60) * 1000);
          const plan = pick(random, [
            ['free', 6],
            ['pro', 3],
            ['team', 1],
          ] as const);
          add('signup', { plan }, PLAN_PRICES[plan]);
        }
        if (path === '/docs/getting-started' && random() < 0.3) {
          ts += Math.round((10 + random() * 40) * 1000);
          add('download', {
            file: pick(random, [
              ['tally.js', 3],
              ['sdk.tar.gz', 1],
            ] as const),
          });
        }
      }
      // NOTE: a visit that would run past midnight is dropped: visits never cross a local midnight.
      if (ts >= dayEnd) continue;
      inputs.push(...visitInputs);
      // The second visit starts at least 30 minutes later, so it really is another visit.
      earliest = ts + Math.round((31 + random() * 240) * 60_000);
      if (earliest >= dayEnd - 3_600_000) break;
    }
  }
  return inputs;
}

/**
 * The events of one day of the demo project as rows: each input enriched by ingest's own
 * `enrichEvent`, with what the ProjectDO assigns.
 */
export function demoDayEvents(projectId: string, hostname: string, day: string, index: number, count: number): Row[] {
  return demoDayInputs(projectId, hostname, day, index, count).map(({ event, visitor, ts, receivedAt, assigned }) => {
    const stored: StoredEvent = { ...enrichEvent(event, projectId, ts, receivedAt, visitor), ...assigned };
    return COLUMNS.map(({ key }) => {
      const value = stored[key];
      return typeof value === 'boolean' ? Number(value) : value;
    });
  });
}

/** Rows per INSERT: each statement embeds its rows as one JSON literal, kept well under D1's 100 KB statement limit. */
const ROWS_PER_STATEMENT = 200;

/**
 * SQL for `wrangler d1 execute --file`: the days' events (`INSERT OR IGNORE`, so a re-run adds
 * nothing twice), then the store's marks for every UTC hour of the span that received events.
 *
 * @example
 * ```ts
 * const sql = buildHistorySql('demo', 'localhost', historyDays(Date.now(), 30));
 * ```
 */
export function buildHistorySql(projectId: string, hostname: string, days: readonly string[]): string {
  const statements: string[] = [];
  const hours = new Set<number>();
  days.forEach((day, index) => {
    const rows = demoDayEvents(projectId, hostname, day, index, days.length);
    for (const row of rows) hours.add(Math.floor((row[2] as number) / HOUR_MS));
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT));
      const columns = EVENT_COLUMNS.map((_, c) => `json_extract(value, '$[${c}]')`).join(', ');
      statements.push(
        `INSERT OR IGNORE INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${columns} FROM json_each(${sqlString(json)});`,
      );
    }
  });
  // The store's marking SQL over the hours written: every stored event in a marked hour.
  const sorted = [...hours].sort((a, b) => a - b);
  if (sorted.length) {
    statements.push(
      markSpanHoursSqlText(
        projectId,
        (sorted[0] as number) * HOUR_MS,
        ((sorted[sorted.length - 1] as number) + 1) * HOUR_MS,
      ),
    );
  }
  return `-- Tally demo history (generated by scripts/demo-history.ts; local only)\n${statements.join('\n')}\n`;
}
