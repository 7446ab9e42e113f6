/**
 * Sixty days of made-up but plausible traffic for the local demo project, and today's up to the
 * current minute, so that a first `npm start` looks like a live site: a growing site with a daily
 * curve and a weekly rhythm, search and social sources, a newsletter campaign, visitors from many
 * countries, languages and devices, and `signup` / `download` custom events (paid signups carry
 * revenue in USD, the demo's currency). Sixty days, because the dashboard's first view (the last
 * 30 days) compares with the 30 before. Deterministic (seeded by the date; the volume follows the
 * day's distance from today), so a re-run on the same day produces the same rows and
 * `INSERT OR IGNORE` keeps them once.
 *
 * Each `npm start` fills, per day, what is missing: the visits that start after the day's last
 * stored event (any event: an earlier seed's, or the live traffic's) and before now. So today
 * grows from where the last run stopped, a day that already has its traffic gets nothing, and
 * made-up visits never pile on top of the hours the live traffic (demo-traffic.ts) covered.
 *
 * The demo makes up only what a browser would send — the tracker's wire event, the user agent,
 * `request.cf` and `Accept-Language` (demo-visits.ts) — and ingest's own `enrichEvent` makes the
 * columns, as it does for live events: the history and today name a browser, a source or a
 * language alike, and a column added to the schema and to enrich.ts appears here with no change.
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
import { drawVisit, drawVisitor, eventId, hashString, hex, prng, startOffset } from './demo-visits.ts';
import { sqlString } from './seed.ts';

const HOUR_MS = 3_600_000;
// NOTE: the demo project's timezone is UTC (seed.ts), so a local day is a UTC day.
const DAY_MS = 86_400_000;

/** Days of history before today: the default view (last 30 days) is compared with the 30 before it. */
export const HISTORY_DAYS = 60;

/** Local dates (`YYYY-MM-DD`) of the demo, oldest first: the `days` days before today, then today. */
export function demoDays(now: number, days = HISTORY_DAYS): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: days + 1 }, (_, i) => new Date(today - (days - i) * DAY_MS).toISOString().slice(0, 10));
}

/** The events table's columns, from the drizzle schema: a column added there is generated here too. */
const COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({
  key: key as keyof StoredEvent,
  name: column.name,
}));

/** The events columns, in the order of each row's values. */
export const EVENT_COLUMNS: readonly string[] = COLUMNS.map((column) => column.name);

const TS = EVENT_COLUMNS.indexOf('ts');

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

/**
 * Visitors on a day `daysAgo` days before today: a growing site (from about 100 to 170 a weekday
 * over the sixty days: the last 30 days read about +40 % on the 30 before), quieter at weekends,
 * with a launch spike a week and a half ago, and noise. (The last 30 days match what the 30-day
 * history of earlier versions wrote, so a local database seeded by one blends in.)
 */
function visitorsOn(day: string, daysAgo: number, random: () => number): number {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  const weekend = weekday === 0 || weekday === 6 ? 0.62 : 1;
  const growth = 170 - 1.2 * Math.min(daysAgo, HISTORY_DAYS);
  const spike = daysAgo === 10 ? 2.6 : daysAgo === 9 ? 1.5 : 1;
  return Math.round(growth * weekend * spike * (0.85 + random() * 0.3));
}

/**
 * What browsers sent on one day (`YYYY-MM-DD`, `daysAgo` days before today) of the demo project,
 * event by event, visit after visit, the whole day. Every visit ends before the day does.
 */
