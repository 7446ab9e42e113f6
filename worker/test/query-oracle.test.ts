/**
 * `POST /api/v1/query` against the oracle of test/query-oracle.ts: random event sets around DST
 * changes in five zones, written straight to D1, and random queries, answered by the real Worker
 * and by a brute-force count that follows docs/STATS.md. A handful of examples small enough to
 * check by hand come first, and hold the oracle and the API to the same numbers.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type OracleQuery, runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario } from './query-oracle-data.ts';
import { ask, event, expectAnswers, row, seed, signInBeforeAll, signUp } from './query-oracle-harness.ts';

signInBeforeAll();

describe('query results, checked by hand', () => {
  it('have 23 hour buckets on the spring-forward day in Berlin', async () => {
    // 01:30 CET is 00:30 UTC; at 01:00 UTC clocks jump from 02:00 to 03:00; 10:00 CEST is 08:00 UTC.
    const events = [
      event('2026-03-29T00:30:00Z'),
      event('2026-03-29T08:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
    ];
    const hours = [0, 1, ...Array.from({ length: 21 }, (_, index) => index + 3)];
    await expectAnswers('Europe/Berlin', events, [
      [
        {
          metrics: ['pageviews'],
          date_range: ['2026-03-29', '2026-03-29'],
          dimensions: ['time:hour'],
          include: { time_labels: true },
        },
        {
          results: [row(['2026-03-29 01:00'], [1]), row(['2026-03-29 10:00'], [1])],
          meta: { time_labels: hours.map((hour) => `2026-03-29 ${String(hour).padStart(2, '0')}:00`) },
        },
      ],
    ]);
    expect(hours).toHaveLength(23);
  });

  it('count someone browsing across local midnight as one visit and one visitor on each day', async () => {
    // New York is UTC−5 on 7 March: 23:50 and 00:10 local. The ProjectDO ends visits at local
    // midnight, so the two events are two visits (the visitor id is kept across UTC midnight only).
    const events = [
      event('2026-03-08T04:50:00Z'),
      event('2026-03-08T05:10:00Z', { session_id: 'sa2', seq: 1 }),
      event('2026-03-08T05:15:00Z', { session_id: 'sa2', seq: 2 }),
    ];
    const metrics: OracleQuery['metrics'] = ['visitors', 'visits', 'pageviews', 'visit_duration'];
    const date_range = ['2026-03-07', '2026-03-08'] as const;
    await expectAnswers('America/New_York', events, [
      [
        { metrics, date_range },
        { results: [row([], [2, 2, 3, 150])], meta: {} },
      ],
      [
        { metrics, date_range, dimensions: ['time:day'] },
        { results: [row(['2026-03-07'], [1, 1, 1, 0]), row(['2026-03-08'], [1, 1, 2, 300])], meta: {} },
      ],
    ]);
  });

  it('do not count a visit with one pageview and one custom event as a bounce', async () => {
    const events = [
      event('2026-03-10T12:00:00Z'),
      event('2026-03-10T12:01:30Z', { seq: 2, name: 'signup' }),
      event('2026-03-10T13:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/a' }),
    ];
    const metrics: OracleQuery['metrics'] = ['visits', 'bounce_rate', 'views_per_visit', 'visit_duration'];
    const date_range = ['2026-03-10', '2026-03-10'] as const;
    await expectAnswers('UTC', events, [
      [
        { metrics, date_range },
        { results: [row([], [2, 50, 1, 45])], meta: {} },
      ],
      // The signup alone is E; its visit is still looked at whole.
      [
        { metrics, date_range, filters: [['is', 'event:name', ['signup']]] },
        { results: [row([], [1, 0, 0, 90])], meta: {} },
      ],
    ]);
  });

  it('take visit dimensions from the entry and filter whole visits by them', async () => {
    const events = [
      event('2026-03-10T09:00:00Z', { source: 'Google', referrer: 'https://www.google.com/' }),
      event('2026-03-10T09:05:00Z', { seq: 2, path: '/a', country: 'US' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/a', country: 'US' }),
    ];
    const date_range = ['2026-03-10', '2026-03-10'] as const;
    const metrics: OracleQuery['metrics'] = ['visits', 'pageviews'];
    await expectAnswers('UTC', events, [
      [
        { metrics, date_range, dimensions: ['source'] },
        { results: [row(['Google'], [1, 2]), row([null], [1, 1])], meta: {} },
      ],
      [
        { metrics: ['pageviews'], date_range, dimensions: ['country'] },
        { results: [row(['DE'], [2]), row(['US'], [1])], meta: {} },
      ],
      [
        { metrics, date_range, filters: [['is', 'source', [null]]] },
        { results: [row([], [1, 1])], meta: {} },
      ],
      [
        { metrics, date_range, filters: [['is_not', 'source', ['Google']]] },
        { results: [row([], [1, 1])], meta: {} },
      ],
      [
        { metrics, date_range, filters: [['contains', 'source', ['oo']]] },
        { results: [row([], [1, 2])], meta: {} },
      ],
      [
        // A missing source contains nothing, so it is kept — unless `null` is listed, as with is_not.
        { metrics, date_range, filters: [['does_not_contain', 'source', ['oo']]] },
        { results: [row([], [1, 1])], meta: {} },
      ],
      [
        { metrics, date_range, filters: [['does_not_contain', 'source', ['oo', null]]] },
        { results: [row([], [0, 0])], meta: {} },
      ],
      [
        { metrics, date_range, dimensions: ['entry_page'], filters: [['is', 'page', ['/a']]] },
        { results: [row(['/'], [1, 1]), row(['/a'], [1, 1])], meta: {} },
      ],
      [
        { metrics: ['visits'], date_range, dimensions: ['exit_page'] },
        { results: [row(['/a'], [2])], meta: {} },
      ],
    ]);
  });

  it('give a visit without pageviews no exit page (null), and take the exit from the last pageview', async () => {
    const events = [
      event('2026-03-10T09:00:00Z'),
      event('2026-03-10T09:05:00Z', { seq: 2, path: '/a' }),
      // Custom events only: no pageview, so no exit page (not the custom event's path).
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', name: 'signup', path: '/pricing' }),
      // A custom event after the last pageview leaves the exit at that pageview.
      event('2026-03-10T11:00:00Z', { visitor_id: 'vc', session_id: 'sc', path: '/b' }),
      event('2026-03-10T11:01:00Z', { visitor_id: 'vc', session_id: 'sc', seq: 2, name: 'click', path: '/c' }),
    ];
    const date_range = ['2026-03-10', '2026-03-10'] as const;
    await expectAnswers('UTC', events, [
      [
        { metrics: ['visits', 'events'], date_range, dimensions: ['exit_page'] },
        { results: [row(['/a'], [1, 2]), row(['/b'], [1, 2]), row([null], [1, 1])], meta: {} },
      ],
      [
        { metrics: ['visits', 'events'], date_range, filters: [['is', 'exit_page', [null]]] },
        { results: [row([], [1, 1])], meta: {} },
      ],
      [
        { metrics: ['visits'], date_range, filters: [['is_not', 'exit_page', [null]]] },
        { results: [row([], [2])], meta: {} },
      ],
    ]);
  });

  it('take entry and exit by time, not by arrival (seq), and break ties of time by seq', async () => {
    const events = [
      // The later event arrived first: seq 1 at 09:10, seq 2 at 09:00.
      event('2026-03-10T09:10:00Z', { path: '/late' }),
      event('2026-03-10T09:00:00Z', {
        seq: 2,
        path: '/early',
        source: 'Google',
        referrer: 'https://www.google.com/',
      }),
      // Two events at the same instant: the first to arrive is the entry, the second the exit.
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', path: '/first' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb', seq: 2, path: '/second' }),
    ];
    const date_range = ['2026-03-10', '2026-03-10'] as const;
    await expectAnswers('UTC', events, [
      [
        { metrics: ['visits'], date_range, dimensions: ['entry_page'] },
        { results: [row(['/early'], [1]), row(['/first'], [1])], meta: {} },
      ],
      [
        { metrics: ['visits'], date_range, dimensions: ['exit_page'] },
        { results: [row(['/late'], [1]), row(['/second'], [1])], meta: {} },
      ],
      [
        { metrics: ['visits', 'visit_duration'], date_range, dimensions: ['source'] },
        { results: [row(['Google'], [1, 600]), row([null], [1, 0])], meta: {} },
      ],
      [
        { metrics: ['visits'], date_range, filters: [['is', 'entry_page', ['/early']]] },
        { results: [row([], [1])], meta: {} },
      ],
    ]);
  });

  it('answer a query without dimensions with one result, zeros when nothing matches', async () => {
    const events = [event('2026-03-10T09:00:00Z', { source: 'Google', referrer: 'https://www.google.com/' })];
    const metrics: OracleQuery['metrics'] = ['visits', 'pageviews', 'bounce_rate'];
    await expectAnswers('UTC', events, [
      // contains is case-sensitive: nothing matches.
      [
        { metrics, date_range: ['2026-03-10', '2026-03-10'], filters: [['contains', 'source', ['OO']]] },
        { results: [row([], [0, 0, 0])], meta: {} },
      ],
      [
        { metrics, date_range: ['2026-03-11', '2026-03-11'], include: { compare: 'previous_period', totals: true } },
        {
          results: [{ ...row([], [0, 0, 0]), comparison: { metrics: [1, 1, 100] } }],
          meta: { totals: [0, 0, 0], comparison_totals: [1, 1, 100] },
        },
      ],
    ]);
  });

  it('list a missing value last, in either direction', async () => {
    const events = [
      event('2026-03-10T09:00:00Z', { source: 'Google', referrer: 'https://www.google.com/' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
      event('2026-03-10T11:00:00Z', {
        visitor_id: 'vc',
        session_id: 'sc',
        source: 'news',
        referrer: 'https://news.example.org/',
      }),
    ];
    const query = (direction: 'asc' | 'desc'): OracleQuery => ({
      metrics: ['visitors'],
      date_range: ['2026-03-10', '2026-03-10'],
      dimensions: ['source'],
      order_by: [['source', direction]],
    });
    await expectAnswers('UTC', events, [
      [query('asc'), { results: [row(['Google'], [1]), row(['news'], [1]), row([null], [1])], meta: {} }],
      [query('desc'), { results: [row(['news'], [1]), row(['Google'], [1]), row([null], [1])], meta: {} }],
    ]);
  });

  it('find the entry of a visit that began before the range within the range', async () => {
    const events = [
      event('2026-03-09T23:50:00Z', { source: 'Google', referrer: 'https://www.google.com/' }),
      event('2026-03-10T00:05:00Z', { seq: 2, path: '/a' }),
    ];
    await expectAnswers('UTC', events, [
      [
        {
          metrics: ['visits', 'bounce_rate', 'visit_duration'],
          date_range: ['2026-03-10', '2026-03-10'],
          dimensions: ['entry_page', 'source'],
        },
        { results: [row(['/a', null], [1, 100, 0])], meta: {} },
      ],
    ]);
  });

  it('read properties as text, numbers and booleans as JSON', async () => {
    const events = [
      event('2026-03-10T09:00:00Z', { name: 'signup', props: '{"plan":"pro","n":1,"flag":true}' }),
      event('2026-03-10T09:01:00Z', { seq: 2 }),
      event('2026-03-10T09:02:00Z', { seq: 3, name: 'click', props: '{"plan":"free"}' }),
    ];
    const date_range = ['2026-03-10', '2026-03-10'] as const;
    await expectAnswers('UTC', events, [
      [
        { metrics: ['events'], date_range, dimensions: ['event:props:n'] },
        { results: [row([null], [2]), row(['1'], [1])], meta: {} },
      ],
      [
        { metrics: ['events'], date_range, filters: [['is', 'event:props:flag', ['true']]] },
        { results: [row([], [1])], meta: {} },
      ],
      [
        { metrics: ['events'], date_range, filters: [['is_not', 'event:props:plan', [null]]] },
        { results: [row([], [2])], meta: {} },
      ],
      [
        { metrics: ['events'], date_range, filters: [['matches', 'event:props:plan', ['?r*']]] },
        { results: [row([], [2])], meta: {} },
      ],
    ]);
  });

  it('compare time buckets by position with the previous period', async () => {
    const events = [
      event('2026-03-10T10:00:00Z'),
      event('2026-03-10T11:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
      event('2026-03-08T10:00:00Z', { visitor_id: 'vc', session_id: 'sc' }),
      event('2026-03-09T08:00:00Z', { visitor_id: 'vd', session_id: 'sd' }),
    ];
    await expectAnswers('UTC', events, [
      [
        {
          metrics: ['visitors'],
          date_range: ['2026-03-10', '2026-03-11'],
          dimensions: ['time:day'],
          include: { compare: 'previous_period', totals: true, time_labels: true },
        },
        {
          results: [{ ...row(['2026-03-10'], [2]), comparison: { metrics: [1] } }],
          meta: { totals: [2], time_labels: ['2026-03-10', '2026-03-11'], comparison_totals: [2] },
        },
      ],
    ]);
  });

  it('resolve presets at the pinned clock the Worker shares', async () => {
    // Monday 30 March 2026, 12:00 in Berlin: yesterday is the 23-hour spring-forward day; 7d is
    // 24–30 March; its previous period is 17–23 March.
    vi.setSystemTime(Date.parse('2026-03-30T10:00:00Z'));
    try {
      // Signed in at the pinned time, so that the token is valid at it.
      const pinned = await signUp();
      const events = [
        event('2026-03-29T00:30:00Z'),
        event('2026-03-29T08:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
        event('2026-03-30T09:00:00Z', { visitor_id: 'vc', session_id: 'sc' }),
        event('2026-03-22T12:00:00Z', { visitor_id: 'vd', session_id: 'sd' }),
      ];
      const hours = [0, 1, ...Array.from({ length: 21 }, (_, index) => index + 3)];
      await expectAnswers(
        'Europe/Berlin',
        events,
        [
          [
            {
              metrics: ['visitors'],
              date_range: 'yesterday',
              dimensions: ['time:hour'],
              include: { time_labels: true },
            },
            {
              results: [row(['2026-03-29 01:00'], [1]), row(['2026-03-29 10:00'], [1])],
              meta: { time_labels: hours.map((hour) => `2026-03-29 ${String(hour).padStart(2, '0')}:00`) },
            },
          ],
          [
            {
              metrics: ['visitors', 'pageviews'],
              date_range: '7d',
              include: { compare: 'previous_period', totals: true },
            },
            {
              results: [{ ...row([], [3, 3]), comparison: { metrics: [1, 1] } }],
              meta: { totals: [3, 3], comparison_totals: [1, 1] },
            },
          ],
        ],
        { as: pinned },
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('label weeks by their Monday, also when the range clips them', async () => {
    // 26 March is in the week of Monday 23 March (clipped to the 25th); 1 April in the week of the 30th.
    const events = [
      event('2026-03-26T11:00:00Z'),
      event('2026-04-01T10:00:00Z', { visitor_id: 'vb', session_id: 'sb' }),
    ];
    await expectAnswers('Europe/Berlin', events, [
      [
        {
          metrics: ['visitors'],
          date_range: ['2026-03-25', '2026-04-02'],
          dimensions: ['time:week'],
          include: { time_labels: true },
        },
        {
          results: [row(['2026-03-23'], [1]), row(['2026-03-30'], [1])],
          meta: { time_labels: ['2026-03-23', '2026-03-30'] },
        },
      ],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Random events, random queries

describe('query results against the oracle', () => {
  it('add up: groups of an event dimension sum to the totals (oracle self-check, property)', () => {
    fc.assert(
      fc.property(scenario, queryShape, fc.constantFrom('page', 'event:name', 'hostname'), (data, shape, dimension) => {
        const query = {
          // A goal filter narrows E, but a goal dimension would count an event once per goal.
          ...materialize(
            { ...shape, dimensions: [dimension], goal: { ...shape.goal, dimension: null }, limit: null, page: null },
            data.anchor,
            data.goals.map((goal) => goal.name),
          ),
          metrics: ['pageviews', 'events'] as OracleQuery['metrics'],
          include: { totals: true },
        };
        const { results, meta } = runOracle(data.events, query, data);
        const sum = (index: number) => results.reduce((total, result) => total + (result.metrics[index] as number), 0);
        expect([sum(0), sum(1)]).toEqual(meta.totals);
      }),
      { numRuns: 200 },
    );
  });

  it('equal the oracle for random events and queries (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, queryShape, async (data, shape) => {
        const query = materialize(
          shape,
          data.anchor,
          data.goals.map((goal) => goal.name),
        );
        const projectId = await seed(data.timezone, data.events, data.goals);
        const answer = await ask(projectId, query);
        expect(answer, JSON.stringify(query)).toEqual(runOracle(data.events, query, data));
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
