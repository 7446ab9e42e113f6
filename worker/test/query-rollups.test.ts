/**
 * Rollups (worker/src/rollup/rollups.ts) and how the stats API reads them: answers from rollups,
 * from raw events, and from a mix of both equal the oracle; the cron's runs are idempotent,
 * bounded and never clear a mark a later write made; late events are visible at once; cached
 * answers never hide a change.
 */
import { localTime } from '../src/shared/calendar.ts';
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { purgeExpiredEvents, ROLLUP_DIMENSIONS, rollUp, rollUpAll } from '../src/rollup/index.ts';
import worker from '../src/index.ts';
import { api } from './accounts.ts';
import { markEventHoursStatement } from './helpers.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario } from './query-oracle-data.ts';
import { ask, event, seed, signInBeforeAll, signUp } from './query-oracle-harness.ts';

signInBeforeAll();

const TIME = ['time:hour', 'time:day', 'time:week', 'time:month'] as const;
/** Queries rollups can answer: no filters or goals, one breakdown at most, a time dimension or not. */
const rollupDimensions: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant<string[]>([]),
  fc.constantFrom(...ROLLUP_DIMENSIONS).map((dimension) => [dimension]),
  fc.constantFrom(...TIME).map((time) => [time]),
  fc
    .tuple(fc.constantFrom('time:day', 'time:week', 'time:month'), fc.constantFrom(...ROLLUP_DIMENSIONS), fc.boolean())
    .map(([time, dimension, first]) => (first ? [time, dimension] : [dimension, time])),
);
const unfiltered = fc.tuple(queryShape, rollupDimensions).map(([shape, dimensions]) => ({
  ...shape,
  dimensions,
  filters: [],
  goal: { dimension: null, filter: null, conversionRate: null },
}));

async function rows(table: string, projectId: string): Promise<unknown[]> {
  const order = table === 'rollups' ? 'day, dimension, value' : 'hour';
  const { results } = await env.DB.prepare(`SELECT * FROM ${table} WHERE project_id = ? ORDER BY ${order}`)
    .bind(projectId)
    .all();
  return results;
}

