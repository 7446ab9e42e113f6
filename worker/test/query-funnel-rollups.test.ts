/**
 * Funnels from rollups (stats/funnel-sql.ts, query/funnel.ts): with closed days rolled up, the open
 * day rolled hour by hour and only the rest read raw, every unfiltered funnel equals the oracle of
 * test/query-oracle-funnels.ts — at any time of day, in zones whose midnight is not on the hour,
 * with late events written to rolled hours, after the day closes, and after the funnel's steps
 * change or a funnel is created once its days were rolled up.
 */
import { env, exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { purgeExpiredEvents, rollUp, rollUpAll } from '../src/rollup/index.ts';
import { FUNNEL_DIMENSION } from '../src/stats/funnel-sql.ts';
import { addDays, dayBounds, formatDate, type LocalDate, localDate, parseDate } from '../src/shared/calendar.ts';
import { api } from './accounts.ts';
import type { Filter, RawEvent } from './query-oracle.ts';
import { POOL_VALUES, scenario, WINDOW } from './query-oracle-data.ts';
import { PAIR_FILTERS } from '@tally/sdk/catalog';
import { type FunnelRequest, funnelSteps, insertFunnel, runFunnelOracle } from './query-oracle-funnels.ts';
import { event, type Owner, seed, signUp, writeLate } from './query-oracle-harness.ts';

let me: Owner;
beforeAll(async () => {
  me = await signUp();
});
afterEach(() => {
  vi.useRealTimers();
});

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await exports.default.fetch(`http://tally.test${path}`, {
    method,
    headers: { authorization: `Bearer ${me.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.status, `${method} ${path} ${JSON.stringify(body)} → ${text}`).toBeLessThan(300);
  return text ? JSON.parse(text) : null;
}

const askFunnel = (projectId: string, funnel: string, request: FunnelRequest) =>
  call('POST', '/api/v1/funnel', { project: projectId, funnel, ...request });

async function funnelRows(projectId: string, table: 'rollups' | 'rollup_hours'): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE project_id = ? AND dimension = ?`)
    .bind(projectId, FUNNEL_DIMENSION)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

const DAY = 86_400_000;

/** A visit: a pageview of `/`, then one of `/pricing` a minute later. */
const visitOf = (iso: string, id: string): RawEvent[] => [
  event(iso, { session_id: id, visitor_id: id, seq: 1, path: '/' }),
  event(new Date(Date.parse(iso) + 60_000).toISOString(), {
    session_id: id,
    visitor_id: id,
    seq: 2,
    path: '/pricing',
    is_entry: false,
  }),
];
const pricingSteps = [
  { kind: 'pageview' as const, path: '/' },
  { kind: 'pageview' as const, path: '/pricing' },
];

/** One value of a `filtered` dimension: closed days read the funnel's filtered rows (`pair_rollups`). */
const loneFilter = fc
  .tuple(fc.constantFrom(...PAIR_FILTERS.filter((dimension) => POOL_VALUES[dimension])), fc.nat())
  .map(([dimension, pick]): Filter => {
    const values = POOL_VALUES[dimension] ?? [null];
    return ['is', dimension, [values[pick % values.length] ?? null]];
  });

describe('funnels from rollups', () => {
  it('equal the oracle rolled up, hour by hour, with late events and after the day closes, unfiltered or filtered to one value (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        funnelSteps,
        fc.integer({ min: WINDOW.first, max: WINDOW.last }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.boolean(),
        fc.option(loneFilter, { nil: null }),
        async (data, steps, todayOffset, timeOfDay, latepicks, todayOnly, filter) => {
          const today = addDays(parseDate(data.anchor) as LocalDate, todayOffset);
          const { start, end } = dayBounds(today, data.timezone);
          const now = start + Math.floor((end - start) * timeOfDay);
          vi.useFakeTimers({ toFake: ['Date'] });
          vi.setSystemTime(now);
          const events = data.events.filter((event) => event.ts < now + 5 * 60_000);
          const late = [...new Set(latepicks.map((pick) => events[pick % events.length]))].filter(
            (event) => event !== undefined,
          );
          const early = events.filter((event) => !late.includes(event));
          const first = formatDate(addDays(today, -3));
          const request: FunnelRequest = {
            date_range: todayOnly ? [formatDate(today), formatDate(today)] : [first, formatDate(addDays(today, 1))],
          };
          if (filter) request.filters = [filter];
          const oracle = (list: readonly RawEvent[]) => runFunnelOracle(list, steps, request, data.timezone, now);

          const projectId = await seed(data.timezone, early, [], me);
          const funnel = await insertFunnel(projectId, steps);
          await rollUpAll(env, now);
          const label = JSON.stringify({ steps, request });
          expect(await askFunnel(projectId, funnel, request), `rolled ${label}`).toEqual(oracle(early));

          if (late.length) {
            await writeLate(projectId, late);
            expect(await askFunnel(projectId, funnel, request), `late ${label}`).toEqual(oracle(events));
            await rollUp(env, now);
            expect(await askFunnel(projectId, funnel, request), `re-rolled ${label}`).toEqual(oracle(events));
          }

          const later = end + 10 * 60_000;
          vi.setSystemTime(later);
          await rollUpAll(env, later);
          expect(await askFunnel(projectId, funnel, request), `closed ${label}`).toEqual(
            runFunnelOracle(events, steps, request, data.timezone, later),
          );
        },
      ),
      { numRuns: 60 },
    );
  }, 240_000);

  it('reads rows once rolled, and a funnel created or changed afterwards counts its days raw until re-rolled', async () => {
    // Asia/Kolkata: its days start at 18:30 UTC, so its first hour segment is half an hour.
    const timezone = 'Asia/Kolkata';
    const visit = (id: string, times: string[], paths: string[]) =>
      times.map((time, index) =>
        event(time, {
          visitor_id: `v${id}`,
          session_id: `s${id}`,
          seq: index + 1,
          path: paths[index] ?? '/',
          is_entry: index === 0,
        }),
      );
    const events = [
      ...visit('a', ['2026-05-03T10:00:00Z', '2026-05-03T10:05:00Z'], ['/', '/pricing']),
      ...visit(
        'b',
        ['2026-05-03T19:00:00Z', '2026-05-03T20:10:00Z', '2026-05-03T21:20:00Z'],
        ['/', '/docs', '/pricing'],
      ),
      ...visit('c', ['2026-05-03T20:40:00Z'], ['/pricing']),
      // In the hour still open at `now`.
      ...visit('d', ['2026-05-03T22:05:00Z', '2026-05-03T22:06:00Z'], ['/', '/pricing']),
    ];
    const now = Date.parse('2026-05-03T22:20:00Z');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const projectId = await seed(timezone, events, [], me);
    const steps = [
      { kind: 'pageview' as const, path: '/' },
      { kind: 'pageview' as const, path: '/pricing' },
    ];
    const funnel = await insertFunnel(projectId, steps);
    await rollUpAll(env, now);
    expect(await funnelRows(projectId, 'rollups')).toBeGreaterThan(0);
    expect(await funnelRows(projectId, 'rollup_hours')).toBeGreaterThan(0);
    const request: FunnelRequest = { date_range: ['2026-05-03', '2026-05-04'] };
    const oracle = (list: typeof steps | { kind: 'pageview'; path: string }[]) =>
      runFunnelOracle(events, list, request, timezone, now);
    expect(await askFunnel(projectId, funnel, request)).toEqual(oracle(steps));

    // A funnel made through the API after the days were rolled: no rows of it yet, counted raw.
    const made = (await call('POST', `/api/projects/${projectId}/funnels`, { name: 'Docs', steps })) as { id: string };
    const docs = [steps[0] as (typeof steps)[number], { kind: 'pageview' as const, path: '/docs' }];
    expect(await askFunnel(projectId, made.id, request)).toEqual(oracle(steps));
    await call('PATCH', `/api/projects/${projectId}/funnels/${made.id}`, { steps: docs });
    expect(await askFunnel(projectId, made.id, request)).toEqual(oracle(docs));
    await rollUpAll(env, now);
    expect(await askFunnel(projectId, made.id, request)).toEqual(oracle(docs));
    expect(await askFunnel(projectId, funnel, request)).toEqual(oracle(steps));

    // Deleting it deletes its rows, daily and hourly.
    const before = await funnelRows(projectId, 'rollups');
    await call('DELETE', `/api/projects/${projectId}/funnels/${made.id}`);
    expect(await funnelRows(projectId, 'rollups')).toBeLessThan(before);
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM rollup_hours WHERE project_id = ? AND value LIKE ?')
      .bind(projectId, `"${made.id}:%`)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it('filtered to one value read their filtered rows once rolled (catalog 5), days rolled before raw', async () => {
    const now = Date.UTC(2026, 4, 10, 12);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const google = (list: RawEvent[]) => list.map((one) => ({ ...one, source: 'Google' }));
    const events = [
      ...google(visitOf('2026-05-07T10:00:00Z', 'a')),
      ...visitOf('2026-05-07T11:00:00Z', 'b'),
      ...google(visitOf('2026-05-08T10:00:00Z', 'c')).slice(0, 1),
    ];
    const projectId = await seed('UTC', events, [], me);
    const funnel = await insertFunnel(projectId, pricingSteps);
    await rollUpAll(env, now);
    const request: FunnelRequest = {
      date_range: ['2026-05-07', '2026-05-08'],
      filters: [['is', 'source', ['Google']]],
    };
    const expected = runFunnelOracle(events, pricingSteps, request, 'UTC', now);
    expect(expected.steps.map((step) => step.visits)).toEqual([2, 1]);
    expect(await askFunnel(projectId, funnel, request)).toEqual(expected);
    // Days rolled at catalog 4 have no filtered funnel rows: read raw (their rows altered here show nothing).
    const alter = (sql: string) =>
      env.DB.prepare(
        `UPDATE pair_rollups SET visits = visits ${sql} WHERE project_id = ? AND dimension ->> '$[2]' = ?`,
      ).bind(projectId, FUNNEL_DIMENSION);
    await env.DB.batch([
      env.DB.prepare('UPDATE rolled_days SET version = 4 WHERE project_id = ?').bind(projectId),
      alter('+ 100'),
    ]);
    const again = { ...request, date_range: ['2026-05-06', '2026-05-08'] } as FunnelRequest;
    expect(await askFunnel(projectId, funnel, again)).toEqual(runFunnelOracle(events, pricingSteps, again, 'UTC', now));
    // At catalog 5 they are what is read: the altered rows show.
    await env.DB.prepare('UPDATE rolled_days SET version = 5 WHERE project_id = ?').bind(projectId).run();
    const third = { ...request, date_range: ['2026-05-05', '2026-05-08'] } as FunnelRequest;
    const answer = (await askFunnel(projectId, funnel, third)) as { steps: { visits: number }[] };
    // Two days of Google rows at step 1 (one visit each, +100 each), one at step 2.
    expect(answer.steps.map((step) => step.visits)).toEqual([202, 101]);
  });

  it('counts days rolled up before funnel rows existed: their older catalog version reads them raw and rolls them again', async () => {
    const now = Date.UTC(2026, 4, 10, 12);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const events = [...visitOf('2026-05-07T10:00:00Z', 'a'), ...visitOf('2026-05-08T10:00:00Z', 'b')];
    const projectId = await seed('UTC', events, [], me);
    const funnel = await insertFunnel(projectId, pricingSteps);
    await rollUpAll(env, now);
    // What code before funnel rows left: the same rollups, no funnel:step row, catalog version 2.
    await env.DB.batch([
      env.DB.prepare('UPDATE rolled_days SET version = 2 WHERE project_id = ?').bind(projectId),
      env.DB.prepare('DELETE FROM rollups WHERE project_id = ? AND dimension = ?').bind(projectId, FUNNEL_DIMENSION),
      env.DB.prepare('DELETE FROM rollup_hours WHERE project_id = ? AND dimension = ?').bind(
        projectId,
        FUNNEL_DIMENSION,
      ),
    ]);
    const request: FunnelRequest = { date_range: ['2026-05-07', '2026-05-08'] };
    const expected = runFunnelOracle(events, pricingSteps, request, 'UTC', now);
    expect(await askFunnel(projectId, funnel, request)).toEqual(expected);
    await rollUpAll(env, now);
    expect(await funnelRows(projectId, 'rollups')).toBeGreaterThan(0);
    expect(await askFunnel(projectId, funnel, request)).toEqual(expected);
  });

  it('keeps the rows of days past retention when a PATCH sends the same steps', async () => {
    const now = Date.UTC(2026, 10, 20, 12);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const old = localDate(now - 40 * DAY, 'UTC');
    const recent = localDate(now - 5 * DAY, 'UTC');
    const at = (day: typeof old) => new Date(dayBounds(day, 'UTC').start + 10 * 3_600_000).toISOString();
    const events = [...visitOf(at(old), 'o1'), ...visitOf(at(recent), 'r1')];
    const projectId = await seed('UTC', events, [], me);
    const patch = await api(`/api/projects/${projectId}`, {
      method: 'PATCH',
      token: me.token,
      body: { retentionDays: 30 },
    });
    expect(patch.status).toBe(200);
    const made = (await call('POST', `/api/projects/${projectId}/funnels`, { name: 'Buy', steps: pricingSteps })) as {
      id: string;
    };
    await rollUpAll(env, now);
    const request: FunnelRequest = {
      date_range: [formatDate(addDays(old, -1)), formatDate(addDays(localDate(now, 'UTC'), -1))],
    };
    const before = await askFunnel(projectId, made.id, request);
    expect(before).toEqual(runFunnelOracle(events, pricingSteps, request, 'UTC', now));
    await purgeExpiredEvents(env, now);
    // Past retention the funnel's rows are the only record of the old day: still 2 visits.
    expect(await askFunnel(projectId, made.id, request)).toEqual(before);
    // An API client saves the funnel with its pricingSteps unchanged (a rename with the full body).
    await call('PATCH', `/api/projects/${projectId}/funnels/${made.id}`, { name: 'Buy it', steps: pricingSteps });
    await rollUpAll(env, now);
    expect(await askFunnel(projectId, made.id, request), 'same pricingSteps, history gone').toEqual(before);
  });
});
