/**
 * `exit_rate` (docs/STATS.md, "Metrics"): an exit page's visits over the pageviews of that page in
 * the same group, raw, from rollups and from a mix, with or without filters and comparisons, equal
 * the oracle; and the API refuses it where it has no meaning.
 */
import { env, exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { purgeExpiredEvents, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, localDate } from '../src/shared/calendar.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario } from './query-oracle-data.ts';
import { ask, event, type Owner, post, seed, signInBeforeAll, signUp } from './query-oracle-harness.ts';

signInBeforeAll();
afterEach(() => {
  vi.useRealTimers();
});

function exportFetch(as: Owner, projectId: string, body: object): Promise<Response> {
  return exports.default.fetch('http://tally.test/api/v1/export', {
    method: 'POST',
    headers: { authorization: `Bearer ${as.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project: projectId, ...body }),
  });
}

/** An exit page breakdown, alone or beside a time or another visit dimension, asking exit_rate. */
const exitShape = fc
  .tuple(queryShape, fc.constantFrom<string[]>([], ['time:day'], ['time:month'], ['source'], ['country']), fc.boolean())
  .map(([shape, others, first]) => ({
    ...shape,
    dimensions: first ? ['exit_page', ...others] : [...others, 'exit_page'],
    goal: { dimension: null, filter: null, conversionRate: null },
    totals: false,
    exitRate: true,
  }));

describe('exit_rate', () => {
  it('equals the oracle raw, rolled up and mixed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, exitShape, async (data, shape) => {
        const query = materialize(shape, data.anchor);
        expect(query.metrics).toContain('exit_rate');
        const expected = runOracle(data.events, query, data);
        const projectId = await seed(data.timezone, data.events);
        expect(await ask(projectId, query), `raw ${JSON.stringify(query)}`).toEqual(expected);
        await rollUpAll(env, Date.now());
        expect(await ask(projectId, query), `rolled up ${JSON.stringify(query)}`).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  }, 180_000);

  it('is refused without an exit_page breakdown, beside page, a goal or an hour, with conversion_rate or totals', async () => {
    const projectId = await seed('UTC', []);
    const bodies = [
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['page'] },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page', 'page'] },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page'], include: { totals: true } },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page', 'event:goal'] },
      // A visit exits in every hour it has events in, but views the page in one: no share.
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['time:hour', 'exit_page'] },
      {
        metrics: ['exit_rate', 'conversion_rate'],
        date_range: '7d',
        dimensions: ['exit_page'],
        filters: [['is', 'event:goal', ['G']]],
      },
    ];
    for (const body of bodies) {
      const res = await post(projectId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (await res.json()) as { error: { code: string; details: { path: unknown[] }[] } };
      expect(error.error.code).toBe('invalid_input');
      expect(error.error.details[0]?.path).toEqual(['metrics']);
    }
  });

  it('pairs exits and pageviews over the same days when a search on exit pages could read rollups', async () => {
    const now = Date.UTC(2026, 10, 20, 12);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const old = localDate(now - 40 * DAY, 'UTC');
    const recent = localDate(now - 5 * DAY, 'UTC');
    const at = (day: typeof old, hour: number) =>
      new Date(dayBounds(day, 'UTC').start + hour * 3_600_000).toISOString();
    // Each visit exits at /pricing after one view of it.
    const events = [...visit(at(old, 10), 'o1'), ...visit(at(old, 11), 'o2'), ...visit(at(recent, 10), 'r1')];
    const projectId = await seed('UTC', events);
    await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
    await rollUpAll(env, now);
    const query: OracleQuery = {
      metrics: ['visits', 'exit_rate'],
      date_range: [formatDate(addDays(old, -1)), formatDate(addDays(localDate(now, 'UTC'), -1))],
      dimensions: ['exit_page'],
      // A detail view's search on the Exit tab: all filters on the breakdown's own dimension.
      filters: [['contains', 'exit_page', ['pric']]],
    };
    const before = (await ask(projectId, query)) as { results: { metrics: number[] }[] };
    expect(before.results[0]?.metrics).toEqual([3, 100]);
    await purgeExpiredEvents(env, now);
    // Both halves raw over what is left (and the answer says the purged days are unavailable).
    const after = (await ask(projectId, query)) as {
      results: { metrics: number[] }[];
      meta: { unavailable?: unknown[] };
    };
    expect(after.results[0]?.metrics).toEqual([1, 100]);
    expect(after.meta.unavailable?.length).toBeGreaterThan(0);
  });

  it('comes with an export filtered by a goal, whose exit pages file asks it', async () => {
    const goals = [
      {
        name: 'Signup',
        kind: 'event' as const,
        path: null,
        event_name: 'signup',
        property_key: null,
        property_value: null,
      },
    ];
    const me = await signUp();
    const projectId = await seed('UTC', [event('2026-05-07T10:00:00Z', { name: 'signup' })], goals, me);
    const res = await exportFetch(me, projectId, {
      date_range: ['2026-05-07', '2026-05-07'],
      filters: [['is', 'event:goal', ['Signup']]],
    });
    expect(res.status, await res.clone().text()).toBe(200);
  });
});

const DAY = 86_400_000;

/** A visit: a pageview of `/`, then one of `/pricing` a minute later. */
const visit = (iso: string, id: string): RawEvent[] => [
  event(iso, { session_id: id, visitor_id: id, seq: 1, path: '/' }),
  event(new Date(Date.parse(iso) + 60_000).toISOString(), {
    session_id: id,
    visitor_id: id,
    seq: 2,
    path: '/pricing',
    is_entry: false,
  }),
];
