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
import { HOUR_GRACE_MS } from '../src/rollup/hours.ts';
import { addDays, dayBounds, formatDate, type LocalDate, parseDate } from '../src/shared/calendar.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import type { OracleGoal } from './query-oracle-goals.ts';
import { filterOn, materialize, pairFilters, POOL_VALUES, queryShape, scenario, WINDOW } from './query-oracle-data.ts';
import type { Filter } from './query-oracle.ts';
import { ask, event, seed, signInBeforeAll, writeLate } from './query-oracle-harness.ts';

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

/** Filters all on the breakdown's own dimension (custom events, a detail view's search): from rollups. */
const ownFilters = fc
  .constantFrom(...ROLLUP_DIMENSIONS.filter((dimension) => POOL_VALUES[dimension]))
  .chain((dimension) =>
    fc.tuple(
      queryShape,
      fc.constant(dimension),
      fc.array(filterOn(dimension), { minLength: 1, maxLength: 2 }),
      fc.constantFrom<string[]>([], ['time:day'], ['time:month']),
      fc.boolean(),
    ),
  )
  .map(([shape, dimension, filters, times, todayOnly]) => ({
    shape: {
      ...shape,
      dimensions: [...times, dimension],
      filters,
      goal: { dimension: null, filter: null, conversionRate: null },
    },
    todayOnly,
  }));

describe('the open day read hour by hour', () => {
  it('equals the oracle before and after late events, rolled or not (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        fc.oneof(unfiltered, loneFilter, ownFilters, pairFilters),
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
          await rollUpAll(env, now);
          const rolledBy = Math.floor((now - HOUR_GRACE_MS) / HOUR) * HOUR;
          const closedToday = early.filter((event) => event.ts >= start && event.ts < rolledBy);
          if (closedToday.length) expect(await hourlyRows(projectId)).toBeGreaterThan(0);
          expect(await ask(projectId, query), `rolled ${JSON.stringify(query)}`).toEqual(expectedEarly);

          // Late events reach hours already rolled up: read raw from there on, still exact.
          if (late.length) {
            await writeLate(projectId, late);
            expect(await ask(projectId, query), `late ${JSON.stringify(query)}`).toEqual(expected);
            await rollUp(env, now);
            expect(await ask(projectId, query), `re-rolled ${JSON.stringify(query)}`).toEqual(expected);
          }

          // The day closes: its last hours are rolled, and its rollups become the sum of its hours.
          const later = end + 10 * 60_000;
          vi.setSystemTime(later);
          await rollUpAll(env, later);
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
    await rollUpAll(env, now);
    expect(await hourlyRows(projectId)).toBeGreaterThan(0);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(events, query, data));
    await writeLate(projectId, [late, lateInVisit]);
    const all = [...events, late, lateInVisit];
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
    await rollUp(env, now);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
    // After midnight the day is the sum of its hours, its last ones rolled first.
    const later = Date.parse('2026-05-04T18:40:00Z');
    vi.setSystemTime(later);
    await rollUpAll(env, later);
    expect(await hourlyRowsOf(projectId, '2026-05-04')).toBe(0);
    for (const query of queries) expect(await ask(projectId, query)).toEqual(runOracle(all, query, data));
  });
});