describe('answers from rollups', () => {
  it('equal the oracle raw, rolled up, and with some days marked again (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, unfiltered, fc.array(fc.nat(), { maxLength: 4 }), async (data, shape, remark) => {
        const query = materialize(shape, data.anchor);
        const expected = runOracle(data.events, query, data);
        const projectId = await seed(data.timezone, data.events);
        expect(await ask(projectId, query), `raw ${JSON.stringify(query)}`).toEqual(expected);

        await rollUpAll(env, Date.now());
        expect(await rows('rollup_dirty', projectId)).toEqual([]);
        expect(await ask(projectId, query), `rolled up ${JSON.stringify(query)}`).toEqual(expected);

        // Late events mark their hours again: those days are read raw, the others from rollups.
        const hours = [...new Set(data.events.map((e) => Math.floor(e.ts / 3_600_000)))];
        for (const pick of remark) {
          await env.DB.prepare(
            'INSERT INTO rollup_dirty (project_id, hour, mark) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET mark = mark + 1',
          )
            .bind(projectId, hours[pick % hours.length])
            .run();
        }
        expect(await ask(projectId, query), `mixed ${JSON.stringify(query)}`).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  }, 180_000);

  it('count revenue in the project’s currency only, raw and rolled up alike', async () => {
    const events: RawEvent[] = [
      event('2026-05-04T10:00:00Z'),
      event('2026-05-04T10:01:00Z', { seq: 2, name: 'buy', revenue_amount: 9.5, revenue_currency: 'USD' }),
      event('2026-05-05T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/pricing' }),
      event('2026-05-05T10:01:00Z', {
        visitor_id: 'vb',
        session_id: 'sb',
        seq: 2,
        name: 'buy',
        revenue_amount: 20,
        revenue_currency: 'EUR',
      }),
    ];
    const query: OracleQuery = { metrics: ['revenue', 'events'], date_range: ['2026-05-04', '2026-05-05'] };
    const byDay: OracleQuery = { ...query, dimensions: ['time:day'] };
    const expected = {
      results: [{ dimensions: [], metrics: [9.5, 4] }],
      meta: { currency: 'USD' },
    };
    expect(runOracle(events, query, { timezone: 'UTC' })).toEqual(expected);
    const projectId = await seed('UTC', events);
    expect(await ask(projectId, query)).toEqual(expected);
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, query)).toEqual(expected);
    expect(await ask(projectId, byDay)).toEqual(runOracle(events, byDay, { timezone: 'UTC' }));
  });

  it('sum amounts that binary floating point cannot hold exactly to the same cents', async () => {
    // 0.1, 0.2 and 19.99 are not exact in binary: summed per day and then across days (rollups)
    // or all at once (raw), the sums differ in their last bits; answers are rounded to cents.
    const amounts = [0.1, 0.2, 19.99, 0.07, 4.35, 1.15, 0.3, 99.99, 2.675];
    const list = amounts.map((amount, i) =>
      event(`2026-05-0${1 + (i % 3)}T1${i}:00:00Z`, {
        visitor_id: `v${i}`,
        session_id: `s${i}`,
        name: 'buy',
        revenue_amount: amount,
        revenue_currency: 'USD',
      }),
    );
    const query: OracleQuery = { metrics: ['revenue'], date_range: ['2026-05-01', '2026-05-03'] };
    const expected = runOracle(list, query, { timezone: 'UTC' });
    expect(expected).toMatchObject({
      results: [{ metrics: [Math.round(amounts.reduce((a, b) => a + b) * 100) / 100] }],
    });
    const projectId = await seed('UTC', list);
    expect(await ask(projectId, query)).toEqual(expected);
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, query)).toEqual(expected);
  });
});

describe('the rollup job', () => {
  const events = (day: string, count: number): RawEvent[] =>
    Array.from({ length: count }, (_, i) =>
      event(`${day}T${String(8 + i).padStart(2, '0')}:00:00Z`, { visitor_id: `v${i}`, session_id: `${day}-s${i}` }),
    );

  it('is idempotent and safe to run concurrently', async () => {
    const projectId = await seed('Europe/Berlin', [...events('2026-06-01', 3), ...events('2026-06-02', 2)]);
    await Promise.all([rollUp(env, Date.now()), rollUp(env, Date.now())]);
    const once = await rows('rollups', projectId);
    expect(once.length).toBeGreaterThan(0);
    await env.DB.batch([markEventHoursStatement(projectId)]);
    await rollUpAll(env, Date.now());
    expect(await rows('rollups', projectId)).toEqual(once);
    expect(await rows('rollup_dirty', projectId)).toEqual([]);
  });

  it('leaves the open day raw and works through a backlog within its budget', async () => {
    const now = Date.UTC(2026, 6, 10, 12);
    const backlog = ['2026-07-05', '2026-07-06', '2026-07-07', '2026-07-08'].flatMap((day) => events(day, 2));
    const projectId = await seed('UTC', [...backlog, ...events('2026-07-10', 2)]);
    const first = await rollUp(env, now, { days: 2, ms: Number.POSITIVE_INFINITY });
    expect(first).toMatchObject({ exhausted: true });
    const rolled = async () =>
      (
        await env.DB.prepare('SELECT DISTINCT day FROM rollups WHERE project_id = ? ORDER BY day')
          .bind(projectId)
          .all<{ day: string }>()
      ).results.map((row) => row.day);
    expect((await rolled()).length).toBeLessThanOrEqual(2);
    await rollUpAll(env, now);
    expect(await rolled()).toEqual(['2026-07-05', '2026-07-06', '2026-07-07', '2026-07-08']);
    // Today's hours stay marked: the open day is always read raw.
    const marks = await rows('rollup_dirty', projectId);
    expect(marks).toHaveLength(2);
  });

  it('keeps a mark that a write changed while the day was being rolled up', async () => {
    const projectId = await seed('UTC', events('2026-08-03', 1));
    // A D1 whose batches are preceded by a consumer write to the same hour.
    const racing = new Proxy(env.DB, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property !== 'batch') return typeof value === 'function' ? value.bind(target) : value;
        return async (statements: D1PreparedStatement[]) => {
          await target.prepare('UPDATE rollup_dirty SET mark = mark + 1 WHERE project_id = ?').bind(projectId).run();
          return target.batch(statements);
        };
      },
    });
    await rollUp({ ...env, DB: racing }, Date.now());
    expect(await rows('rollup_dirty', projectId)).toHaveLength(1);
    await rollUp(env, Date.now());
    expect(await rows('rollup_dirty', projectId)).toEqual([]);
  });

  it('runs in the cron', async () => {
    const projectId = await seed('UTC', events('2026-08-10', 2));
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: '*/5 * * * *' });
    await worker.scheduled(controller, env);
    expect(await rows('rollup_dirty', projectId)).toEqual([]);
    expect((await rows('rollups', projectId)).length).toBeGreaterThan(0);
  });
});

