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
import { goalsOf } from '../src/rollup/goal-rollups.ts';
import { bucketRange } from '../src/rollup/day-head.ts';
import { pairBuckets, pairDayStatements } from '../src/rollup/pair-rollups.ts';
import { ROLLUP_COLUMNS } from '../src/stats/metric-sql.ts';
import { pairSince } from '../src/stats/pair-sql.ts';
import {
  addDays,
  dayBounds,
  daysBetween,
  formatDate,
  type LocalDate,
  localDate,
  parseDate,
} from '../src/shared/calendar.ts';
import { type Filter, type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import { materialize, pairFilters, pairGoalFilters, scenario } from './query-oracle-data.ts';
import { ask, event, seed, signInBeforeAll, writeLate } from './query-oracle-harness.ts';
import type { OracleGoal } from './query-oracle-goals.ts';

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
  it('exist for days rolled since their catalog: first tabs 4, goals and funnels 5, tabs of few values 6', () => {
    const since = Object.fromEntries(
      [
        'page',
        'event:name',
        'time:hour',
        'event:goal',
        'funnel:step',
        'channel',
        'os',
        'screen',
        'device',
        'language',
      ].map((name) => [name, pairSince(name)]),
    );
    expect(since).toEqual({
      page: 4,
      'event:name': 4,
      'time:hour': 4,
      'event:goal': 5,
      'funnel:step': 5,
      channel: 6,
      os: 6,
      screen: 6,
      device: 6,
      language: 6,
    });
  });

  it('split a day into more visitor buckets the more events it holds, up to 16', () => {
    expect([0, 250_000, 250_001, 1_000_000, 3_000_000, 10_000_000].map(pairBuckets)).toEqual([1, 1, 2, 4, 16, 16]);
  });

  it('put every visitor id in exactly one bucket, digests evenly', async () => {
    const ids = [
      '0',
      '00ff',
      '3a',
      '7fffffffffffffff',
      '8',
      '8000000000000000',
      'c1',
      'ffffffffffffffff',
      '',
      'v1-x',
      'A1',
      '-',
    ];
    for (const of of [1, 2, 4, 8, 16]) {
      const hits = await Promise.all(
        ids.map(async (id) => {
          const buckets = Array.from({ length: of }, (_, is) => `(${bucketRange({ of, is })})`);
          const row = await env.DB.prepare(
            `SELECT ${buckets.map((b, i) => `${b} AS b${i}`).join(', ')} FROM (SELECT ? AS visitor_id)`,
          )
            .bind(id)
            .first<Record<string, number>>();
          return Object.values(row ?? {}).filter((hit) => hit === 1).length;
        }),
      );
      expect(hits).toEqual(ids.map(() => 1));
    }
    // Sixteen buckets: one per first hex digit.
    const first = await env.DB.prepare(
      `SELECT (${bucketRange({ of: 16, is: 10 })}) AS a, (${bucketRange({ of: 16, is: 11 })}) AS b FROM (SELECT 'a9' AS visitor_id)`,
    ).first<{ a: number; b: number }>();
    expect(first).toEqual({ a: 1, b: 0 });
    expect(() => bucketRange({ of: 3, is: 0 })).toThrow();
    expect(() => bucketRange({ of: 4, is: 4 })).toThrow();
  });

  it('of a day rolled in visitor buckets are the rows of the day rolled whole', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.constantFrom(2, 4, 16), async (data, buckets) => {
        const projectId = await seed(data.timezone, data.events, data.goals);
        const project = { id: projectId, timezone: data.timezone, currency: 'USD' };
        const days = [...new Set(data.events.map((event) => formatDate(localDate(event.ts, data.timezone))))];
        const goals = await goalsOf({ control: env.DB, data: env.DB }, project);
        const rollDays = async (count: number) => {
          for (const label of days) {
            const day = parseDate(label) as LocalDate;
            const dayGoals = { list: goals.list, dayPaths: await goals.dayPaths(day) };
            await env.DB.batch(pairDayStatements(env.DB, project, day, count, dayGoals));
          }
        };
        await rollDays(1);
        const whole = await pairRows(projectId);
        expect(whole.length).toBeGreaterThan(0);
        await rollDays(buckets);
        expect(await pairRows(projectId)).toEqual(whole);
      }),
      { numRuns: 15 },
    );
  });

  it('equal the oracle on a busy open day, with late events, and once it closes (property)', async () => {
    await equalTheOracle(pairFilters, 60);
  }, 300_000);

  it('of goals equal the oracle on a busy open day, with late events, and once it closes (property)', async () => {
    await equalTheOracle(pairGoalFilters, 40);
  }, 300_000);

  it('of a goal are read from pair_rollups, under its current key and name', async () => {
    const goals: OracleGoal[] = [
      { name: 'Signup', kind: 'event', path: null, event_name: 'signup', property_key: null, property_value: null },
      { name: 'Docs', kind: 'pageview', path: '/docs/*', event_name: null, property_key: null, property_value: null },
    ];
    const events = [0, 1, 2, 3, 4, 5].flatMap((i) => [
      event(`2025-03-0${(i % 3) + 1}T1${i}:00:00Z`, {
        visitor_id: `v${i}`,
        session_id: `s${i}`,
        seq: 1,
        source: i % 2 ? 'Google' : null,
        country: i % 3 ? 'DE' : 'US',
        path: `/docs/p${i % 2}`,
      }),
      event(`2025-03-0${(i % 3) + 1}T1${i}:05:00Z`, {
        visitor_id: `v${i}`,
        session_id: `s${i}`,
        seq: 2,
        source: i % 2 ? 'Google' : null,
        country: i % 3 ? 'DE' : 'US',
        name: i % 3 ? 'signup' : 'pageview',
        path: '/q',
      }),
    ]);
    const projectId = await seed('UTC', events, goals);
    await rollUpAll(env, Date.parse('2025-03-20T00:00:00Z'));
    const rows = (await pairRows(projectId)) as { dimension: string }[];
    expect(rows.filter((row) => JSON.parse(row.dimension)[2] === 'event:goal').length).toBeGreaterThan(0);
    const data = { timezone: 'UTC', goals };
    const ask2 = (filter: Filter) => {
      const query: OracleQuery = {
        metrics: ['visitors', 'events', 'conversion_rate'],
        date_range: ['2025-03-01', '2025-03-05'],
        dimensions: ['event:goal'],
        filters: [filter],
      };
      return { query, expected: runOracle(events, query, data) };
    };
    for (const filter of [
      ['is', 'source', ['Google']],
      ['is', 'source', [null]],
      ['is', 'country', ['DE']],
      ['is', 'device', ['desktop']],
    ] as Filter[]) {
      const { query, expected } = ask2(filter);
      expect(await ask(projectId, query), JSON.stringify(query)).toEqual(expected);
    }
    // Those answers came from pair_rollups: corrupting the goal rows changes an answer (new question: no cache).
    await env.DB.prepare(
      "UPDATE pair_rollups SET events = events + 1000 WHERE project_id = ? AND dimension ->> '$[2]' = 'event:goal'",
    )
      .bind(projectId)
      .run();
    const { query, expected } = ask2(['is', 'source', ['Google']]);
    expect(await ask(projectId, { ...query, limit: 99 })).not.toEqual(expected);
  }, 120_000);
});

/**
 * Filtered views drawn by `views` equal the oracle: a busy open day beside closed ones, late events
 * before and after the cron catches up, and the open day once closed.
 */
async function equalTheOracle(
  views: fc.Arbitrary<{ shape: Parameters<typeof materialize>[0]; todayOnly: boolean }>,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      scenario,
      views,
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
        const query = materialize(
          shape,
          data.anchor,
          data.goals.map((goal) => goal.name),
        );
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
    { numRuns },
  );
}
