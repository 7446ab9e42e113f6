/**
 * Filtered views from filtered rollups (`stats/pair-sql.ts`, `query/pair-read.ts`): one value of a
 * `filtered` dimension beside a panel's breakdown equals the oracle on a busy open day — its rolled
 * hours, the hour still open, late events before and after the cron catches up, and the day once
 * closed — beside closed days read from `pair_rollups`.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rollUp, rollUpAll } from '../src/rollup/index.ts';
import {
  addDays,
  dayBounds,
  daysBetween,
  formatDate,
  type LocalDate,
  localDate,
  parseDate,
} from '../src/shared/calendar.ts';
import { type RawEvent, runOracle } from './query-oracle.ts';
import { materialize, pairFilters, scenario } from './query-oracle-data.ts';
import { ask, seed, signInBeforeAll, writeLate } from './query-oracle-harness.ts';

signInBeforeAll();
afterEach(() => {
  vi.useRealTimers();
});

const DAY = 86_400_000;

/**
 * The scenario's events again on `today` (same local time of day, new ids): a busy open day beside
 * the scenario's own days. Visits that a DST change would push across a midnight are left out.
 */
function copiedToToday(events: readonly RawEvent[], today: LocalDate, timezone: string): RawEvent[] {
  const { start, end } = dayBounds(today, timezone);
  const moved = events.map((event) => ({
    ...event,
    id: `${event.id}-t`,
    visitor_id: `${event.visitor_id}-t`,
    session_id: `${event.session_id}-t`,
    ts: event.ts + daysBetween(localDate(event.ts, timezone), today) * DAY,
  }));
  const outside = new Set(moved.filter((event) => event.ts < start || event.ts >= end).map((e) => e.session_id));
  return moved.filter((event) => !outside.has(event.session_id));
}

async function pairRows(projectId: string): Promise<number> {
  const row = await env.DB.prepare(
    'SELECT (SELECT COUNT(*) FROM pair_rollups WHERE project_id = ?1) + (SELECT COUNT(*) FROM pair_rollup_hours WHERE project_id = ?1) AS n',
  )
    .bind(projectId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe('filtered rollups', () => {
  it('equal the oracle on a busy open day, with late events, and once it closes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        pairFilters,
        fc.double({ min: 0.05, max: 0.999, noNaN: true }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (data, { shape, todayOnly }, timeOfDay, latepicks) => {
          const today = addDays(parseDate(data.anchor) as LocalDate, 2);
          const { start, end } = dayBounds(today, data.timezone);
          const now = start + Math.floor((end - start) * timeOfDay);
          vi.useFakeTimers({ toFake: ['Date'] });
          vi.setSystemTime(now);
          const all = [...data.events, ...copiedToToday(data.events, today, data.timezone)];
          const events = all.filter((event) => event.ts < now + 5 * 60_000);
          const late = [...new Set(latepicks.map((pick) => events[pick % events.length]))].filter(
            (event) => event !== undefined,
          );
          const early = events.filter((event) => !late.includes(event));
          const query = materialize(shape, data.anchor);
          query.date_range = todayOnly
            ? [formatDate(today), formatDate(today)]
            : [formatDate(addDays(today, -5)), formatDate(today)];

          const projectId = await seed(data.timezone, early, data.goals);
          await rollUpAll(env.DB, now);
          if (early.some((event) => event.ts < now - 2 * 3_600_000))
            expect(await pairRows(projectId)).toBeGreaterThan(0);
          expect(await ask(projectId, query), `rolled ${JSON.stringify(query)}`).toEqual(runOracle(early, query, data));
          const expected = runOracle(events, query, data);
          if (late.length) {
            await writeLate(projectId, late);
            expect(await ask(projectId, query), `late ${JSON.stringify(query)}`).toEqual(expected);
            await rollUp(env.DB, now);
            expect(await ask(projectId, query), `re-rolled ${JSON.stringify(query)}`).toEqual(expected);
          }
          const later = end + 10 * 60_000;
          vi.setSystemTime(later);
          await rollUpAll(env.DB, later);
          expect(await ask(projectId, query), `closed ${JSON.stringify(query)}`).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);
});
