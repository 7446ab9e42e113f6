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

/** The part of scripts/demo-history.ts these tests use. */
interface HistoryModule {
  EVENT_COLUMNS: readonly string[];
  historyDays(now: number, days: number): string[];
  demoDayInputs(projectId: string, hostname: string, day: string, index: number, count: number): DemoEvent[];
  demoDayEvents(projectId: string, hostname: string, day: string, index: number, count: number): unknown[][];
  buildHistorySql(projectId: string, hostname: string, days: readonly string[]): string;
}

// NOTE: scripts/ is its own TypeScript project (see demo-seed.test.ts): a computed specifier keeps
// `tsc -p worker` out of it while vitest loads the real module.
const HISTORY_MODULE = new URL('../../scripts/demo-history.ts', import.meta.url).pathname;
const { EVENT_COLUMNS, buildHistorySql, demoDayEvents, demoDayInputs, historyDays } = (await import(
  /* @vite-ignore */ HISTORY_MODULE
)) as HistoryModule;

const PROJECT = 'history-demo';
const NOW = Date.UTC(2026, 10, 22, 15, 30);
const DAYS = historyDays(NOW, 4);
const DAY_MS = 86_400_000;

type Row = Record<(typeof EVENT_COLUMNS)[number], unknown>;

/** The events table's columns: drizzle key and SQL name. */
const COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({ key, name: column.name }));

function rowsOf(days: readonly string[]): Row[] {
  return days.flatMap((day, index) =>
    demoDayEvents(PROJECT, 'localhost', day, index, days.length).map(
      (values) => Object.fromEntries(EVENT_COLUMNS.map((column, i) => [column, values[i]])) as Row,
    ),
  );
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
  await apply(buildHistorySql(PROJECT, 'localhost', DAYS));
});

describe('the demo history', () => {
  it('covers the days before today, oldest first', () => {
    expect(historyDays(NOW, 3)).toEqual(['2026-11-19', '2026-11-20', '2026-11-21']);
  });

  it('writes whole-millisecond times and unique UUIDv7-shaped ids whose time bits are the event time', () => {
    const rows = rowsOf(historyDays(NOW, 30));
    expect(rows.length).toBeGreaterThan(5_000);
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
    for (const row of rowsOf(historyDays(NOW, 30))) {
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
    for (const row of rowsOf(DAYS)) visits.set(row.session_id, [...(visits.get(row.session_id) ?? []), row]);
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
    const days = historyDays(NOW, 30);
    days.forEach((day, index) => {
      const inputs = demoDayInputs(PROJECT, 'localhost', day, index, days.length);
      const rows = demoDayEvents(PROJECT, 'localhost', day, index, days.length);
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
    });
  });

  it('names browsers as ingest does, and fills every catalog column on some event', () => {
    const rows = rowsOf(historyDays(NOW, 30));
    // ua-parser-js (enrich.ts) names Samsung's browser "Samsung Internet" and keeps major versions only.
    const browsers = [...new Set(rows.map((row) => `${row.browser} ${row.browser_version}`))];
    expect(browsers.filter((browser) => browser.startsWith('Samsung Browser') || !/ \d+$/.test(browser))).toEqual([]);
    const columns = Object.values(DIMENSIONS).flatMap((dimension) => (dimension.column ? [dimension.column] : []));
    expect(columns).toContain('language');
    const empty = columns.filter((column) => !rows.some((row) => row[column] !== null && row[column] !== undefined));
    expect(empty).toEqual([]);
  });

  it('is stored as generated, and re-applying adds nothing', async () => {
    const expected = rowsOf(DAYS).length;
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE project_id = ?', PROJECT)).toBe(expected);
    await apply(buildHistorySql(PROJECT, 'localhost', DAYS));
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
});
