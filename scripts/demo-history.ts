/**
 * Thirty days of made-up but plausible traffic for the local demo project, so that a first
 * `npm start` shows historical numbers next to the live ones: a growing site with weekly rhythm,
 * search and social sources, a newsletter campaign, visitors from many countries and devices, and
 * `signup` / `download` custom events (paid signups carry revenue in USD, the demo's currency). Deterministic per day (seeded by the date), so re-running
 * produces the same rows and `INSERT OR IGNORE` keeps them once.
 *
 * Rules the rows keep, because the stats engine relies on them (docs/STATS.md):
 * - a visit never crosses a local midnight of the project's timezone (every visit ends on its day);
 * - visitor ids change every day (daily salts), so one id never spans two days;
 * - only the entry event of a visit carries its source, referrer and UTM tags.
 * - every hour that receives events is marked in `rollup_dirty`, so rollups recompute it (the
 *   events/rollup invariant of migrations/0004_rollups.sql).
 */
import { sqlInteger, sqlString } from './seed.ts';

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

interface Source {
  referrer: string | null;
  source: string | null;
  utm?: { source: string; medium: string; campaign: string; content?: string };
}

const SOURCES: Weighted<Source> = [
  [{ referrer: null, source: null }, 34],
  [{ referrer: 'https://www.google.com/', source: 'Google' }, 26],
  [{ referrer: 'https://news.ycombinator.com/', source: 'Hacker News' }, 7],
  [{ referrer: 'https://t.co/', source: 'Twitter' }, 5],
  [{ referrer: 'https://www.reddit.com/r/webdev/', source: 'Reddit' }, 5],
  [{ referrer: 'https://duckduckgo.com/', source: 'DuckDuckGo' }, 4],
  [{ referrer: 'https://github.com/tally/tally', source: 'GitHub' }, 4],
  [{ referrer: 'https://www.bing.com/', source: 'Bing' }, 3],
  [{ referrer: 'https://www.linkedin.com/', source: 'LinkedIn' }, 2],
  [{ referrer: 'https://blog.example.org/best-analytics-tools', source: 'blog.example.org' }, 2],
  [
    {
      referrer: null,
      source: 'newsletter',
      utm: { source: 'newsletter', medium: 'email', campaign: 'launch', content: 'header-link' },
    },
    5,
  ],
  [{ referrer: null, source: 'producthunt', utm: { source: 'producthunt', medium: 'social', campaign: 'launch' } }, 2],
  [
    {
      referrer: 'https://www.google.com/',
      source: 'Google',
      utm: { source: 'google', medium: 'cpc', campaign: 'brand' },
    },
    1,
  ],
];

const PLACES: Weighted<readonly [country: string, region: string, city: string, timezone: string]> = [
  [['US', 'California', 'San Francisco', 'America/Los_Angeles'], 10],
  [['US', 'New York', 'New York', 'America/New_York'], 9],
  [['US', 'Texas', 'Austin', 'America/Chicago'], 5],
  [['DE', 'Berlin', 'Berlin', 'Europe/Berlin'], 7],
  [['DE', 'Bavaria', 'Munich', 'Europe/Berlin'], 4],
  [['GB', 'England', 'London', 'Europe/London'], 9],
  [['FR', 'Île-de-France', 'Paris', 'Europe/Paris'], 6],
  [['IN', 'Karnataka', 'Bengaluru', 'Asia/Kolkata'], 6],
  [['CA', 'Ontario', 'Toronto', 'America/Toronto'], 5],
  [['NL', 'North Holland', 'Amsterdam', 'Europe/Amsterdam'], 4],
  [['BR', 'São Paulo', 'São Paulo', 'America/Sao_Paulo'], 4],
  [['JP', 'Tokyo', 'Tokyo', 'Asia/Tokyo'], 3],
  [['AU', 'New South Wales', 'Sydney', 'Australia/Sydney'], 3],
  [['SE', 'Stockholm County', 'Stockholm', 'Europe/Stockholm'], 3],
  [['ES', 'Madrid', 'Madrid', 'Europe/Madrid'], 3],
  [['PL', 'Mazovia', 'Warsaw', 'Europe/Warsaw'], 2],
  [['CH', 'Zurich', 'Zurich', 'Europe/Zurich'], 2],
];

type Agent = readonly [browser: string, version: string, os: string, osVersion: string, device: string, screen: string];

