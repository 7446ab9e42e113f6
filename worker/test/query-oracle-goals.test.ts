/**
 * Goals in `POST /api/v1/query` (docs/STATS.md, "Goals and funnels"): the `event:goal` dimension
 * and filter and `conversion_rate`, on examples small enough to check by hand, in the oracle and
 * the API alike; the requests the API must refuse; and a self-check of the oracle. The random
 * queries of query-oracle.test.ts use goals too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectError } from './helpers.ts';
import { type Filter, type OracleQuery, runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario, WINDOW } from './query-oracle-data.ts';
import { type OracleGoal, usedGoalShape } from './query-oracle-goals.ts';
import { ask, event, expectAnswers, post, row, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

const date_range = ['2026-03-10', '2026-03-10'] as const;
const pageviewGoal = (name: string, path: string): OracleGoal => ({
  name,
  kind: 'pageview',
  path,
  event_name: null,
  property_key: null,
  property_value: null,
});
const eventGoal = (name: string, eventName: string, property: [string, string] | null = null): OracleGoal => ({
  name,
  kind: 'event',
  path: null,
  event_name: eventName,
  property_key: property?.[0] ?? null,
  property_value: property?.[1] ?? null,
});

describe('goals in queries, checked by hand', () => {
  it('match `*` within one path segment and `**` across them', async () => {
    const goals = [pageviewGoal('Visit /b/*', '/b/*'), pageviewGoal('B tree', '/b/**')];
    const events = [
      event('2026-03-10T09:00:00Z', { path: '/b/c' }),
      event('2026-03-10T09:01:00Z', { seq: 2, path: '/b/c/d' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/b/c/d' }),
      event('2026-03-10T11:00:00Z', { visitor_id: 'vc', session_id: 'sc', path: '/b' }),
    ];
    await expectAnswers(
      'UTC',
      events,
      [
        [
          { metrics: ['visitors', 'events', 'conversion_rate'], date_range, dimensions: ['event:goal'] },
          { results: [row(['B tree'], [2, 3, 66.67]), row(['Visit /b/*'], [1, 1, 33.33])], meta: {} },
        ],
        [
          {
            metrics: ['pageviews', 'visits', 'conversion_rate'],
            date_range,
            filters: [['is', 'event:goal', ['Visit /b/*']]],
          },
          { results: [row([], [1, 1, 33.33])], meta: {} },
        ],
        // The goal picks its events; the page dimension then splits them.
        [
          { metrics: ['events'], date_range, dimensions: ['page'], filters: [['is', 'event:goal', ['B tree']]] },
          { results: [row(['/b/c/d'], [2]), row(['/b/c'], [1])], meta: {} },
        ],
      ],
      { goals },
    );
  });

  it('take `_`, `%` and a `*` before a slash literally', async () => {
    const goals = [pageviewGoal('Underscore', '/b_c'), pageviewGoal('Percent', '/caf%'), pageviewGoal('Top', '/*')];
    const events = [
      event('2026-03-10T09:00:00Z'),
      event('2026-03-10T09:01:00Z', { seq: 2, path: '/b/c' }),
      event('2026-03-10T09:02:00Z', { seq: 3, path: '/caf%C3%A9' }),
    ];
    await expectAnswers(
      'UTC',
      events,
      [
        [
          { metrics: ['events'], date_range, dimensions: ['event:goal'] },
          { results: [row(['Top'], [2])], meta: {} },
        ],
        [
          {
            metrics: ['events', 'conversion_rate'],
            date_range,
            filters: [['is', 'event:goal', ['Underscore', 'Percent']]],
          },
          { results: [row([], [0, 0])], meta: {} },
        ],
      ],
      { goals },
    );
  });

  it('match an event goal by its property, and count an event in every goal it completes', async () => {
    const goals = [
      eventGoal('Signup', 'signup'),
      eventGoal('pro plan', 'signup', ['plan', 'pro']),
      eventGoal('One', 'signup', ['n', '1']),
      eventGoal('Dark', 'click', ['ui.theme', 'dark']),
    ];
    const events = [
      event('2026-03-10T09:00:00Z'),
      event('2026-03-10T09:01:00Z', { seq: 2, name: 'signup', props: '{"plan":"pro"}' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', name: 'signup', props: '{"plan":"free"}' }),
      event('2026-03-10T11:00:00Z', { visitor_id: 'vc', session_id: 'sc', name: 'click', props: '{"plan":"pro"}' }),
      // A number property matches the goal's text `1`; the key with a dot is a key, not a path.
      event('2026-03-10T12:00:00Z', { visitor_id: 'vd', session_id: 'sd', name: 'signup', props: '{"n":1}' }),
      event('2026-03-10T12:01:00Z', {
        visitor_id: 'vd',
        session_id: 'sd',
        seq: 2,
        name: 'click',
        props: '{"ui.theme":"dark"}',
      }),
    ];
    await expectAnswers(
      'UTC',
      events,
      [
        [
          { metrics: ['visitors', 'events', 'conversion_rate'], date_range, dimensions: ['event:goal'] },
          {
            results: [
              row(['Signup'], [3, 3, 75]),
              row(['Dark'], [1, 1, 25]),
              row(['One'], [1, 1, 25]),
              row(['pro plan'], [1, 1, 25]),
            ],
            meta: {},
          },
        ],
        // Any of the named goals: va's signup completes both but counts once.
        [
          { metrics: ['events', 'visitors'], date_range, filters: [['is', 'event:goal', ['pro plan', 'Signup']]] },
          { results: [row([], [3, 3])], meta: {} },
        ],
        [
          { metrics: ['events'], date_range, filters: [['is', 'event:goal', ['No such goal']]] },
          { results: [row([], [0])], meta: {} },
        ],
      ],
      { goals },
    );
  });

  it('answer for more goals than one raw statement holds, filtered (raw) or not', async () => {
    // 25 goals: property goals bind three parameters each, so they take several statements.
    const goals = [
      ...Array.from({ length: 12 }, (_, i) => eventGoal(`plan ${i}`, 'signup', ['plan', `p${i}`])),
      ...Array.from({ length: 8 }, (_, i) => pageviewGoal(`page ${i}`, `/p${i}*`)),
      ...['signup', 'click', 'download', 'share', 'buy'].map((name) => eventGoal(`event ${name}`, name)),
    ];
    const events = Array.from({ length: 40 }, (_, i) =>
      event(`2026-03-10T${String(8 + (i % 12)).padStart(2, '0')}:${String(i).padStart(2, '0')}:00Z`, {
        visitor_id: `v${i % 9}`,
        session_id: `s${i % 13}`,
        seq: 1 + Math.floor(i / 13),
        name: i % 3 ? 'pageview' : i % 2 ? 'signup' : 'click',
        path: `/p${i % 8}${i % 5 ? '' : '/x'}`,
        props: i % 3 ? null : `{"plan":"p${i % 12}"}`,
      }),
    );
    const queries: OracleQuery[] = [
      { metrics: ['visitors', 'visits', 'events', 'conversion_rate'], date_range, dimensions: ['event:goal'] },
      {
        metrics: ['visitors', 'events', 'conversion_rate'],
        date_range,
        dimensions: ['event:goal'],
        filters: [['is_not', 'country', ['XX']]],
      },
    ];
    const projectId = await seed('UTC', events, goals);
    for (const query of queries) {
      const expected = runOracle(events, query, { timezone: 'UTC', goals });
      expect((expected as { results: unknown[] }).results.length).toBeGreaterThan(10);
      expect(await ask(projectId, query), JSON.stringify(query)).toEqual(expected);
    }
  });

  it('convert at 50% when one of two visitors converts, within the same group', async () => {
    const goals = [eventGoal('Signup', 'signup')];
    const events = [
      event('2026-03-10T09:00:00Z'),
      event('2026-03-10T09:01:00Z', { seq: 2, name: 'signup' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
      event('2026-03-10T11:00:00Z', { visitor_id: 'vc', session_id: 'sc', country: 'US' }),
      event('2026-03-10T11:01:00Z', { visitor_id: 'vc', session_id: 'sc', seq: 2, path: '/a', country: 'US' }),
    ];
    await expectAnswers(
      'UTC',
      events,
      [
        [
          { metrics: ['visitors', 'conversion_rate'], date_range, filters: [['is', 'event:goal', ['Signup']]] },
          { results: [row([], [1, 33.33])], meta: {} },
        ],
        // Of DE's two visitors one converts; US has no conversion and so no group.
        [
          {
            metrics: ['conversion_rate', 'visitors'],
            date_range,
            dimensions: ['country'],
            filters: [['is', 'event:goal', ['Signup']]],
          },
          { results: [row(['DE'], [50, 1])], meta: {} },
        ],
        [
          {
            metrics: ['conversion_rate'],
            date_range,
            dimensions: ['event:goal', 'country'],
            filters: [['is', 'country', ['DE']]],
          },
          { results: [row(['Signup', 'DE'], [50])], meta: {} },
        ],
      ],
      { goals },
    );
  });

  it("use the project's own goals, by their exact names", async () => {
    const events = [
      event('2026-03-10T09:00:00Z', { path: '/a' }),
      event('2026-03-10T09:01:00Z', { seq: 2, name: 'signup' }),
    ];
    const query: OracleQuery = { metrics: ['events'], date_range, dimensions: ['event:goal'] };
    // Two projects with a goal of the same name and different definitions.
    await expectAnswers('UTC', events, [[query, { results: [row(['Signup'], [1])], meta: {} }]], {
      goals: [eventGoal('Signup', 'signup')],
    });
    await expectAnswers(
      'UTC',
      events,
      [
        [query, { results: [row(['Signup'], [1])], meta: {} }],
        [
          { ...query, dimensions: [], filters: [['is', 'event:goal', ['SIGNUP', 'signup']]] },
          { results: [row([], [0])], meta: {} },
        ],
      ],
      { goals: [pageviewGoal('Signup', '/a')] },
    );
  });

  it('apply two goal filters together, like any two filters', async () => {
    const goals = [pageviewGoal('Top', '/*'), pageviewGoal('B tree', '/b/**')];
    const events = [
      event('2026-03-10T09:00:00Z', { path: '/a' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/b/c' }),
    ];
    const both = (first: string[], second: string[]): OracleQuery['filters'] => [
      ['is', 'event:goal', first],
      ['is', 'event:goal', second],
    ];
    const metrics: OracleQuery['metrics'] = ['events', 'conversion_rate'];
    await expectAnswers(
      'UTC',
      events,
      [
        // No event is both on a top-level page and under /b/.
        [
          { metrics, date_range, filters: both(['Top'], ['B tree']) },
          { results: [row([], [0, 0])], meta: {} },
        ],
        [
          { metrics, date_range, dimensions: ['event:goal'], filters: both(['B tree'], ['Top']) },
          { results: [], meta: {} },
        ],
        [
          { metrics, date_range, filters: both(['Top'], ['Top', 'B tree']) },
          { results: [row([], [1, 50])], meta: {} },
        ],
      ],
      { goals },
    );
  });

  it('look at the whole visits that have a goal event for session metrics', async () => {
    const goals = [eventGoal('Signup', 'signup'), pageviewGoal('Home', '/')];
    const events = [
      event('2026-03-10T12:00:00Z'),
      event('2026-03-10T12:01:30Z', { seq: 2, name: 'signup' }),
      event('2026-03-10T13:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
    ];
    await expectAnswers(
      'UTC',
      events,
      [
        [
          {
            metrics: ['visits', 'bounce_rate', 'visit_duration', 'pageviews', 'views_per_visit'],
            date_range,
            dimensions: ['event:goal'],
          },
          { results: [row(['Home'], [2, 50, 45, 2, 1]), row(['Signup'], [1, 0, 90, 0, 0])], meta: {} },
        ],
      ],
      { goals },
    );
  });
});

describe('goals in queries the API refuses', () => {
  it('answer 400 to conversion_rate without a goal, and to event:goal with another operator', async () => {
    const projectId = await seed('UTC', [event('2026-03-10T09:00:00Z')], [eventGoal('Signup', 'signup')]);
    const refused: unknown[] = [
      { metrics: ['conversion_rate'], date_range },
      { metrics: ['visitors', 'conversion_rate'], date_range, dimensions: ['page'], filters: [['is', 'page', ['/']]] },
      ...(['is_not', 'contains', 'matches'] as const).map((operator) => ({
        metrics: ['visitors'],
        date_range,
        filters: [[operator, 'event:goal', ['Signup']]],
      })),
    ];
    for (const query of refused) {
      const res = await post(projectId, query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      await expectError(res, 400, 'invalid_input');
    }
  });
});

describe('goals in queries against the oracle', () => {
  it('give a goal group the numbers of a filter on that goal (oracle self-check, property)', () => {
    fc.assert(
      fc.property(scenario, queryShape, (data, shape) => {
        const names = data.goals.map((goal) => goal.name);
        const base = materialize(
          { ...shape, dimensions: [], goal: { dimension: 0, filter: null, conversionRate: 0 }, orderBy: null },
          data.anchor,
          names,
        );
        const query: OracleQuery = { ...base, limit: 100, page: 1, include: {} };
        for (const result of runOracle(data.events, query, data).results) {
          const goal: Filter = ['is', 'event:goal', result.dimensions];
          const filtered: OracleQuery = { ...query, dimensions: [], filters: [...(query.filters ?? []), goal] };
          const [alone] = runOracle(data.events, filtered, data).results;
          expect(alone?.metrics, JSON.stringify(filtered)).toEqual(result.metrics);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('equal the oracle for random queries that use goals (property)', async () => {
    // Every query uses goals, and half of them the whole window, so that goal groups seldom come out empty.
    const whole = { from: WINDOW.first, days: WINDOW.last - WINDOW.first + 1 };
    const shapes = fc
      .tuple(queryShape, usedGoalShape, fc.boolean())
      .map(([shape, goal, wide]) => ({ ...shape, goal, range: wide ? whole : shape.range }));
    await fc.assert(
      fc.asyncProperty(scenario, shapes, async (data, shape) => {
        const query = materialize(
          shape,
          data.anchor,
          data.goals.map((goal) => goal.name),
        );
        const projectId = await seed(data.timezone, data.events, data.goals);
        const answer = await ask(projectId, query);
        expect(answer, JSON.stringify({ goals: data.goals, query })).toEqual(runOracle(data.events, query, data));
      }),
      { numRuns: 50 },
    );
  }, 120_000);
});
