/**
 * The demo history (scripts/demo-history.ts) that `npm run dev` writes straight into D1: its rows
 * must look like the worker's own, or the stats engine would count them wrong — whole-millisecond
 * timestamps, visits and visitor ids that stay within one day of the project's timezone (UTC for
 * the demo), entry values on the entry event only, and a `rollup_dirty` mark for every hour. Its
 * columns come from ingest's own enrichment of what a browser would send, so that the demo's
 * history and its live traffic name things alike.
 */
import { DIMENSIONS } from '@tally/sdk/catalog';
import { env } from 'cloudflare:workers';
import { getTableColumns } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { events } from '../src/db/schema.ts';
import { enrichEvent, type VisitorContext } from '../src/ingest/enrich.ts';
import { wireEventSchema } from '../src/ingest/schema.ts';
import type { StoredEvent } from '../src/pipeline/messages.ts';

/** One demo event before the pipeline, as scripts/demo-history.ts describes it. */
interface DemoEvent {
  event: unknown;
  visitor: VisitorContext;
  ts: number;
  receivedAt: number;
  assigned: Pick<StoredEvent, 'visitorId' | 'sessionId' | 'seq' | 'isEntry'>;
}

/** A part of a demo day to write, as scripts/demo-history.ts describes it. */
interface DayFill {
  day: string;
  daysAgo: number;
  after: number | null;
  before: number;
}

/** The part of scripts/demo-history.ts these tests use. */
interface HistoryModule {
  EVENT_COLUMNS: readonly string[];
  demoDays(now: number, days?: number): string[];
  demoFills(now: number, lastEvents: ReadonlyMap<string, number>, days?: number): DayFill[];
  demoDayInputs(projectId: string, hostname: string, day: string, daysAgo: number): DemoEvent[];
  demoDayEvents(projectId: string, hostname: string, fill: DayFill): unknown[][];
  buildHistorySql(
    projectId: string,
    hostname: string,
    fills: readonly DayFill[],
  ): { sql: string; events: number; days: string[] };
}

// NOTE: scripts/ is its own TypeScript project (see demo-seed.test.ts): a computed specifier keeps
// `tsc -p worker` out of it while vitest loads the real module.
const HISTORY_MODULE = new URL('../../scripts/demo-history.ts', import.meta.url).pathname;
const { EVENT_COLUMNS, buildHistorySql, demoDayEvents, demoDayInputs, demoDays, demoFills } = (await import(
  /* @vite-ignore */ HISTORY_MODULE
)) as HistoryModule;

const PROJECT = 'history-demo';
const NOW = Date.UTC(2026, 10, 22, 15, 30);
/** Four days before today, and today up to NOW: what a first run at NOW writes (with fewer days). */
const FILLS = demoFills(NOW, new Map(), 4);
/** Sixty days and today, as `npm start` writes them. */
const ALL = demoFills(NOW, new Map());
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

type Row = Record<(typeof EVENT_COLUMNS)[number], unknown>;

/** The events table's columns: drizzle key and SQL name. */
const COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({ key, name: column.name }));

function rowsOf(fills: readonly DayFill[]): Row[] {
  return fills.flatMap((fill) =>
    demoDayEvents(PROJECT, 'localhost', fill).map(
      (values) => Object.fromEntries(EVENT_COLUMNS.map((column, i) => [column, values[i]])) as Row,
    ),
  );
}

/** Distinct visitors of rows in [start, end). */
function visitors(rows: readonly Row[], start: number, end: number): number {
  return new Set(
    rows.filter((row) => (row.ts as number) >= start && (row.ts as number) < end).map((row) => row.visitor_id),
  ).size;
}

/** The script's statements: one per line, after the comment line. */
async function apply(sql: string): Promise<void> {
  const statements = sql.split('\n').filter((line) => line.trim() && !line.startsWith('--'));
  await env.DB.batch(statements.map((statement) => env.DB.prepare(statement)));
}

async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

beforeAll(async () => {
  await env.DB.prepare(
    "INSERT INTO projects (id, name, site_key, timezone, created_at, updated_at) VALUES (?, 'History', ?, 'UTC', ?, ?)",
  )
    .bind(PROJECT, PROJECT, NOW, NOW)
    .run();
  await apply(buildHistorySql(PROJECT, 'localhost', FILLS).sql);
});