describe('late events and the cache', () => {
  it('show a late event at once, and a forged rollup row only after the numbers change', async () => {
    const owner = await signUp();
    const projectId = await seed('UTC', [event('2026-09-01T10:00:00Z')], [], owner);
    await rollUpAll(env, Date.now());
    const query: OracleQuery = { metrics: ['visitors', 'pageviews'], date_range: ['2026-09-01', '2026-09-01'] };
    const pageviews = async () =>
      ((await ask(projectId, query, owner)) as { results: { metrics: number[] }[] }).results;
    expect(await pageviews()).toEqual([{ dimensions: [], metrics: [1, 1] }]);

    // A row written behind the stats API's back (no mark, no version): the cached answer stands.
    await env.DB.prepare('UPDATE rollups SET pageviews = pageviews + 100 WHERE project_id = ? AND dimension = ?')
      .bind(projectId, '')
      .run();
    expect(await pageviews()).toEqual([{ dimensions: [], metrics: [1, 1] }]);

    // A late event through the real consumer: its hour is marked, the day is read raw, at once.
    const late = { ...lateEvent(projectId), ts: Date.parse('2026-09-01T18:00:00Z') };
    const batch = createMessageBatch('tally-events', [
      {
        id: 'late-1',
        timestamp: new Date(),
        attempts: 1,
        body: JSON.stringify({ v: 1, kind: 'events', events: [late] }),
      },
    ]);
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(['late-1']);
    expect(await pageviews()).toEqual([{ dimensions: [], metrics: [2, 2] }]);
    await rollUpAll(env, Date.now());
    // The day was rolled again from its raw events (the tampered row is gone), and its mark cleared.
    expect(await rows('rollup_dirty', projectId)).toEqual([]);
    const total = await env.DB.prepare(
      `SELECT visitors, pageviews FROM rollups WHERE project_id = ? AND dimension = '' AND day = '2026-09-01'`,
    )
      .bind(projectId)
      .first();
    expect(total).toEqual({ visitors: 2, pageviews: 2 });
    expect(await pageviews()).toEqual([{ dimensions: [], metrics: [2, 2] }]);
  });

  it('drop cached raw answers when the retention purge deletes their events', async () => {
    const owner = await signUp();
    const projectId = await seed('UTC', [event('2026-02-02T10:00:00Z', { path: '/old' })], [], owner);
    await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
    // A filtered question reads raw events; the answer is cached.
    const query: OracleQuery = {
      metrics: ['pageviews'],
      date_range: ['2026-02-02', '2026-02-02'],
      filters: [['is', 'page', ['/old']]],
    };
    expect(await ask(projectId, query, owner)).toMatchObject({ results: [{ metrics: [1] }] });
    await purgeExpiredEvents(env, Date.now());
    expect(await ask(projectId, query, owner)).toMatchObject({ results: [{ metrics: [0] }] });
  });

  it('keep the days counted before a timezone change in the zone they were counted in, before and after the cron', async () => {
    const owner = await signUp();
    const list = [event('2026-09-14T23:30:00Z'), event('2026-09-15T12:00:00Z', { visitor_id: 'vb', session_id: 'sb' })];
    const projectId = await seed('UTC', list, [], owner);
    await rollUpAll(env, Date.now());
    const query: OracleQuery = {
      metrics: ['visitors', 'visits'],
      date_range: ['2026-09-14', '2026-09-16'],
      dimensions: ['time:day'],
    };
    const before = await ask(projectId, query, owner);
    const res = await api(`/api/projects/${projectId}`, {
      method: 'PATCH',
      token: owner.token,
      body: { timezone: 'Asia/Tokyo' },
    });
    expect(res.status).toBe(200);
    const project = await res.json<{ timezone: string; timezoneFrom: number }>();
    expect(project.timezone).toBe('Asia/Tokyo');
    // The change applies from a Tokyo midnight after today: every day so far keeps UTC.
    expect(project.timezoneFrom).toBeGreaterThan(Date.now());
    const calendar = `UTC|${project.timezoneFrom}|Asia/Tokyo`;
    expect(localTime(project.timezoneFrom, 'Asia/Tokyo')).toMatchObject({ hour: 0, minute: 0 });
    const expected = runOracle(list, query, { timezone: calendar });
    expect(expected).toEqual(runOracle(list, query, { timezone: 'UTC' }));
    expect(await ask(projectId, query, owner)).toEqual(expected);
    expect(before).toEqual(expected);
    await markEventHoursStatement(projectId).run();
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, query, owner)).toEqual(expected);
  });

  it('never change an answer when the cron runs after a timezone change (a visit across the new zone’s midnight)', async () => {
    // A UTC project with one visit from Google: 18:20Z and 18:40Z, across Kolkata's midnight (18:30Z).
    const owner = await signUp();
    const list = [
      event('2026-09-14T18:20:00Z', { source: 'Google', referrer: 'https://www.google.com/' }),
      event('2026-09-14T18:40:00Z', { seq: 2, path: '/b', source: 'Google', referrer: 'https://www.google.com/' }),
    ];
    const projectId = await seed('UTC', list, [], owner);
    const query: OracleQuery = {
      metrics: ['visits', 'visit_duration'],
      date_range: ['2026-09-13', '2026-09-15'],
      dimensions: ['source'],
    };
    const res = await api(`/api/projects/${projectId}`, {
      method: 'PATCH',
      token: owner.token,
      body: { timezone: 'Asia/Kolkata' },
    });
    expect(res.status).toBe(200);
    const answer = { results: [{ dimensions: ['Google'], metrics: [1, 1200] }], meta: {} };
    expect(await ask(projectId, query, owner)).toEqual(answer);
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, query, owner)).toEqual(answer);
  });
});

/** A stored event as the ProjectDO hands it to the queue. */
function lateEvent(projectId: string) {
  return {
    projectId,
    id: crypto.randomUUID(),
    ts: 0,
    receivedAt: Date.now(),
    name: 'pageview',
    visitorId: 'v-late',
    sessionId: 's-late',
    seq: 1,
    isEntry: true,
    hostname: 'example.com',
    path: '/late',
    referrer: null,
    referrerHost: null,
    source: null,
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    country: null,
    region: null,
    city: null,
    timezone: null,
    browser: null,
    browserVersion: null,
    os: null,
    osVersion: null,
    device: null,
    screen: null,
    props: null,
    revenueAmount: null,
    revenueCurrency: null,
  };
}
