/**
 * Generated stats questions (issue 13): dates, ranges, `matches` patterns and property keys drawn
 * by fast-check, sent to every stats route as a member and through a public share link. The
 * figure: no answer ≥ 500, every rejection a 400 in the one error shape naming a field. (A range
 * ending on 9999-12-31 once kept the Worker busy for 15 s and a 51-byte pattern answered 500.)
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeSpec, problemWith, type RequestSpec, send } from './hardening-requests.ts';
import { makeWorld, type World } from './hardening-world.ts';
import { insertEvents } from './query-oracle-data.ts';
import { event } from './query-oracle-harness.ts';

const RUNS = 360;
const SEED = 13_013;

/** A date as text: mostly real days across the whole four-digit range, sometimes not a date at all. */
const dateText = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .date({ min: new Date(Date.UTC(0, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '9999-12-31',
      '9999-12-30',
      '0000-01-01',
      '1999-12-31',
      '2000-01-01',
      '2026-02-29',
      '2028-02-29',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const nearNow = fc
  .integer({ min: -4_000, max: 40 })
  .map((days) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10));

const dateRange = fc.oneof(
  fc.constantFrom('today', 'yesterday', '7d', '30d', 'month', 'last_month', '12mo', 'year', 'all', 'realtime'),
  fc.tuple(dateText, dateText),
  fc.tuple(nearNow, nearNow),
);

/** Text with what breaks SQL patterns and JSON paths: wildcards, brackets, quotes, backslashes, NUL, emoji. */
const hazardText = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom('*', '?', '[', ']', '"', "'", '\\', '%', '_', '\u0000', '\u0001', '😀', '/', '$.a', 'é'),
        fc.string({ maxLength: 8 }),
      ),
      { maxLength },
    )
    .map((parts) => parts.join(''));

const dimension = fc.oneof(
  fc.constantFrom('page', 'source', 'country', 'entry_page', 'event:name', 'event:goal', 'browser'),
  hazardText(40).map((key) => `event:props:${key}`),
);

const filter = fc.tuple(
  fc.constantFrom('is', 'is_not', 'contains', 'matches'),
  dimension,
  fc.array(fc.oneof(hazardText(70), fc.constant(null)), { minLength: 1, maxLength: 3 }),
);

interface Question {
  route: '/api/v1/query' | '/api/v1/export' | '/api/v1/funnel' | '/api/v1/drops';
  date_range: unknown;
  filters: unknown[];
  dimensions: string[];
  viaShare: boolean;
}

const question: fc.Arbitrary<Question> = fc.record({
  route: fc.constantFrom(
    '/api/v1/query',
    '/api/v1/query',
    '/api/v1/query',
    '/api/v1/funnel',
    '/api/v1/drops',
    '/api/v1/export',
  ),
  date_range: dateRange,
  filters: fc.array(filter, { maxLength: 2 }),
  dimensions: fc.array(fc.oneof(dimension, fc.constantFrom('time:hour', 'time:day', 'time:week')), { maxLength: 2 }),
  viaShare: fc.boolean(),
});

function specOf(world: World, q: Question): RequestSpec {
  const project = world.project;
  const body: Record<string, unknown> = { project: project.id, date_range: q.date_range };
  if (q.route === '/api/v1/query')
    Object.assign(body, { metrics: ['visitors', 'pageviews'], dimensions: q.dimensions, filters: q.filters });
  if (q.route === '/api/v1/export') body.filters = q.filters;
  if (q.route === '/api/v1/funnel') Object.assign(body, { funnel: project.funnelId, filters: q.filters });
  const auth: Record<string, string> = q.viaShare
    ? { 'x-tally-share': project.shareSlug }
    : { authorization: `Bearer ${world.owner.token}` };
  return {
    method: 'POST',
    target: q.route,
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

describe('generated stats questions', () => {
  let world: World;
  beforeAll(async () => {
    world = await makeWorld();
    // A few days of visits up to today, with properties whose keys hold quotes and backslashes.
    const day = 86_400_000;
    await insertEvents(
      world.project.id,
      Array.from({ length: 60 }, (_, i) =>
        event(new Date(Date.now() - (i % 20) * day - 3_600_000).toISOString(), {
          session_id: `s${i >> 1}`,
          visitor_id: `v${i >> 1}`,
          seq: (i % 2) + 1,
          path: i % 3 ? '/pricing' : '/',
          source: i % 4 ? 'Google' : null,
          props: JSON.stringify({ 'a"b': i, 'c\\d': 'x*y', plan: i % 2 ? 'pro' : 'free' }),
        }),
      ),
    );
  });

  it(`answer ${RUNS} questions of hostile dates, ranges, patterns and keys without a 5xx`, async () => {
    const questions = fc.sample(question, { numRuns: RUNS, seed: SEED });
    const problems: string[] = [];
    const counts: Record<number, number> = {};
    for (const q of questions) {
      const spec = specOf(world, q);
      const res = await send(spec);
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      const problem = await problemWith(spec, res.clone());
      if (problem) problems.push(`${problem} ← ${describeSpec(spec)}`);
      else if (res.status === 400) {
        const { error } = await res.json<{ error: { code: string; details?: { path: unknown[] }[] } }>();
        if (error.code === 'invalid_input' && !error.details?.length)
          problems.push(`a 400 naming no field ← ${describeSpec(spec)}`);
      }
    }
    console.log(
      `generated stats questions: ${RUNS}; ${Object.entries(counts)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    // The run reached the queries themselves, not only validation.
    expect(counts[200] ?? 0).toBeGreaterThan(RUNS / 10);
    expect(counts[400] ?? 0).toBeGreaterThan(RUNS / 10);
  }, 180_000);
});
