/**
 * Funnels in `POST /api/v1/funnel` (docs/STATS.md, "Goals and funnels"): examples small enough to
 * check by hand, in the oracle and the API alike; the requests the API must refuse; and random
 * funnels over random visits against the oracle of test/query-oracle-funnels.ts.
 */
import { exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GoalStep } from '../src/stats/goal-matching.ts';
import { addDays, formatDate, type LocalDate, parseDate } from '../src/shared/calendar.ts';
import { expectError } from './helpers.ts';
import type { Filter, RawEvent } from './query-oracle.ts';
import { POOLS, scenario, WINDOW } from './query-oracle-data.ts';
import {
  type FunnelRequest,
  type FunnelResponse,
  funnelSteps,
  insertFunnel,
  runFunnelOracle,
} from './query-oracle-funnels.ts';
import { event, type Owner, seed, signUp } from './query-oracle-harness.ts';

let me: Owner;
beforeAll(async () => {
  me = await signUp();
});

/** Post a funnel request (without `project`) to the real Worker. */
function postFunnel(projectId: string, body: unknown): Promise<Response> {
  return exports.default.fetch('http://tally.test/api/v1/funnel', {
    method: 'POST',
    headers: { authorization: `Bearer ${me.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project: projectId, ...(body as object) }),
  });
}

async function askFunnel(projectId: string, body: unknown): Promise<unknown> {
  const res = await postFunnel(projectId, body);
  const text = await res.text();
  expect(res.status, `${JSON.stringify(body)} → ${text}`).toBe(200);
  return JSON.parse(text);
}

/** The oracle must give the hand-counted answer, and so must the API. */
async function expectFunnel(
  events: RawEvent[],
  steps: GoalStep[],
  cases: [FunnelRequest, FunnelResponse][],
): Promise<void> {
  for (const [request, expected] of cases) {
    expect(runFunnelOracle(events, steps, request, 'UTC'), JSON.stringify(request)).toEqual(expected);
  }
  const projectId = await seed('UTC', events, [], me);
  const funnel = await insertFunnel(projectId, steps);
  for (const [request, expected] of cases) {
    expect(await askFunnel(projectId, { funnel, ...request }), JSON.stringify(request)).toEqual(expected);
  }
}

const date_range = ['2026-03-10', '2026-03-10'] as const;
const page = (path: string): GoalStep => ({ kind: 'pageview', path });
const step = (name: string, visits: number, conversion_rate: number, drop_off: number) => ({
  name,
  visits,
  conversion_rate,
  drop_off,
});
/** A visit of its own: events one minute apart, seq from 1. */
const visit = (id: string, start: string, parts: Partial<RawEvent>[]): RawEvent[] =>
  parts.map((fields, index) =>
    event(new Date(Date.parse(start) + index * 60_000).toISOString(), {
      visitor_id: `v${id}`,
      session_id: `s${id}`,
      seq: index + 1,
      ...fields,
    }),
  );

describe('funnels, checked by hand', () => {
  it('take the steps in order: /a then /b reaches step 2, /b then /a does not', async () => {
    const events = [
      ...visit('1', '2026-03-10T09:00:00Z', [{ path: '/a' }, { path: '/b' }]),
      ...visit('2', '2026-03-10T10:00:00Z', [{ path: '/b' }, { path: '/a' }]),
    ];
    await expectFunnel(
      events,
      [page('/a'), page('/b')],
      [[{ date_range }, { steps: [step('Visit /a', 2, 100, 0), step('Visit /b', 1, 50, 1)] }]],
    );
  });

  it('take the steps in time order, not in arrival order (seq), and break ties of time by seq', async () => {
    const events = [
      // /b arrived first (seq 1) but happened later: /a then /b.
      event('2026-03-10T09:05:00Z', { visitor_id: 'v1', session_id: 's1', seq: 1, path: '/b' }),
      event('2026-03-10T09:00:00Z', { visitor_id: 'v1', session_id: 's1', seq: 2, path: '/a' }),
      // The same instant: arrival decides, /b then /a.
      event('2026-03-10T10:00:00Z', { visitor_id: 'v2', session_id: 's2', seq: 1, path: '/b' }),
      event('2026-03-10T10:00:00Z', { visitor_id: 'v2', session_id: 's2', seq: 2, path: '/a' }),
    ];
    await expectFunnel(
      events,
      [page('/a'), page('/b')],
      [[{ date_range }, { steps: [step('Visit /a', 2, 100, 0), step('Visit /b', 1, 50, 1)] }]],
    );
  });

  it('let one event complete at most one of two identical steps', async () => {
    const events = [
      ...visit('1', '2026-03-10T09:00:00Z', [{ path: '/a' }]),
      ...visit('2', '2026-03-10T10:00:00Z', [{ path: '/a' }, { path: '/b' }, { path: '/a' }]),
      ...visit('3', '2026-03-10T11:00:00Z', [{ path: '/a' }, { name: 'signup', path: '/a' }]),
    ];
    await expectFunnel(
      events,
      [page('/a'), page('/a')],
      [[{ date_range }, { steps: [step('Visit /a', 3, 100, 0), step('Visit /a', 1, 33.33, 2)] }]],
    );
  });

  it('match an event step by its property, as text, after the step before', async () => {
    const steps: GoalStep[] = [
      page('/'),
      { kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
      { kind: 'event', eventName: 'click', propertyKey: 'n', propertyValue: '1' },
    ];
    const events = [
      ...visit('1', '2026-03-10T09:00:00Z', [
        {},
        { name: 'signup', props: '{"plan":"pro"}' },
        { name: 'click', props: '{"n":1}' },
      ]),
      ...visit('2', '2026-03-10T10:00:00Z', [{}, { name: 'signup', props: '{"plan":"free"}' }]),
      // The signup comes before the page view: step 1 only.
      ...visit('3', '2026-03-10T11:00:00Z', [{ name: 'signup', props: '{"plan":"pro"}' }, {}]),
    ];
    await expectFunnel(events, steps, [
      [
        { date_range },
        {
          steps: [
            step('Visit /', 3, 100, 0),
            step('signup (plan: pro)', 1, 33.33, 2),
            step('click (n: 1)', 1, 33.33, 0),
          ],
        },
      ],
    ]);
  });

  it('compare a number property as its JSON text, also in exponent form', async () => {
    // As ingest stores them (JSON.stringify): `1e+21`, `1e-7`, `0.000025`, `12345678901234567000`.
    const numbers = [1e21, 1e-7, 2.5e-5, 12345678901234567000, 1.5];
    const events = numbers.flatMap((n, index) =>
      visit(`n${index}`, `2026-03-10T1${index}:00:00Z`, [{}, { name: 'buy', props: JSON.stringify({ n }) }]),
    );
    for (const n of numbers) {
      const buy: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'n', propertyValue: String(n) };
      const name = `buy (n: ${String(n)})`;
      await expectFunnel(
        events,
        [page('/'), buy],
        [[{ date_range }, { steps: [step('Visit /', 5, 100, 0), step(name, 1, 20, 4)] }]],
      );
    }
  });

  it('count drop-offs and conversion rates, over the events in the range only', async () => {
    const signup = { name: 'signup' };
    const events = [
      ...visit('1', '2026-03-10T09:00:00Z', [{ path: '/a' }]),
      ...visit('2', '2026-03-10T09:10:00Z', [{}]),
      ...visit('3', '2026-03-10T09:20:00Z', [{}, { path: '/b/c' }]),
      ...visit('4', '2026-03-10T09:30:00Z', [{}, { path: '/a' }]),
      ...visit('5', '2026-03-10T09:40:00Z', [{}, { path: '/a' }, signup]),
      ...visit('6', '2026-03-10T09:50:00Z', [{}, signup, { path: '/a' }, signup]),
      // Crosses midnight into the range: on 10 March alone it has /a but no / before it.
      ...visit('7', '2026-03-09T23:59:30Z', [{}, { path: '/a' }]),
    ];
    const steps: GoalStep[] = [page('/'), page('/a'), { kind: 'event', eventName: 'signup' }];
    await expectFunnel(events, steps, [
      [{ date_range }, { steps: [step('Visit /', 5, 100, 0), step('Visit /a', 3, 60, 2), step('signup', 2, 40, 1)] }],
      [
        { date_range: ['2026-03-09', '2026-03-10'] },
        { steps: [step('Visit /', 6, 100, 0), step('Visit /a', 4, 66.67, 2), step('signup', 2, 33.33, 2)] },
      ],
    ]);
  });

  it('keep whole visits by their entry value under a visit-dimension filter', async () => {
    const events = [
      ...visit('1', '2026-03-10T09:00:00Z', [{ country: 'DE' }, { path: '/a', country: 'US' }]),
      ...visit('2', '2026-03-10T10:00:00Z', [{ country: 'US' }, { path: '/a', country: 'DE' }]),
      ...visit('3', '2026-03-10T11:00:00Z', [{ country: 'DE' }]),
    ];
    const expected = (visits: [number, number], rate: number): FunnelResponse => ({
      steps: [
        step('Visit /', visits[0], visits[0] ? 100 : 0, 0),
        step('Visit /a', visits[1], rate, visits[0] - visits[1]),
      ],
    });
    await expectFunnel(
      events,
      [page('/'), page('/a')],
      [
        [{ date_range, filters: [['is', 'country', ['DE']]] }, expected([2, 1], 50)],
        [{ date_range, filters: [['is', 'country', ['US']]] }, expected([1, 1], 100)],
        [
          {
            date_range,
            filters: [
              ['is_not', 'country', ['DE']],
              ['contains', 'browser', ['fox']],
            ],
          },
          expected([1, 1], 100),
        ],
        [{ date_range, filters: [['is', 'entry_page', ['/a']]] }, expected([0, 0], 0)],
      ],
    );
  });

  it('answer zeros for every step when the range has no events', async () => {
    const events = visit('1', '2026-03-10T09:00:00Z', [{}, { path: '/a' }]);
    await expectFunnel(
      events,
      [page('/'), page('/a'), page('/b/*')],
      [
        [
          { date_range: ['2026-03-11', '2026-03-12'] },
          { steps: [step('Visit /', 0, 0, 0), step('Visit /a', 0, 0, 0), step('Visit /b/*', 0, 0, 0)] },
        ],
      ],
    );
    await expectFunnel(
      [],
      [page('/'), page('/a')],
      [[{ date_range }, { steps: [step('Visit /', 0, 0, 0), step('Visit /a', 0, 0, 0)] }]],
    );
  });
});

describe('funnel requests the API refuses', () => {
  it('answer 400 to a filter on an event dimension', async () => {
    const projectId = await seed('UTC', visit('1', '2026-03-10T09:00:00Z', [{}]), [], me);
    const funnel = await insertFunnel(projectId, [page('/'), page('/a')]);
    const refused: Filter[] = [
      ['is', 'page', ['/']],
      ['is', 'hostname', ['example.com']],
      ['is', 'event:name', ['pageview']],
      ['is', 'event:props:plan', ['pro']],
      ['is', 'event:goal', ['Signup']],
    ];
    for (const filter of refused) {
      const res = await postFunnel(projectId, { funnel, date_range, filters: [filter] });
      expect(res.status, JSON.stringify(filter)).toBe(400);
      await expectError(res, 400, 'invalid_input');
    }
  });

  it("answer 404 to an unknown funnel id and to another project's funnel", async () => {
    const projectId = await seed('UTC', [], [], me);
    const other = await seed('UTC', [], [], me);
    const theirs = await insertFunnel(other, [page('/'), page('/a')]);
    for (const funnel of ['f-no-such-funnel', theirs]) {
      const res = await postFunnel(projectId, { funnel, date_range });
      await expectError(res, 404, 'not_found');
    }
    // The funnel is fine in its own project.
    await askFunnel(other, { funnel: theirs, date_range });
  });
});

/** A visit-dimension filter over the data's pools. */
const VISIT_POOLS: Record<string, readonly (string | null)[]> = {
  entry_page: POOLS.page,
  exit_page: POOLS.page,
  source: POOLS.source,
  utm_campaign: POOLS.utm_campaign,
  country: POOLS.country,
  browser: POOLS.browser,
  os: POOLS.os,
  device: POOLS.device,
};
const visitFilter: fc.Arbitrary<Filter> = fc.constantFrom(...Object.keys(VISIT_POOLS)).chain((dimension) => {
  const pool = VISIT_POOLS[dimension] as readonly (string | null)[];
  const texts = pool.filter((value): value is string => value !== null);
  return fc.oneof(
    fc
      .tuple(
        fc.constantFrom('is' as const, 'is_not' as const),
        fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 2 }),
      )
      .map(([operator, values]): Filter => [operator, dimension, values]),
    fc
      .tuple(fc.constantFrom(...texts), fc.nat(), fc.nat())
      .map(
        ([text, a, b]): Filter => [
          'contains',
          dimension,
          [text.slice(a % text.length, (a % text.length) + 1 + (b % 3))],
        ],
      ),
    fc
      .tuple(fc.constantFrom(...texts), fc.nat(), fc.boolean())
      .map(
        ([text, a, orMissing]): Filter => [
          'does_not_contain',
          dimension,
          [text.slice(a % text.length, (a % text.length) + 2), ...(orMissing ? [null] : [])],
        ],
      ),
    fc.constantFrom(...texts).map((text): Filter => ['matches', dimension, [`${text.slice(0, 2)}*`]]),
  );
});

describe('funnels against the oracle', () => {
  it('equal the oracle for random funnels over random visits (property)', async () => {
    const shape = fc.record({
      steps: funnelSteps,
      from: fc.integer({ min: WINDOW.first, max: WINDOW.last }),
      days: fc.oneof(fc.constant(WINDOW.last - WINDOW.first + 1), fc.integer({ min: 1, max: 3 })),
      filters: fc.oneof(
        { weight: 2, arbitrary: fc.constant<Filter[]>([]) },
        { weight: 2, arbitrary: fc.array(visitFilter, { minLength: 1, maxLength: 2 }) },
      ),
    });
    await fc.assert(
      fc.asyncProperty(scenario, shape, async (data, { steps, from, days, filters }) => {
        const first = addDays(parseDate(data.anchor) as LocalDate, from);
        const request: FunnelRequest = { date_range: [formatDate(first), formatDate(addDays(first, days - 1))] };
        if (filters.length) request.filters = filters;
        const projectId = await seed(data.timezone, data.events, data.goals, me);
        const funnel = await insertFunnel(projectId, steps);
        const answer = await askFunnel(projectId, { funnel, ...request });
        const expected = runFunnelOracle(data.events, steps, request, data.timezone);
        expect(answer, JSON.stringify({ steps, request })).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  }, 120_000);
});
