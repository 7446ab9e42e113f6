/**
 * Zones whose midnight is not on a UTC hour (Asia/Kolkata, +5:30): the UTC hour 18:00–19:00 holds
 * the last half hour of one local day and the first of the next. Once the closed day is rolled up,
 * that hour must stop making it raw and stop re-rolling it on every cron run, while it still marks
 * the open day; a late event in the closed half re-rolls the closed day once. Also: `all` starts
 * at the first day with data, even when the data is older than the project.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rollUp } from '../src/rollup/index.ts';
import { markEventHoursStatement } from './helpers.ts';
import { type OracleQuery, runOracle } from './query-oracle.ts';
import { insertEvents } from './query-oracle-data.ts';
import { ask, event, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

const TZ = 'Asia/Kolkata';
/** 2026-09-02 00:10 in Kolkata is 2026-09-01 18:40 UTC: the hour that midnight cuts. */
const SPLIT_HOUR = Math.floor(Date.parse('2026-09-01T18:40:00Z') / 3_600_000);
/** Noon of 2026-09-02 in Kolkata: the 1st is closed, the 2nd is today. */
const NOON_SEPT_2 = Date.parse('2026-09-02T06:30:00Z');

async function dirtyRow(projectId: string, hour: number) {
  return env.DB.prepare('SELECT mark, rolled FROM rollup_dirty WHERE project_id = ? AND hour = ?')
    .bind(projectId, hour)
    .first<{ mark: number; rolled: number | null }>();
}

async function dayTotal(projectId: string, day: string) {
  return env.DB.prepare(`SELECT pageviews FROM rollups WHERE project_id = ? AND dimension = '' AND day = ?`)
    .bind(projectId, day)
    .first<{ pageviews: number }>();
}

describe('an hour cut by a local midnight', () => {
  it('stops re-rolling the closed day once it is rolled up, and re-rolls it for a late event', async () => {
    const events = [
      event('2026-09-01T10:00:00Z'),
      // 23:45 on the 1st, Kolkata time, then 00:10 on the 2nd: both in the UTC hour 18.
      event('2026-09-01T18:15:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/late-night' }),
      event('2026-09-01T18:40:00Z', { visitor_id: 'vc', session_id: 'sc', path: '/early' }),
    ];
    const projectId = await seed(TZ, events);

    const first = await rollUp(env, NOON_SEPT_2);
    expect(first.days).toBe(1);
    expect(await dayTotal(projectId, '2026-09-01')).toEqual({ pageviews: 2 });
    // Still marked (the 2nd is open), but its closed day is done at the current count.
    expect(await dirtyRow(projectId, SPLIT_HOUR)).toEqual({ mark: 1, rolled: 1 });

    // The next cron runs have nothing to do for the 1st.
    expect((await rollUp(env, NOON_SEPT_2 + 300_000)).days).toBe(0);

    // A late event in the closed half of the hour marks it again: the 1st is rolled once more.
    const late = event('2026-09-01T18:20:00Z', { visitor_id: 'vd', session_id: 'sd', path: '/later' });
    await insertEvents(projectId, [late]);
    expect(await dirtyRow(projectId, SPLIT_HOUR)).toEqual({ mark: 2, rolled: 1 });
    expect((await rollUp(env, NOON_SEPT_2 + 600_000)).days).toBe(1);
    expect(await dayTotal(projectId, '2026-09-01')).toEqual({ pageviews: 3 });
    expect(await dirtyRow(projectId, SPLIT_HOUR)).toEqual({ mark: 2, rolled: 2 });

    // When the 2nd closes, it is rolled up and the mark goes.
    const nextDay = NOON_SEPT_2 + 86_400_000;
    expect((await rollUp(env, nextDay)).days).toBe(1);
    expect(await dayTotal(projectId, '2026-09-02')).toEqual({ pageviews: 1 });
    expect(await dirtyRow(projectId, SPLIT_HOUR)).toBeNull();

    // And the numbers are the oracle's, day by day.
    const query: OracleQuery = {
      metrics: ['visitors', 'pageviews'],
      date_range: ['2026-09-01', '2026-09-02'],
      dimensions: ['time:day'],
    };
    expect(await ask(projectId, query)).toEqual(runOracle([...events, late], query, { timezone: TZ }));
  });

  it('keeps the closed day read raw while the settled hour is marked again', async () => {
    const events = [
      event('2026-09-01T18:15:00Z'),
      event('2026-09-01T18:40:00Z', { visitor_id: 'vb', session_id: 'sb' }),
    ];
    const projectId = await seed(TZ, events);
    await rollUp(env, NOON_SEPT_2);
    // Corrupt the closed day's rollup: an answer that still reads it would show 100.
    await env.DB.prepare(`UPDATE rollups SET pageviews = 100 WHERE project_id = ? AND day = '2026-09-01'`)
      .bind(projectId)
      .run();
    await env.DB.batch([markEventHoursStatement(projectId)]);
    const query: OracleQuery = { metrics: ['pageviews'], date_range: ['2026-09-01', '2026-09-01'] };
    expect(await ask(projectId, query)).toEqual(runOracle(events, query, { timezone: TZ }));
  });
});

describe('the `all` range', () => {
  it('starts at the first day with data when the data is older than the project', async () => {
    const events = [
      event('2026-03-10T12:00:00Z'),
      event('2026-06-01T12:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
    ];
    const projectId = await seed('UTC', events);
    const answer = (await ask(projectId, { metrics: ['pageviews'], date_range: 'all' })) as {
      results: { metrics: number[] }[];
      meta: Record<string, unknown>;
    };
    expect(answer.results).toEqual([{ dimensions: [], metrics: [2] }]);
  });

  it('still reaches days whose raw events are gone but whose rollups stay', async () => {
    const projectId = await seed('UTC', [event('2026-02-02T12:00:00Z')]);
    await rollUp(env, Date.now());
    await env.DB.prepare('DELETE FROM events WHERE project_id = ?').bind(projectId).run();
    const answer = (await ask(projectId, { metrics: ['pageviews'], date_range: 'all' })) as {
      results: { metrics: number[] }[];
    };
    expect(answer.results).toEqual([{ dimensions: [], metrics: [1] }]);
  });
});