export function demoDayInputs(projectId: string, hostname: string, day: string, daysAgo: number): DemoEvent[] {
  const random = prng(hashString(`${projectId}:${day}`));
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const dayEnd = dayStart + DAY_MS;
  const origin = `http://${hostname}`;
  const inputs: DemoEvent[] = [];
  const visitors = visitorsOn(day, daysAgo, random);
  for (let v = 0; v < visitors; v++) {
    const visitorId = hex(random, 16);
    const { context, width } = drawVisitor(random);
    const visits = random() < 0.14 ? 2 : 1;
    // Timestamps are whole milliseconds, as the worker stores them.
    let start = dayStart + startOffset(random);
    for (let visit = 0; visit < visits; visit++) {
      const sessionId = `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;
      const steps = drawVisit(random, origin, width);
      const end = start + (steps.at(-1)?.at ?? 0);
      // NOTE: a visit that would run past midnight is dropped: visits never cross a local midnight.
      if (end >= dayEnd) break;
      steps.forEach((step, index) => {
        const ts = start + step.at;
        inputs.push({
          event: { ...step.event, i: eventId(random, ts) },
          visitor: context,
          ts,
          receivedAt: ts + 150 + Math.floor(random() * 400),
          assigned: { visitorId, sessionId, seq: index + 1, isEntry: index === 0 },
        });
      });
      // The second visit starts at least 30 minutes later, so it really is another visit.
      start = end + Math.round((31 + random() * 240) * 60_000);
    }
  }
  return inputs;
}

/** The part of a demo day to write: the visits that start after `after` (ms) and their events before `before`. */
export interface DayFill {
  day: string;
  daysAgo: number;
  /** The day's last stored event, or null when it has none. */
  after: number | null;
  /** Now: events after it have not happened yet. */
  before: number;
}

/**
 * What each demo day still lacks at `now`, given the time of each day's last stored event
 * (`YYYY-MM-DD` → ms). Days that hold nothing yet are filled whole (today up to now).
 *
 * @example
 * ```ts
 * const fills = demoFills(Date.now(), new Map([['2026-12-07', Date.parse('2026-12-07T09:30:00Z')]]));
 * ```
 */
export function demoFills(now: number, lastEvents: ReadonlyMap<string, number>, days = HISTORY_DAYS): DayFill[] {
  return demoDays(now, days).map((day, index) => ({
    day,
    daysAgo: days - index,
    after: lastEvents.get(day) ?? null,
    before: now,
  }));
}

/**
 * The events of one demo day that a fill asks for, as rows: each input enriched by ingest's own
 * `enrichEvent`, with what the ProjectDO assigns. A visit is written whole or not at all, except
 * that nothing after `before` is (a visit in progress at the time of the seed).
 */
export function demoDayEvents(projectId: string, hostname: string, fill: DayFill): Row[] {
  let entry = 0;
  const wanted = demoDayInputs(projectId, hostname, fill.day, fill.daysAgo).filter(({ ts, assigned }) => {
    if (assigned.isEntry) entry = ts;
    return (fill.after === null || entry > fill.after) && ts < fill.before;
  });
  return wanted.map(({ event, visitor, ts, receivedAt, assigned }) => {
    const stored: StoredEvent = { ...enrichEvent(event, projectId, ts, receivedAt, visitor), ...assigned };
    return COLUMNS.map(({ key }) => {
      const value = stored[key];
      return typeof value === 'boolean' ? Number(value) : value;
    });
  });
}

/** Rows per INSERT: each statement embeds its rows as one JSON literal, kept well under D1's 100 KB statement limit. */
const ROWS_PER_STATEMENT = 200;

/** The history's SQL, and what it writes. */
export interface HistorySql {
  /** One statement a line, after a comment line; empty when there is nothing to write. */
  sql: string;
  events: number;
  /** The days that get events, oldest first. */
  days: string[];
}

/**
 * SQL for `wrangler d1 execute --file`: the fills' events (`INSERT OR IGNORE`, so a re-run adds
 * nothing twice), then, per day, the store's marks for every hour of the span written.
 *
 * @example
 * ```ts
 * const { sql } = buildHistorySql('demo', 'localhost', demoFills(Date.now(), new Map()));
 * ```
 */
export function buildHistorySql(projectId: string, hostname: string, fills: readonly DayFill[]): HistorySql {
  const statements: string[] = [];
  const days: string[] = [];
  let count = 0;
  for (const fill of fills) {
    const rows = demoDayEvents(projectId, hostname, fill);
    if (rows.length === 0) continue;
    days.push(fill.day);
    count += rows.length;
    const columns = EVENT_COLUMNS.map((_, c) => `json_extract(value, '$[${c}]')`).join(', ');
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT));
      statements.push(
        `INSERT OR IGNORE INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${columns} FROM json_each(${sqlString(json)});`,
      );
    }
    // The store's marking SQL over the span written: every stored event in a marked hour.
    const times = rows.map((row) => row[TS] as number);
    const first = Math.floor(Math.min(...times) / HOUR_MS) * HOUR_MS;
    statements.push(markSpanHoursSqlText(projectId, first, Math.max(...times) + 1));
  }
  const sql = statements.length
    ? `-- Tally demo history (generated by scripts/demo-history.ts; local only)\n${statements.join('\n')}\n`
    : '';
  return { sql, events: count, days };
}
