/**
 * Filtered views from filtered rollups (`stats/pair-sql.ts`, `query/pair-read.ts`): one value of a
 * `filtered` dimension beside a panel's first tab equals the oracle — closed days from
 * `pair_rollups`, the busy open day raw, late events before and after the cron catches up, the day
 * once closed (compacted from its hours, its filtered rows from its events) — and a day rolled in
 * visitor buckets has the rows of the day rolled whole.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rollUp, rollUpAll } from '../src/rollup/index.ts';
import { pairBuckets, pairDayStatements } from '../src/rollup/pair-rollups.ts';
import { ROLLUP_COLUMNS } from '../src/stats/metric-sql.ts';
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

async function pairRows(projectId: string): Promise<unknown[]> {
  const { results } = await env.DB.prepare(
    `SELECT day, dimension, value, ${ROLLUP_COLUMNS.join(', ')} FROM pair_rollups WHERE project_id = ? ORDER BY day, dimension, value`,
  )
    .bind(projectId)
    .all();
  return results;
}

describe('filtered rollups', () => {
  it('split a day into more visitor buckets the more events it holds, up to 16', () => {
    expect([0, 250_000, 250_001, 1_000_000, 3_000_000, 10_000_000].map(pairBuckets)).toEqual([1, 1, 2, 4, 16, 16]);
  });

  it('of a day rolled in visitor buckets are the rows of the day rolled whole', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.constantFrom(2, 4, 16), async (data, buckets) => {
        const projectId = await seed(data.timezone, data.events, data.goals);
        const project = { id: projectId, timezone: data.timezone, currency: 'USD' };
        const days = [...new Set(data.events.map((event) => formatDate(localDate(event.ts, data.timezone))))];
        for (const label of days) await env.DB.batch(pairDayStatements(env.DB, project, parseDate(label) as LocalDate));
        const whole = await pairRows(projectId);
        expect(whole.length).toBeGreaterThan(0);
        for (const label of days)
          await env.DB.batch(pairDayStatements(env.DB, project, parseDate(label) as LocalDate, buckets));
        expect(await pairRows(projectId)).toEqual(whole);
      }),
      { numRuns: 15 },
    );
  });

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
          await rollUpAll(env, now);
          if (early.some((event) => event.ts < start)) expect((await pairRows(projectId)).length).toBeGreaterThan(0);
          expect(await ask(projectId, query), `rolled ${JSON.stringify(query)}`).toEqual(runOracle(early, query, data));
          const expected = runOracle(events, query, data);
          if (late.length) {
            await writeLate(projectId, late);
            expect(await ask(projectId, query), `late ${JSON.stringify(query)}`).toEqual(expected);
            await rollUp(env, now);
            expect(await ask(projectId, query), `re-rolled ${JSON.stringify(query)}`).toEqual(expected);
          }
          const later = end + 10 * 60_000;
          vi.setSystemTime(later);
          await rollUpAll(env, later);
          expect(await ask(projectId, query), `closed ${JSON.stringify(query)}`).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);
});