const AGENTS: Weighted<Agent> = [
  [['Chrome', '131.0', 'Windows', '10', 'desktop', 'Desktop'], 22],
  [['Chrome', '131.0', 'Mac OS', '10.15', 'desktop', 'Laptop'], 14],
  [['Safari', '18.1', 'Mac OS', '10.15', 'desktop', 'Laptop'], 9],
  [['Mobile Safari', '18.1', 'iOS', '18.1', 'mobile', 'Mobile'], 16],
  [['Chrome', '131.0', 'Android', '14', 'mobile', 'Mobile'], 12],
  [['Firefox', '133.0', 'Windows', '10', 'desktop', 'Desktop'], 6],
  [['Firefox', '133.0', 'Linux', '', 'desktop', 'Laptop'], 4],
  [['Edge', '131.0', 'Windows', '10', 'desktop', 'Desktop'], 7],
  [['Samsung Browser', '27.0', 'Android', '14', 'mobile', 'Mobile'], 3],
  [['Mobile Safari', '18.1', 'iOS', '18.1', 'tablet', 'Tablet'], 3],
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

/** One event row in the order of `EVENT_COLUMNS`. */
type Row = (string | number | null)[];

/** The events columns the demo fills, in the order of each row's values. */
export const EVENT_COLUMNS = [
  'project_id',
  'id',
  'ts',
  'received_at',
  'name',
  'visitor_id',
  'session_id',
  'seq',
  'is_entry',
  'hostname',
  'path',
  'referrer',
  'referrer_host',
  'source',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'country',
  'region',
  'city',
  'timezone',
  'browser',
  'browser_version',
  'os',
  'os_version',
  'device',
  'screen',
  'props',
  'revenue_amount',
  'revenue_currency',
] as const;

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
 * The events of one day of the demo project. `dayStart` is the day's first instant (ms); every
 * visit ends before `dayStart + 24 h`.
 */
export function demoDayEvents(projectId: string, hostname: string, day: string, index: number, count: number): Row[] {
  const random = prng(hashString(`${projectId}:${day}`));
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const dayEnd = dayStart + 86_400_000;
  const rows: Row[] = [];
  const visitors = visitorsOn(day, index, count, random);
  for (let v = 0; v < visitors; v++) {
    const visitorId = hex(random, 16);
    const [country, region, city, timezone] = pick(random, PLACES);
    const [browser, browserVersion, os, osVersion, device, screen] = pick(random, AGENTS);
    const visits = random() < 0.14 ? 2 : 1;
    // Timestamps are whole milliseconds, as the worker stores them.
    let earliest = dayStart + Math.round(startSecond(random) * 1000);
    for (let visit = 0; visit < visits; visit++) {
      const sessionId = `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;
      const source = pick(random, SOURCES);
      const bounce = random() < 0.42;
      const pageviews = bounce ? 1 : 2 + Math.floor(random() * 5);
      let path = pick(random, ENTRY_PAGES);
      let ts = Math.min(earliest, dayEnd - 3_600_000);
      let seq = 0;
      const visitRows: Row[] = [];
      const add = (name: string, eventPath: string, props: Record<string, string> | null, revenue?: number) => {
        seq++;
        const entry = seq === 1;
        const referrerHost = entry && source.referrer ? new URL(source.referrer).hostname : null;
        visitRows.push([
          projectId,
          eventId(random, ts),
          ts,
          ts + 150 + Math.floor(random() * 400),
          name,
          visitorId,
          sessionId,
          seq,
          entry ? 1 : 0,
          hostname,
          eventPath,
          entry ? source.referrer : null,
          referrerHost,
          entry ? source.source : null,
          entry ? (source.utm?.source ?? null) : null,
          entry ? (source.utm?.medium ?? null) : null,
          entry ? (source.utm?.campaign ?? null) : null,
          null,
          entry ? (source.utm?.content ?? null) : null,
          country,
          region,
          city,
          timezone,
          browser,
          browserVersion,
          os,
          osVersion || null,
          device,
          screen,
          props ? JSON.stringify(props) : null,
          revenue ?? null,
          revenue === undefined ? null : 'USD',
        ]);
      };
      for (let p = 0; p < pageviews; p++) {
        if (p > 0) {
          ts += Math.round((8 + random() * 150) * 1000);
          path = pick(random, NEXT_PAGES[path] ?? DEFAULT_NEXT);
        }
        add('pageview', path, null);
        if (path === '/signup' && random() < 0.55) {
          ts += Math.round((20 + random() * 60) * 1000);
          const plan = pick(random, [
            ['free', 6],
            ['pro', 3],
            ['team', 1],
          ] as const);
          add('signup', path, { plan }, PLAN_PRICES[plan]);
        }
        if (path === '/docs/getting-started' && random() < 0.3) {
          ts += Math.round((10 + random() * 40) * 1000);
          add('download', path, {
            file: pick(random, [
              ['tally.js', 3],
              ['sdk.tar.gz', 1],
            ] as const),
          });
        }
      }
      // NOTE: a visit that would run past midnight is dropped: visits never cross a local midnight.
      if (ts >= dayEnd) continue;
      rows.push(...visitRows);
      // The second visit starts at least 30 minutes later, so it really is another visit.
      earliest = ts + Math.round((31 + random() * 240) * 60_000);
      if (earliest >= dayEnd - 3_600_000) break;
    }
  }
  return rows;
}

/** Rows per INSERT: each statement embeds its rows as one JSON literal, kept well under D1's 100 KB statement limit. */
const ROWS_PER_STATEMENT = 200;

/**
 * SQL for `wrangler d1 execute --file`: the days' events (`INSERT OR IGNORE`, so a re-run adds
 * nothing twice), then a `rollup_dirty` mark for every UTC hour that received events.
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
    for (const row of rows) hours.add(Math.floor((row[2] as number) / 3_600_000));
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT));
      const columns = EVENT_COLUMNS.map((_, c) => `json_extract(value, '$[${c}]')`).join(', ');
      statements.push(
        `INSERT OR IGNORE INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${columns} FROM json_each(${sqlString(json)});`,
      );
    }
  });
  const project = sqlString(projectId);
  const marks = [...hours].sort((a, b) => a - b).map((hour) => `(${project}, ${sqlInteger(hour)}, 1)`);
  for (let i = 0; i < marks.length; i += 500) {
    statements.push(
      `INSERT INTO rollup_dirty (project_id, hour, mark) VALUES ${marks.slice(i, i + 500).join(', ')} ON CONFLICT DO UPDATE SET mark = mark + 1;`,
    );
  }
  return `-- Tally demo history (generated by scripts/demo-history.ts; local only)\n${statements.join('\n')}\n`;
}