describe('a day rolled hour by hour and then closed', () => {
  const BIG = { days: 100_000, ms: Number.POSITIVE_INFINITY };
  const cron = async (at: string) => {
    const now = Date.parse(at);
    vi.setSystemTime(now);
    return rollUp(env, now, BIG);
  };
  const day = (label: string): OracleQuery => ({
    metrics: ['visitors', 'visits', 'pageviews'],
    date_range: [label, label],
  });
  const KOLKATA = { timezone: 'Asia/Kolkata', goals: [] };

  it('keeps a late event into yesterday whole, in a zone whose midnight cuts an hour', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-05-03T05:05:00Z'));
    const projectId = await seed(KOLKATA.timezone, []);
    const y1 = event('2026-05-03T05:00:00Z', { visitor_id: 'v1', session_id: 's1' });
    const y2 = event('2026-05-03T10:00:00Z', { visitor_id: 'v2', session_id: 's2' });
    // The hour 18:00–19:00 UTC: the end of 2026-05-03 and the start of 2026-05-04 in Kolkata.
    const shared = event('2026-05-03T18:10:00Z', { visitor_id: 'v3', session_id: 's3' });
    const next = event('2026-05-03T19:10:00Z', { visitor_id: 'vt', session_id: 'st' });
    await writeLate(projectId, [y1]);
    await cron('2026-05-03T06:05:00Z');
    await writeLate(projectId, [y2]);
    await cron('2026-05-03T11:05:00Z');
    await writeLate(projectId, [shared]);
    await cron('2026-05-03T18:35:00Z');
    await writeLate(projectId, [next]);
    await cron('2026-05-03T20:05:00Z');
    const before = [y1, y2, shared, next];
    expect(await ask(projectId, day('2026-05-03'))).toEqual(runOracle(before, day('2026-05-03'), KOLKATA));
    // A late event (a queue retry) into yesterday, whose hourly rows are gone since it closed.
    const late = event('2026-05-03T12:00:00Z', { visitor_id: 'vz', session_id: 'sz' });
    await writeLate(projectId, [late]);
    await cron('2026-05-03T20:15:00Z');
    const all = [...before, late];
    expect(await ask(projectId, day('2026-05-03'))).toEqual(runOracle(all, day('2026-05-03'), KOLKATA));
    expect(await ask(projectId, day('2026-05-04'))).toEqual(runOracle(all, day('2026-05-04'), KOLKATA));
  });

  it("counts the open day's first half-hour, rolled apart from yesterday's half of the same hour", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-05-03T10:05:00Z'));
    const projectId = await seed(KOLKATA.timezone, []);
    const y = event('2026-05-03T10:00:00Z', { visitor_id: 'vy', session_id: 'sy' });
    await writeLate(projectId, [y]);
    await cron('2026-05-03T12:00:00Z');
    // 00:01 in Kolkata on 2026-05-04: the later half of the hour whose earlier half closes 05-03.
    const a = event('2026-05-03T18:31:00Z', { visitor_id: 'va', session_id: 'sa' });
    await writeLate(projectId, [a]);
    await cron('2026-05-03T18:35:00Z');
    const b = event('2026-05-03T20:10:00Z', { visitor_id: 'vb', session_id: 'sb' });
    await writeLate(projectId, [b]);
    await cron('2026-05-03T21:05:00Z');
    const all = [y, a, b];
    expect(await ask(projectId, day('2026-05-03'))).toEqual(runOracle(all, day('2026-05-03'), KOLKATA));
    expect(await ask(projectId, day('2026-05-04'))).toEqual(runOracle(all, day('2026-05-04'), KOLKATA));
    await cron('2026-05-04T18:35:00Z');
    await cron('2026-05-04T19:05:00Z');
    expect(await ask(projectId, day('2026-05-04'))).toEqual(runOracle(all, day('2026-05-04'), KOLKATA));
  });

  it('stays whole when the cron reads only some of its marks in a run', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-05-04T01:00:00Z'));
    const projectId = await seed('UTC', []);
    const list = ['02', '05', '09', '14', '20'].map((h, i) =>
      event(`2026-05-04T${h}:10:00Z`, { visitor_id: `v${i}`, session_id: `s${i}` }),
    );
    for (const one of list) {
      await writeLate(projectId, [one]);
      await cron(new Date(one.ts + HOUR).toISOString());
    }
    // Another project's 1,997 older marks: the run's 2,000 oldest end inside this day.
    const other = `q-other-${crypto.randomUUID().slice(0, 8)}`;
    const at = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        'INSERT INTO projects (id, name, site_key, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).bind(other, 'other', `site_${other}`, 'UTC', at, at),
      // Past retention, so the other project's days are settled without work.
      env.DB.prepare('INSERT INTO rollup_state (project_id, version, updated_at, raw_from) VALUES (?, 1, ?, ?)').bind(
        other,
        at,
        Date.parse('2030-01-01T00:00:00Z'),
      ),
      env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1997)
         INSERT INTO rollup_dirty (project_id, hour, mark) SELECT ?, ? - i, 1 FROM n`,
      ).bind(other, Date.parse('2026-05-04T00:00:00Z') / HOUR),
    ]);
    const data = { timezone: 'UTC', goals: [] };
    await cron('2026-05-05T00:10:00Z');
    expect(await ask(projectId, day('2026-05-04'))).toEqual(runOracle(list, day('2026-05-04'), data));
    await cron('2026-05-05T00:15:00Z');
    expect(await ask(projectId, day('2026-05-04'))).toEqual(runOracle(list, day('2026-05-04'), data));
  });
});
