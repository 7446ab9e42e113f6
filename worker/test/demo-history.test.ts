/**
 * The demo history (scripts/demo-history.ts) that `npm run dev` writes straight into D1: its rows
 * must look like the worker's own, or the stats engine would count them wrong — whole-millisecond
 * timestamps, visits and visitor ids that stay within one day of the project's timezone (UTC for
 * the demo), entry values on the entry event only, and a `rollup_dirty` mark for every hour.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';

/** The part of scripts/demo-history.ts these tests use. */
interface HistoryModule {
  EVENT_COLUMNS: readonly string[];
  historyDays(now: number, days: number): string[];
  demoDayEvents(projectId: string, hostname: string, day: string, index: number, count: number): unknown[][];
  buildHistorySql(projectId: string, hostname: string, days: readonly string[]): string;
}

// NOTE: scripts/ is its own TypeScript project (see demo-seed.test.ts): a computed specifier keeps
// `tsc -p worker` out of it while vitest loads the real module.
const HISTORY_MODULE = new URL('../../scripts/demo-history.ts', import.meta.url).pathname;
const { EVENT_COLUMNS, buildHistorySql, demoDayEvents, historyDays } = (await import(
  /* @vite-ignore */ HISTORY_MODULE
)) as HistoryModule;

const PROJECT = 'history-demo';
const NOW = Date.UTC(2026, 10, 22, 15, 30);
const DAYS = historyDays(NOW, 4);
const DAY_MS = 86_400_000;

type Row = Record<(typeof EVENT_COLUMNS)[number], unknown>;

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

  it('numbers each visit from 1 and gives its source and tags to the entry event only', () => {
    const visits = new Map<unknown, Row[]>();
    for (const row of rowsOf(DAYS)) visits.set(row.session_id, [...(visits.get(row.session_id) ?? []), row]);
    for (const events of visits.values()) {
      events.forEach((event, index) => {
        expect(event.seq).toBe(index + 1);
        expect(event.is_entry).toBe(index === 0 ? 1 : 0);
        if (index > 0) {
          expect([event.referrer, event.source, event.utm_source, event.utm_campaign]).toEqual([
            null,
            null,
            null,
            null,
          ]);
        }
        if (index > 0) expect(event.ts as number).toBeGreaterThanOrEqual(events[index - 1]?.ts as number);
      });
    }
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