describe('the demo history', () => {
  it('covers the days before today and today, oldest first', () => {
    expect(demoDays(NOW, 3)).toEqual(['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22']);
    expect(demoDays(NOW)).toHaveLength(61);
  });

  it('writes whole-millisecond times and unique UUIDv7-shaped ids whose time bits are the event time', () => {
    const rows = rowsOf(ALL);
    expect(rows.length).toBeGreaterThan(15_000);
    const ids = new Set<unknown>();
    for (const row of rows) {
      expect(Number.isSafeInteger(row.ts)).toBe(true);
      expect(Number.isSafeInteger(row.received_at)).toBe(true);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.parseInt(String(row.id).replace('-', '').slice(0, 12), 16)).toBe(row.ts);
      ids.add(row.id);
    }
    expect(ids.size).toBe(rows.length);
  });

  it('keeps every visit and every visitor id within one local day', () => {
    const days = new Map<unknown, Set<number>>();
    for (const row of rowsOf(ALL)) {
      for (const key of [`s:${row.session_id}`, `v:${row.visitor_id}`]) {
        const seen = days.get(key) ?? new Set<number>();
        seen.add(Math.floor((row.ts as number) / DAY_MS));
        days.set(key, seen);
      }
    }
    expect([...days.values()].filter((seen) => seen.size > 1)).toEqual([]);
  });

  it('numbers each visit from 1, and gives its source and tags to the landing page only', () => {
    const visits = new Map<unknown, Row[]>();
    for (const row of rowsOf(FILLS)) visits.set(row.session_id, [...(visits.get(row.session_id) ?? []), row]);
    const arrival = (event: Row) => [event.referrer, event.source, event.utm_source, event.utm_campaign];
    for (const visit of visits.values()) {
      const entry = visit[0] as Row;
      visit.forEach((event, index) => {
        expect(event.seq).toBe(index + 1);
        expect(event.is_entry).toBe(index === 0 ? 1 : 0);
        if (index === 0) return;
        expect(event.ts as number).toBeGreaterThanOrEqual(visit[index - 1]?.ts as number);
        // A later page has the previous one as its (internal) referrer and no campaign query; a
        // custom event sent from the landing page carries its URL and referrer, as the tracker does.
        if (event.name === 'pageview') expect(arrival(event)).toEqual([null, null, null, null]);
        else expect([[null, null, null, null], arrival(entry)]).toContainEqual(arrival(event));
      });
    }
  });

  it('lists every column of the events table, from the schema', () => {
    expect(EVENT_COLUMNS).toEqual(COLUMNS.map((column) => column.name));
  });

  it('gives every column the value ingest gives what a browser would send, plus what the ProjectDO assigns', () => {
    for (const { day, daysAgo } of ALL.slice(-30)) {
      const inputs = demoDayInputs(PROJECT, 'localhost', day, daysAgo);
      const rows = demoDayEvents(PROJECT, 'localhost', { day, daysAgo, after: null, before: Number.MAX_SAFE_INTEGER });
      expect(rows).toHaveLength(inputs.length);
      inputs.forEach((input, i) => {
        // What ingest enriches is the validated event: the demo's must pass the wire schema.
        const event = wireEventSchema.parse(input.event);
        const stored: Record<string, unknown> = {
          ...enrichEvent(event, PROJECT, input.ts, input.receivedAt, input.visitor),
          ...input.assigned,
        };
        const expected = COLUMNS.map(({ key }) =>
          typeof stored[key] === 'boolean' ? Number(stored[key]) : stored[key],
        );
        expect(rows[i]).toEqual(expected);
      });
    }
  });

  it('names browsers as ingest does, and fills every catalog column on some event', () => {
    const rows = rowsOf(ALL.slice(-30));
    // ua-parser-js (enrich.ts) names Samsung's browser "Samsung Internet" and keeps major versions only.
    const browsers = [...new Set(rows.map((row) => `${row.browser} ${row.browser_version}`))];
    expect(browsers.filter((browser) => browser.startsWith('Samsung Browser') || !/ \d+$/.test(browser))).toEqual([]);
    const columns = Object.values(DIMENSIONS).flatMap((dimension) => (dimension.column ? [dimension.column] : []));
    expect(columns).toContain('language');
    const empty = columns.filter((column) => !rows.some((row) => row[column] !== null && row[column] !== undefined));
    expect(empty).toEqual([]);
  });

  it('is stored as generated, and re-applying adds nothing', async () => {
    const expected = rowsOf(FILLS).length;
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ?', PROJECT)).toBe(expected);
    await apply(buildHistorySql(PROJECT, 'localhost', FILLS).sql);
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ?', PROJECT)).toBe(expected);
  });

  it('marks every hour that holds events as dirty for the rollups', async () => {
    const unmarked = await count(
      `SELECT COUNT(*) AS n FROM (SELECT DISTINCT ts / 3600000 AS hour FROM events WHERE project_id = ?) e
       WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.project_id = ? AND d.hour = e.hour)`,
      PROJECT,
      PROJECT,
    );
    expect(unmarked).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM rollup_dirty WHERE project_id = ?', PROJECT)).toBeGreaterThan(0);
  });

  it('writes today up to now along a daily curve, comparable with the days before', () => {
    const rows = rowsOf(ALL);
    const today = Date.UTC(2026, 10, 22);
    const todays = rows.filter((row) => (row.ts as number) >= today).map((row) => row.ts as number);
    // Up to the current minute: nothing after NOW, and the last visit began minutes before it.
    expect(Math.max(...todays)).toBeLessThan(NOW);
    expect(Math.max(...todays)).toBeGreaterThan(NOW - 20 * 60_000);
    // The afternoon (Europe and the Americas at work) is busier than the night.
    expect(visitors(rows, today + 13 * HOUR_MS, today + 15 * HOUR_MS)).toBeGreaterThan(
      2 * visitors(rows, today + HOUR_MS, today + 3 * HOUR_MS),
    );
    // Today so far against yesterday's same hours, and the last 30 days (the dashboard's first view)
    // against the 30 before: a growing site, not "0 visitors" or "↑6208 %". (Visitor ids are daily,
    // so distinct visitors over days are the sum of each day's.) A few dozen visitors a morning vary
    // from day to day, so "the same order" is all a comparison of two mornings can promise.
    const soFar = visitors(rows, today, NOW) / visitors(rows, today - DAY_MS, NOW - DAY_MS);
    expect(soFar).toBeGreaterThan(0.5);
    expect(soFar).toBeLessThan(2);
    const month = visitors(rows, today - 29 * DAY_MS, NOW) / visitors(rows, today - 59 * DAY_MS, today - 29 * DAY_MS);
    expect(month).toBeGreaterThan(1.05);
    expect(month).toBeLessThan(1.6);
  });

  it('a later run adds the visits that start after the last stored event, up to its own now', async () => {
    const project = 'history-later';
    await env.DB.prepare(
      "INSERT INTO projects (id, name, site_key, timezone, created_at, updated_at) VALUES (?, 'Later', ?, 'UTC', ?, ?)",
    )
      .bind(project, project, NOW, NOW)
      .run();
    const lastEvents = async () => {
      const { results } = await env.DB.prepare(
        'SELECT ts / 86400000 AS day, MAX(ts) AS last FROM events WHERE project_id = ? GROUP BY day',
      )
        .bind(project)
        .all<{ day: number; last: number }>();
      return new Map(results.map((row) => [new Date(row.day * DAY_MS).toISOString().slice(0, 10), row.last]));
    };
    await apply(buildHistorySql(project, 'localhost', demoFills(NOW, await lastEvents(), 4)).sql);
    // The live traffic ran for an hour after the seed, then stopped; the next start is an hour later.
    const live = NOW + HOUR_MS;
    const later = NOW + 2 * HOUR_MS;
    const last = await lastEvents();
    last.set('2026-11-22', live);
    const next = buildHistorySql(project, 'localhost', demoFills(later, last, 4));
    expect(next.days).toEqual(['2026-11-22']);
    expect(next.events).toBeGreaterThan(0);
    const before = await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ?', project);
    await apply(next.sql);
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ?', project)).toBe(before + next.events);
    // Only whole visits begun in the gap (none on top of the live hour), and nothing from the future.
    expect(
      await count(
        'SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND is_entry = 1 AND ts > ? AND ts <= ?',
        project,
        NOW,
        live,
      ),
    ).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND ts >= ?', project, later)).toBe(0);
    // Once the gap is filled, a run at the same time finds nothing to add.
    expect(buildHistorySql(project, 'localhost', demoFills(later, await lastEvents(), 4))).toEqual({
      sql: '',
      events: 0,
      days: [],
    });
  });
});
