/**
 * The open day hour by hour (worker/src/rollup/hours.ts, stats/segment-sql.ts): with the closed
 * hours of today rolled up as what each adds to the day, and only the rest read raw from its
 * visitors' events, every unfiltered answer equals the oracle — at any time of day, in zones whose
 * midnight is not on the hour, with late events written to hours already rolled up, before and
 * after the cron has caught up with them.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ROLLUP_DIMENSIONS, rollUp, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, type LocalDate, parseDate } from '../src/shared/calendar.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import type { OracleGoal } from './query-oracle-goals.ts';
import { insertEvents, materialize, POOL_VALUES, queryShape, scenario, WINDOW } from './query-oracle-data.ts';
import type { Filter } from './query-oracle.ts';
import { ask, event, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();
afterEach(() => {
  vi.useRealTimers();
});

const HOUR = 3_600_000;
const TIME = ['time:hour', 'time:day', 'time:week', 'time:month'] as const;
const dimensions: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant<string[]>([]),
  fc.constantFrom(...ROLLUP_DIMENSIONS).map((dimension) => [dimension]),
  fc.constantFrom(...TIME).map((time) => [time]),
  fc
    .tuple(fc.constantFrom('time:day', 'time:week', 'time:month'), fc.constantFrom(...ROLLUP_DIMENSIONS))
    .map(([time, dimension]) => [time, dimension]),
  // Goal breakdowns read goal rows (rollup_hours' `event:goal`), alone or by day, week or month.
  fc.constantFrom<string[]>(['event:goal'], ['time:day', 'event:goal'], ['event:goal', 'time:month']),
);
const unfiltered = fc.tuple(queryShape, dimensions, fc.boolean()).map(([shape, list, todayOnly]) => ({
  shape: { ...shape, dimensions: list, filters: [], goal: { dimension: null, filter: null, conversionRate: null } },
  todayOnly,
}));

/** Events written after the fact, marking their own hours as the consumer's batch does. */
async function writeLate(projectId: string, late: readonly RawEvent[]): Promise<void> {
  await insertEvents(projectId, late, false);
  for (const hour of new Set(late.map((event) => Math.floor(event.ts / HOUR)))) {
    await env.DB.prepare(
      'INSERT INTO rollup_dirty (project_id, hour, mark) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET mark = mark + 1',
    )
      .bind(projectId, hour)
      .run();
  }
}

