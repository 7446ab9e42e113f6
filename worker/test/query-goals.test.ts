import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError, markEventHoursStatement } from './helpers.ts';

const DAY = ['2026-05-02', '2026-05-02'];
const TS = Date.UTC(2026, 4, 2, 10);

/** A project with two visitors: one reads /b/c and signs up on the pro plan; one reads / only. */
async function setup() {
  const owner = await signUp();
  const project = await createProjectAs(owner.token, { timezone: 'UTC' });
  const event = (id: string, visitor: string, seq: number, name: string, path: string, props: string | null = null) =>
    env.DB.prepare(
      `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path, props, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'example.com', ?, ?, ?)`,
    ).bind(
      project.id,
      id,
      TS + seq * 1000,
      TS,
      name,
      visitor,
      `s-${visitor}`,
      seq,
      seq === 1 ? 1 : 0,
      path,
      props,
      visitor === 'v1' ? 'Google' : null,
    );
  await env.DB.batch([
    event('e1', 'v1', 1, 'pageview', '/b/c'),
    event('e2', 'v1', 2, 'signup', '/b/c', '{"plan":"pro","seats":3}'),
    event('e3', 'v2', 1, 'pageview', '/'),
    event('e4', 'v2', 2, 'pageview', '/b/c/d'),
  ]);
  await markEventHoursStatement(project.id).run();
  for (const goal of [
    { name: 'Blog post', kind: 'pageview', path: '/b/*' },
    { name: 'Anything', kind: 'pageview', path: '/**' },
    { name: 'Pro signup', kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
    { name: 'Three seats', kind: 'event', eventName: 'signup', propertyKey: 'seats', propertyValue: '3' },
    { name: 'Never', kind: 'event', eventName: 'refund' },
  ]) {
    await expectJson(
      await api(`/api/projects/${project.id}/goals`, { method: 'POST', token: owner.token, body: goal }),
      201,
    );
  }
  const query = (body: Record<string, unknown>) =>
    api('/api/v1/query', {
      method: 'POST',
      token: owner.token,
      body: { project: project.id, date_range: DAY, ...body },
    });
  return { query };
}

describe('goals in queries', () => {
  it('break down by goal with conversions and conversion rates', async () => {
    const { query } = await setup();
    const res = await query({
      metrics: ['visitors', 'events', 'conversion_rate'],
      dimensions: ['event:goal'],
      include: { totals: true },
    });
    expect(await expectJson(res, 200)).toEqual({
      results: [
        // Both visitors' pageviews match /**; /b/* matches /b/c (v1) but not /b/c/d (v2).
        { dimensions: ['Anything'], metrics: [2, 3, 100] },
        { dimensions: ['Blog post'], metrics: [1, 1, 50] },
        { dimensions: ['Pro signup'], metrics: [1, 1, 50] },
        { dimensions: ['Three seats'], metrics: [1, 1, 50] },
      ],
      meta: { totals: [2, 4, 100] },
    });
  });

  it('filter by goal, and rate each group against the same group without the goal', async () => {
    const { query } = await setup();
    const res = await query({
      metrics: ['visitors', 'conversion_rate'],
      dimensions: ['source'],
      filters: [['is', 'event:goal', ['Pro signup', 'No such goal']]],
    });
    expect(await expectJson(res, 200)).toEqual({ results: [{ dimensions: ['Google'], metrics: [1, 100] }], meta: {} });
  });

  it('refuse conversion rates without goals, and other operators on goals', async () => {
    const { query } = await setup();
    await expectError(await query({ metrics: ['conversion_rate'] }), 400, 'invalid_input');
    await expectError(
      await query({ metrics: ['visitors'], filters: [['contains', 'event:goal', ['Pro']]] }),
      400,
      'invalid_input',
    );
  });
});

describe('numeric properties', () => {
  it('group and filter by their JSON text, as stored', async () => {
    const owner = await signUp();
    const project = await createProjectAs(owner.token, { timezone: 'UTC' });
    // What ingest stores: JSON.stringify of the validated props.
    const props = JSON.stringify({ big: 1e21, small: 2.5e-5, flag: true });
    await env.DB.prepare(
      `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path, props)
       VALUES (?, 'n1', ?, ?, 'buy', 'v', 's', 1, 1, 'example.com', '/', ?)`,
    )
      .bind(project.id, TS, TS, props)
      .run();
    await markEventHoursStatement(project.id).run();
    const query = (body: Record<string, unknown>) =>
      api('/api/v1/query', {
        method: 'POST',
        token: owner.token,
        body: { project: project.id, date_range: DAY, metrics: ['events'], ...body },
      });
    expect(
      await expectJson(await query({ dimensions: ['event:props:big', 'event:props:small', 'event:props:flag'] }), 200),
    ).toEqual({
      results: [{ dimensions: ['1e+21', '0.000025', 'true'], metrics: [1] }],
      meta: {},
    });
    const filtered = await query({ filters: [['is', 'event:props:big', ['1e+21']]] });
    expect(await expectJson(filtered, 200)).toEqual({ results: [{ dimensions: [], metrics: [1] }], meta: {} });
  });
});
