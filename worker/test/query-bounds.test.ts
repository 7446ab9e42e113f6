/**
 * Bounded work on the stats routes (issue 13): every date range lies in a sane window, every
 * `matches` pattern is one D1 can evaluate, every property key ingest stores can be queried, an
 * hourly series stays short, and no request scans more raw events than its budget. Each case here
 * failed before its fix: a range ending 9999-12-31 looped in the Worker for 15 s and answered 200,
 * a 51-byte pattern answered 500, a key with a quote answered 400.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { wireEventSchema } from '../src/ingest/schema.ts';
import { RawBudget } from '../src/query/budget.ts';
import { addDays, formatDate, localDate } from '../src/shared/calendar.ts';
import { exportZip } from '../src/query/export.ts';
import { runFunnel } from '../src/query/funnel.ts';
import { runQuery } from '../src/query/run.ts';
import { type Query, QuerySchema } from '../src/query/schema.ts';
import { rollUpAll } from '../src/rollup/index.ts';
import { api, expectJson } from './accounts.ts';
import { expectError } from './helpers.ts';
import { ask, event, type Owner, post, seed, signUp } from './query-oracle-harness.ts';

const ORIGIN = 'http://tally.test';
let owner: Owner;

async function seeded(events = [event('2026-05-01T10:00:00Z')]): Promise<string> {
  owner ??= await signUp();
  return seed('UTC', events, [], owner);
}

function postTo(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return exports.default.fetch(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

const paths = (error: { details?: { path: (string | number)[] }[] }) =>
  (error.details ?? []).map((issue) => JSON.stringify(issue.path));

const today = () => localDate(Date.now(), 'UTC');

describe('date ranges', () => {
  it('refuse a range ending on 9999-12-31 (and any date past tomorrow) on every stats route, 400 naming date_range', async () => {
    const projectId = await seeded();
    const far: [string, string] = ['9999-12-31', '9999-12-31'];
    const bodies: [string, Record<string, unknown>][] = [
      ['/api/v1/query', { project: projectId, metrics: ['visitors'], date_range: far }],
      ['/api/v1/query', { project: projectId, metrics: ['visitors'], date_range: ['9990-01-01', '9999-12-31'] }],
      ['/api/v1/export', { project: projectId, date_range: ['9990-01-01', '9999-12-31'] }],
      ['/api/v1/drops', { project: projectId, date_range: far }],
    ];
    for (const [path, body] of bodies) {
      const error = await expectError(await postTo(path, body), 400, 'invalid_input');
      expect(paths(error), `${path} ${JSON.stringify(body)}`).toContain(JSON.stringify(['date_range']));
    }
    const dayAfterTomorrow = formatDate(addDays(today(), 2));
    const tooLate = await post(
      projectId,
      { metrics: ['visitors'], date_range: [dayAfterTomorrow, dayAfterTomorrow] },
      owner,
    );
    expect(paths(await expectError(tooLate, 400, 'invalid_input'))).toContain(JSON.stringify(['date_range']));
  });

  it('refuse a range starting before 2000-01-01, and accept one ending tomorrow', async () => {
    const projectId = await seeded();
    const early = await post(projectId, { metrics: ['visitors'], date_range: ['1999-12-31', '2000-01-05'] }, owner);
    expect(paths(await expectError(early, 400, 'invalid_input'))).toContain(JSON.stringify(['date_range']));
    const tomorrow = formatDate(addDays(today(), 1));
    expect(await ask(projectId, { metrics: ['visitors'], date_range: [tomorrow, tomorrow] }, owner)).toEqual({
      results: [{ dimensions: [], metrics: [0] }],
      meta: {},
    });
  });

  it('are bounded for share links too: anyone with a link gets the 400, not a busy Worker', async () => {
    const projectId = await seeded();
    const link = await expectJson<{ slug: string }>(
      await api(`/api/projects/${projectId}/shares`, { method: 'POST', token: owner.token, body: { name: 'Public' } }),
      201,
    );
    const res = await exports.default.fetch(`${ORIGIN}/api/v1/query`, {
      method: 'POST',
      headers: { 'x-tally-share': link.slug, 'content-type': 'application/json' },
      body: JSON.stringify({ project: projectId, metrics: ['visitors'], date_range: ['9999-12-31', '9999-12-31'] }),
    });
    expect(paths(await expectError(res, 400, 'invalid_input'))).toContain(JSON.stringify(['date_range']));
  });

  it('give hourly series only over short ranges', async () => {
    const projectId = await seeded();
    const long = await post(
      projectId,
      { metrics: ['visitors'], dimensions: ['time:hour'], date_range: ['2026-01-01', '2026-06-30'] },
      owner,
    );
    expect(paths(await expectError(long, 400, 'invalid_input'))).toContain(JSON.stringify(['dimensions']));
  });
});

describe('matches patterns', () => {
  const pattern = (bytes: number) => `/${'a'.repeat(bytes - 2)}*`;

  it('of at most 50 bytes are evaluated; longer ones are a 400 naming the value, on query, export and funnel', async () => {
    const projectId = await seeded([event('2026-05-01T10:00:00Z', { path: `/${'a'.repeat(60)}` })]);
    const query = (value: string) => ({
      metrics: ['pageviews'],
      date_range: ['2026-05-01', '2026-05-01'],
      filters: [['matches', 'page', ['/nothing', value]]],
    });
    expect(await ask(projectId, query(pattern(50)) as never, owner)).toEqual({
      results: [{ dimensions: [], metrics: [1] }],
      meta: {},
    });
    const long = await post(projectId, query(pattern(51)), owner);
    expect(paths(await expectError(long, 400, 'invalid_input'))).toContain(JSON.stringify(['filters', 0, 2, 1]));
    // Brackets are sent as three-byte classes: 17 of them are 51 bytes.
    const brackets = await post(projectId, query('['.repeat(17)), owner);
    expect(paths(await expectError(brackets, 400, 'invalid_input'))).toContain(JSON.stringify(['filters', 0, 2, 1]));
    const wild = await post(projectId, query('*a'.repeat(11)), owner);
    expect(paths(await expectError(wild, 400, 'invalid_input'))).toContain(JSON.stringify(['filters', 0, 2, 1]));

    const filters = [['matches', 'source', [pattern(51)]]];
    const exported = await postTo('/api/v1/export', {
      project: projectId,
      date_range: ['2026-05-01', '2026-05-01'],
      filters,
    });
    expect(paths(await expectError(exported, 400, 'invalid_input'))).toContain(JSON.stringify(['filters', 0, 2, 0]));
    const funnel = await postTo('/api/v1/funnel', {
      project: projectId,
      funnel: 'any',
      date_range: ['2026-05-01', '2026-05-01'],
      filters,
    });
    expect(paths(await expectError(funnel, 400, 'invalid_input'))).toContain(JSON.stringify(['filters', 0, 2, 0]));
  });
});

describe('property keys', () => {
  it('that ingest accepts, quotes and backslashes included, can be broken down and filtered', async () => {
    const keys = ['a"b', 'c\\d', '"', "it's {x}"];
    const parsed = wireEventSchema.safeParse({
      n: 'pageview',
      u: 'https://example.com/',
      s: 'site',
      p: Object.fromEntries(keys.map((key) => [key, 'v'])),
    });
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);

    const props = JSON.stringify(Object.fromEntries(keys.map((key, index) => [key, `value ${index}`])));
    const projectId = await seeded([event('2026-05-01T10:00:00Z', { props })]);
    for (const [index, key] of keys.entries()) {
      const dimension = `event:props:${key}`;
      expect(
        await ask(
          projectId,
          { metrics: ['events'], date_range: ['2026-05-01', '2026-05-01'], dimensions: [dimension] } as never,
          owner,
        ),
        key,
      ).toEqual({ results: [{ dimensions: [`value ${index}`], metrics: [1] }], meta: {} });
      expect(
        await ask(
          projectId,
          {
            metrics: ['events'],
            date_range: ['2026-05-01', '2026-05-01'],
            filters: [['is', dimension, [`value ${index}`]]],
          } as never,
          owner,
        ),
      ).toEqual({ results: [{ dimensions: [], metrics: [1] }], meta: {} });
    }
  });

  it('that ingest refuses are refused by the query too', async () => {
    const projectId = await seeded();
    for (const key of ['', 'x'.repeat(301), 'a\u0001b']) {
      const res = await post(
        projectId,
        { metrics: ['events'], date_range: '7d', dimensions: [`event:props:${key}`] },
        owner,
      );
      await expectError(res, 400, 'invalid_input');
    }
  });
});

describe('the raw event budget', () => {
  const project = (id: string) => ({ id, timezone: 'UTC', createdAt: Date.UTC(2026, 0, 1), currency: 'USD' });
  const parse = (query: Record<string, unknown>): Query => QuerySchema.parse({ project: 'p', ...query });
  const NOW = Date.UTC(2026, 4, 10, 12);
  /** 40 events in 20 visits on 2026-05-01, two on 2026-05-02. */
  const events = [
    ...Array.from({ length: 40 }, (_, i) =>
      event(`2026-05-01T10:${String(i).padStart(2, '0')}:00Z`, {
        session_id: `s${i >> 1}`,
        visitor_id: `v${i >> 1}`,
        seq: (i % 2) + 1,
      }),
    ),
    event('2026-05-02T10:00:00Z', { session_id: 'late', visitor_id: 'late' }),
    event('2026-05-02T10:01:00Z', { session_id: 'late', visitor_id: 'late', seq: 2, path: '/pricing' }),
  ];

  it('refuses a raw question that would scan more events than allowed, 400 too_expensive naming date_range', async () => {
    const projectId = await seeded(events);
    const filtered = parse({
      metrics: ['visitors'],
      date_range: ['2026-05-01', '2026-05-02'],
      filters: [['is', 'page', ['/']]],
    });
    // A filtered query reads raw: 42 events, once. (Refused first: an answer once made is cached.)
    const error = await runQuery(
      { control: env.DB, data: env.DB },
      project(projectId),
      filtered,
      NOW,
      new RawBudget(env.DB, projectId, 41),
    ).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ status: 400, code: 'too_expensive', details: [{ path: ['date_range'] }] });
    const enough = new RawBudget(env.DB, projectId, 42);
    await runQuery({ control: env.DB, data: env.DB }, project(projectId), filtered, NOW, enough);
    expect(enough.spent).toBe(42);
  });

  it('charges nothing for days read from rollups, and only the marked days beside them', async () => {
    const projectId = await seeded(events);
    await rollUpAll(env, NOW);
    const unfiltered = parse({ metrics: ['visitors'], date_range: ['2026-05-01', '2026-05-02'], dimensions: ['page'] });
    const budget = new RawBudget(env.DB, projectId, 0);
    await runQuery({ control: env.DB, data: env.DB }, project(projectId), unfiltered, NOW, budget);
    expect(budget.spent).toBe(0);
  });

  it('bounds funnels and exports alike; an export shares one budget across its files', async () => {
    const projectId = await seeded(events);
    const steps = [
      { kind: 'pageview' as const, path: '/' },
      { kind: 'pageview' as const, path: '/pricing' },
    ];
    const funnelBudget = new RawBudget(env.DB, projectId, 84);
    const reached = await runFunnel(
      env.DB,
      project(projectId),
      { id: 'funnel', steps: steps as never },
      ['2026-05-01', '2026-05-02'],
      [],
      NOW,
      funnelBudget,
    );
    expect(reached.map((step) => step.visits)).toEqual([21, 1]);
    // The path scan and the funnel's own scan: twice the range's 42 events.
    expect(funnelBudget.spent).toBe(84);
    await expect(
      runFunnel(
        env.DB,
        project(projectId),
        { id: 'funnel', steps: steps as never },
        ['2026-05-01', '2026-05-02'],
        [],
        NOW,
        new RawBudget(env.DB, projectId, 83),
      ),
    ).rejects.toMatchObject({ code: 'too_expensive' });

    const filters: Query['filters'] = [['is', 'country', ['DE']]];
    await expect(
      exportZip(
        { control: env.DB, data: env.DB },
        project(projectId),
        ['2026-05-01', '2026-05-02'],
        filters,
        NOW,
        new RawBudget(env.DB, projectId, 5 * 42),
      ),
    ).rejects.toMatchObject({ code: 'too_expensive' });
    const exportBudget = new RawBudget(env.DB, projectId, 10_000);
    await exportZip(
      { control: env.DB, data: env.DB },
      project(projectId),
      ['2026-05-01', '2026-05-02'],
      filters,
      NOW,
      exportBudget,
    );
    // Every file is one raw aggregation over the range, and goals.csv (no goals) adds none.
    expect(exportBudget.spent).toBeGreaterThanOrEqual(17 * 42);
  });
});