async function hourlyRowsOf(projectId: string, day: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM rollup_hours WHERE project_id = ? AND day = ?')
    .bind(projectId, day)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function hourlyRows(projectId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM rollup_hours WHERE project_id = ?')
    .bind(projectId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** A lone `is` filter of one value on a rolled dimension, by day, week, month or nothing: read from rollups. */
const loneFilter = fc
  .tuple(
    queryShape,
    fc.constantFrom(...ROLLUP_DIMENSIONS.filter((dimension) => POOL_VALUES[dimension])),
    fc.nat(),
    fc.constantFrom<string[]>([], ['time:day'], ['time:week'], ['time:month']),
    fc.boolean(),
  )
  .map(([shape, dimension, pick, list, todayOnly]) => {
    const values = POOL_VALUES[dimension] ?? [null];
    const value = values[pick % values.length] ?? null;
    return {
      shape: {
        ...shape,
        dimensions: list,
        filters: [['is', dimension, [value]] as Filter],
        goal: { dimension: null, filter: null, conversionRate: null },
      },
      todayOnly,
    };
  });

describe('the open day read hour by hour', () => {
  it('equals the oracle before and after late events, rolled or not (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        fc.oneof(unfiltered, loneFilter),
        fc.integer({ min: WINDOW.first, max: WINDOW.last }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (data, { shape, todayOnly }, todayOffset, timeOfDay, latepicks) => {
          const today = addDays(parseDate(data.anchor) as LocalDate, todayOffset);
          const { start, end } = dayBounds(today, data.timezone);
          const now = start + Math.floor((end - start) * timeOfDay);
          vi.useFakeTimers({ toFake: ['Date'] });
          vi.setSystemTime(now);
          // Events up to a few minutes past now (clients' clocks run ahead): none from later.
          const events = data.events.filter((event) => event.ts < now + 5 * 60_000);
          const late = [...new Set(latepicks.map((pick) => events[pick % events.length]))].filter(
            (event) => event !== undefined,
          );
          const early = events.filter((event) => !late.includes(event));
          const query = materialize(shape, data.anchor);
          // A range may end tomorrow at the latest.
          const tomorrow = formatDate(addDays(today, 1));
          const [first, last] = query.date_range as [string, string];
          query.date_range = todayOnly
            ? [formatDate(today), formatDate(today)]
            : [[first, tomorrow].sort()[0] as string, [last, tomorrow].sort()[0] as string];
          const expected = runOracle(events, query, data);
          const expectedEarly = runOracle(early, query, data);

          const projectId = await seed(data.timezone, early, data.goals);
          await rollUpAll(env.DB, now);
          const closedToday = early.filter((event) => event.ts >= start && event.ts < Math.floor(now / HOUR) * HOUR);
          if (closedToday.length) expect(await hourlyRows(projectId)).toBeGreaterThan(0);
          expect(await ask(projectId, query), `rolled ${JSON.stringify(query)}`).toEqual(expectedEarly);

          // Late events reach hours already rolled up: read raw from there on, still exact.
          if (late.length) {
            await writeLate(projectId, late);
            expect(await ask(projectId, query), `late ${JSON.stringify(query)}`).toEqual(expected);
            await rollUp(env.DB, now);
            expect(await ask(projectId, query), `re-rolled ${JSON.stringify(query)}`).toEqual(expected);
          }

          // The day closes: its last hours are rolled, and its rollups become the sum of its hours.
          const later = end + 10 * 60_000;
          vi.setSystemTime(later);
          await rollUpAll(env.DB, later);
          expect(await hourlyRowsOf(projectId, formatDate(today))).toBe(0);
          expect(await ask(projectId, query), `closed ${JSON.stringify(query)}`).toEqual(
            late.length ? expected : expectedEarly,
          );
        },
      ),
      { numRuns: 80 },
    );
  }, 240_000);

  it('counts visitors and visits that span hours once, as the raw day does', async () => {
    // Asia/Kolkata: the local day starts at 18:30 UTC, so its first hour segment is half an hour.
    const at = (time: string, fields: Partial<RawEvent>) => event(`2026-05-04T${time}Z`, fields);
    const a = { visitor_id: 'va', session_id: 'sa' };
    const events: RawEvent[] = [
      // One visit over three hours: a bounce until its second pageview, exits move with it.
      at('00:50:00', { ...a, seq: 1, path: '/', source: 'Google' }),
      at('01:10:00', { ...a, seq: 2, path: '/pricing', is_entry: false }),
      at('02:05:00', { ...a, seq: 3, name: 'signup', path: '/pricing', is_entry: false }),
      // The same visitor again later, from elsewhere; and a second visitor in two hours.
      at('03:40:00', { ...a, session_id: 'sa2', seq: 1, path: '/docs', source: 'news' }),
      at('01:20:00', { visitor_id: 'vb', session_id: 'sb', seq: 1, path: '/docs' }),
      at('03:50:00', { visitor_id: 'vb', session_id: 'sb2', seq: 1, path: '/' }),
      // In the hour still open at `now`.
      at('04:10:00', { ...a, session_id: 'sa2', seq: 2, path: '/', is_entry: false }),
    ];
    const late = at('00:55:00', { visitor_id: 'vc', session_id: 'sc', seq: 1, path: '/pricing' });
    const lateInVisit = at('01:30:00', { ...a, seq: 4, name: 'click', path: '/pricing', is_entry: false });
    const now = Date.parse('2026-05-04T04:20:00Z');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const zone = { timezone: 'Asia/Kolkata' };
    const queries = [[], ['time:hour'], ['source'], ['page'], ['entry_page'], ['exit_page'], ['event:name']].map(
      (dimensions): OracleQuery => ({
        metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounce_rate', 'visit_duration'],
        date_range: ['2026-05-04', '2026-05-04'],
        dimensions,
        include: { totals: true },
      }),
    );
    const goals: OracleGoal[] = [
      {
        name: 'Pricing',
        kind: 'pageview',
        path: '/pricing',
        event_name: null,
        property_key: null,
        property_value: null,
      },
      { name: 'Signup', kind: 'event', path: null, event_name: 'signup', property_key: null, property_value: null },
    ];
    const goalQuery: OracleQuery = {
      metrics: ['visitors', 'visits', 'events', 'conversion_rate'],
      date_range: ['2026-05-04', '2026-05-04'],
      dimensions: ['event:goal'],
    };
    queries.push(goalQuery, { ...goalQuery, dimensions: ['time:day', 'event:goal'] });
    const data = { ...zone, goals };
    const projectId = await seed(zone.timezone, events, goals);
    await rollUpAll(env.DB, now);
    expect(await hourlyRows(projectId)).toBeGreaterThan(0);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(events, query, data));
    await writeLate(projectId, [late, lateInVisit]);
    const all = [...events, late, lateInVisit];
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
    await rollUp(env.DB, now);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
    // After midnight the day is the sum of its hours, its last ones rolled first.
    const later = Date.parse('2026-05-04T18:40:00Z');
    vi.setSystemTime(later);
    await rollUpAll(env.DB, later);
    expect(await hourlyRowsOf(projectId, '2026-05-04')).toBe(0);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
  });
});
