/**
 * A big closed day rolled again (a late event, a goal or catalog change) goes hour by hour
 * (`rollup/rollups.ts` `HOURLY_FROM_EVENTS`): its hours are marked, rolled one segment a batch,
 * and the day is then closed from them in a later run — with the rows, filtered rows included,
 * that rolling it whole gives. A day whose midnights cut a UTC hour is still rolled whole. Here every day counts as big (`hourlyFrom: 0`), on the oracle's
 * scenarios: DST days, zones off the hour, goals.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollUp, rollUpAll } from '../src/rollup/index.ts';
import { dayBounds, localDate } from '../src/shared/calendar.ts';
import { ROLLUP_COLUMNS } from '../src/stats/metric-sql.ts';
import { MARK_SPAN_HOURS_SQL } from '../src/store/freshness.ts';
import { scenario } from './query-oracle-data.ts';
import { seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

const ALL = { days: 1_000, ms: Number.POSITIVE_INFINITY };

async function rows(projectId: string): Promise<unknown[]> {
  const columns = `day, dimension, value, ${ROLLUP_COLUMNS.join(', ')}`;
  const [daily, paired] = await env.DB.batch([
    env.DB.prepare(`SELECT ${columns} FROM rollups WHERE project_id = ? ORDER BY day, dimension, value`).bind(
      projectId,
    ),
    env.DB.prepare(`SELECT ${columns} FROM pair_rollups WHERE project_id = ? ORDER BY day, dimension, value`).bind(
      projectId,
    ),
  ]);
  return [daily?.results, paired?.results];
}

const count = async (sql: string, projectId: string) =>
  (await env.DB.prepare(sql).bind(projectId).first<{ n: number }>())?.n ?? 0;

describe('a big closed day rolled again', () => {
  it('goes hour by hour, to the rows of the day rolled whole (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (data) => {
        const projectId = await seed(data.timezone, data.events, data.goals);
        const now = Date.now();
        await rollUpAll(env, now);
        const whole = await rows(projectId);
        expect((whole[0] as unknown[]).length).toBeGreaterThan(0);

        // Rolled again: one hour marked, as a late event into it marks it (its day's other hours
        // are the rolling's to mark).
        const late = data.events[Math.floor(data.events.length / 2)]?.ts ?? 0;
        const hour = Math.floor(late / 3_600_000) * 3_600_000;
        await env.DB.prepare(MARK_SPAN_HOURS_SQL)
          .bind(projectId, hour, hour + 3_600_000)
          .run();
        // The first run rolls hours and closes no day with events (a day the hour touches across a
        // local midnight with none of them is rolled whole): the days' rows are the old ones meanwhile.
        await rollUp(env, now, { ...ALL, hourlyFrom: 0 });
        // Days whose midnights cut a UTC hour (Asia/Kathmandu) are still rolled whole.
        const { start, end } = dayBounds(localDate(late, data.timezone), data.timezone);
        const hours = await count('SELECT COUNT(*) AS n FROM rolled_hours WHERE project_id = ?', projectId);
        if (start % 3_600_000 === 0 && end % 3_600_000 === 0) expect(hours).toBeGreaterThan(0);
        else expect(hours).toBe(0);
        expect(await rows(projectId)).toEqual(whole);

        for (let run = 0; run < 3; run++) await rollUp(env, now, { ...ALL, hourlyFrom: 0 });
        expect(await count('SELECT COUNT(*) AS n FROM rollup_dirty WHERE project_id = ?', projectId)).toBe(0);
        expect(await count('SELECT COUNT(*) AS n FROM rollup_hours WHERE project_id = ?', projectId)).toBe(0);
        expect(await rows(projectId)).toEqual(whole);
      }),
      { numRuns: 12 },
    );
  }, 300_000);
});
