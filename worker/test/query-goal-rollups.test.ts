/**
 * Goal rollups (worker/src/rollup/goal-rollups.ts) and how goal breakdowns read them: answers
 * read raw, from goal rollups, and from a mix of both equal the oracle, also after goals are
 * renamed, rematched, deleted and created between rollups; and a rolled-up 30-day breakdown
 * reads no raw event of its closed days.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollUp, rollUpAll } from '../src/rollup/index.ts';
import { bumpVersionsStatement } from '../src/store/index.ts';
import { api } from './accounts.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario } from './query-oracle-data.ts';
import { goalSet, type OracleGoal } from './query-oracle-goals.ts';
import { ask, event, type Owner, seed, signUp } from './query-oracle-harness.ts';

/** Goal breakdowns goal rollups answer: `event:goal`, maybe with days, weeks or months; no filter. */
const goalShapes = fc
  .tuple(
    queryShape,
    fc.constantFrom<string[]>([], ['time:day'], ['time:week'], ['time:month']),
    fc.nat({ max: 1 }),
    fc.option(fc.nat(), { nil: null }),
  )
  .map(([shape, dimensions, at, conversionRate]) => ({
    ...shape,
    dimensions,
    filters: [],
    goal: { dimension: at, filter: null, conversionRate },
  }));

/** A change to one goal through the API: a new name, a new matching, or its deletion. */
const edit = fc.record({
  index: fc.nat(),
  kind: fc.constantFrom('rename', 'rematch', 'rematch', 'delete'),
  with: fc.nat(),
});
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function matchingBody(goal: OracleGoal) {
  return goal.kind === 'pageview'
    ? { kind: 'pageview', path: goal.path }
    : { kind: 'event', eventName: goal.event_name, propertyKey: goal.property_key, propertyValue: goal.property_value };
}

/** Apply edits through the real routes; returns the goals as they now are (a refused edit changes nothing). */
async function applyEdits(
  owner: Owner,
  projectId: string,
  goals: OracleGoal[],
  edits: readonly Edit[],
  pool: readonly OracleGoal[],
): Promise<OracleGoal[]> {
  const list = goals.map((goal, index) => ({ ...goal, id: `${projectId}-g${index}` }));
  for (const change of edits) {
    if (!list.length) break;
    const at = change.index % list.length;
    const goal = list[at] as (typeof list)[number];
    const path = `/api/projects/${projectId}/goals/${goal.id}`;
    if (change.kind === 'delete') {
      expect((await api(path, { method: 'DELETE', token: owner.token })).status).toBe(204);
      list.splice(at, 1);
      continue;
    }
    const next =
      change.kind === 'rename'
        ? { ...goal, name: `${goal.name} (${change.with})` }
        : { ...goal, ...(pool[change.with % pool.length] as OracleGoal), name: goal.name };
    const body = change.kind === 'rename' ? { name: next.name } : matchingBody(next);
    const res = await api(path, { method: 'PATCH', token: owner.token, body });
    // Another goal has that name or matching: 409, and nothing changed.
    expect([200, 409], await res.clone().text()).toContain(res.status);
    if (res.status === 200) list[at] = next;
  }
  return list.map(({ id: _id, ...goal }) => goal);
}

async function remark(projectId: string, events: readonly RawEvent[], picks: readonly number[]) {
  const hours = [...new Set(events.map((e) => Math.floor(e.ts / 3_600_000)))];
  for (const pick of picks) {
    await env.DB.prepare(
      'INSERT INTO rollup_dirty (project_id, hour, mark) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET mark = mark + 1',
    )
      .bind(projectId, hours[pick % hours.length])
      .run();
  }
}

describe('goal breakdowns from goal rollups', () => {
  it('equal the oracle raw, rolled up, mixed, and after goals change between rollups (property)', async () => {
    const owner = await signUp();
    await fc.assert(
      fc.asyncProperty(
        scenario,
        goalShapes,
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        goalSet,
        async (data, shape, picks, edits, pool) => {
          const projectId = await seed(data.timezone, data.events, data.goals, owner);
          const check = async (goals: OracleGoal[], label: string) => {
            const query = materialize(
              shape,
              data.anchor,
              goals.map((goal) => goal.name),
            );
            const expected = runOracle(data.events, query, { ...data, goals });
            expect(await ask(projectId, query, owner), `${label} ${JSON.stringify({ goals, query })}`).toEqual(
              expected,
            );
          };
          await check(data.goals, 'raw');
          await rollUpAll(env, Date.now());
          await check(data.goals, 'rolled up');
          await remark(projectId, data.events, picks);
          await check(data.goals, 'mixed');

          // Rename, rematch or delete goals: the marked days read raw until rolled again.
          const edited = await applyEdits(owner, projectId, data.goals, edits, pool);
          await check(edited, 'edited');
          await rollUp(env, Date.now(), { days: 1, ms: Number.POSITIVE_INFINITY });
          await check(edited, 'edited, partly rolled up');
          await rollUpAll(env, Date.now());
          await check(edited, 'edited, rolled up');
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);
});

describe('a 30-day goal breakdown', () => {
  const DAY = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const date = (ms: number) => iso(ms).slice(0, 10);
  /** UTC midnight of the Worker's today (its clock, not the host's). */
  const todayOf = () => Math.floor(Date.now() / DAY) * DAY;
  // Two visitors a day for 30 days, today included: pages, a signup with a plan, revenue.
  const eventsUntil = (today: number): RawEvent[] =>
    Array.from({ length: 30 }, (_, n) => {
      const day = today - (29 - n) * DAY;
      const session = (who: string) => ({ visitor_id: `${who}${n}`, session_id: `${who}-s${n}` });
      return [
        event(iso(day + 60_000), { ...session('a'), path: `/blog/post-${n % 4}` }),
        event(iso(day + 120_000), { ...session('a'), seq: 2, path: '/pricing' }),
        event(iso(day + 180_000), {
          ...session('a'),
          seq: 3,
          name: 'signup',
          path: '/pricing',
          props: JSON.stringify({ plan: n % 3 ? 'pro' : 'free' }),
          revenue_amount: 10 + n,
          revenue_currency: 'USD',
        }),
        event(iso(day + 240_000), { ...session('b'), path: n % 2 ? '/blog/post-1' : '/' }),
      ];
    }).flat();
  const goals: OracleGoal[] = [
    { name: 'Blog', kind: 'pageview', path: '/blog/*', event_name: null, property_key: null, property_value: null },
    { name: 'Pro', kind: 'event', path: null, event_name: 'signup', property_key: 'plan', property_value: 'pro' },
    { name: 'Pricing', kind: 'pageview', path: '/pricing', event_name: null, property_key: null, property_value: null },
  ];
  // What the dashboard's Goals panel asks (GoalsPanel.svelte), with totals.
  const queryUntil = (today: number): OracleQuery => ({
    metrics: ['visitors', 'events', 'conversion_rate', 'revenue'],
    date_range: [date(today - 29 * DAY), date(today)],
    dimensions: ['event:goal'],
    limit: 50,
    include: { totals: true },
  });
  const bump = (projectId: string) => bumpVersionsStatement(env.DB, [projectId], Date.now());

  it('reads goal rollups for its closed days and raw events only for today', async () => {
    const today = todayOf();
    const [events, query] = [eventsUntil(today), queryUntil(today)];
    const owner = await signUp();
    const expected = runOracle(events, query, { timezone: 'UTC', goals });
    const projectId = await seed('UTC', events, goals, owner);
    expect(await ask(projectId, query, owner)).toEqual(expected);
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, query, owner)).toEqual(expected);
    // Only today is still marked; each closed day holds a row per goal that converted on it.
    const { results: marks } = await env.DB.prepare('SELECT hour FROM rollup_dirty WHERE project_id = ?')
      .bind(projectId)
      .all<{ hour: number }>();
    expect(marks.every(({ hour }) => hour * 3_600_000 >= today)).toBe(true);
    const goalRows = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM rollups WHERE project_id = ? AND dimension = 'event:goal'`,
    )
      .bind(projectId)
      .first<{ n: number }>();
    expect(goalRows?.n).toBe(29 * 2 + 19);

    // Raw events of the closed days gone behind the API's back (no mark): a fresh answer (the
    // version bumped) is unchanged, so neither the numbers nor the paths came from them.
    await env.DB.batch([
      env.DB.prepare('DELETE FROM events WHERE project_id = ? AND ts < ?').bind(projectId, today),
      bump(projectId),
    ]);
    expect(await ask(projectId, query, owner)).toEqual(expected);

    // And the goal rows are what answers: a forged one shows.
    await env.DB.batch([
      env.DB.prepare(
        `UPDATE rollups SET events = events + 1000 WHERE project_id = ? AND dimension = 'event:goal' AND day = ?`,
      ).bind(projectId, date(today - DAY)),
      bump(projectId),
    ]);
    const forged = (await ask(projectId, query, owner)) as { results: { metrics: number[] }[] };
    const events0 = (expected as { results: { metrics: number[] }[] }).results.map((r) => r.metrics[1] ?? 0);
    expect(forged.results.map((r) => r.metrics[1])).toEqual(events0.map((n) => n + 1000));
  });

  it('shows a new or rematched goal only where raw events are left (past retention: nothing)', async () => {
    const today = todayOf();
    const [events, query] = [eventsUntil(today), queryUntil(today)];
    const owner = await signUp();
    const projectId = await seed('UTC', events, goals.slice(0, 1), owner);
    await rollUpAll(env, Date.now());
    // Retention took the first 20 days' raw events; their rollups stay.
    const cut = today - 9 * DAY;
    await env.DB.prepare('DELETE FROM events WHERE project_id = ? AND ts < ?').bind(projectId, cut).run();
    const kept = events.filter((e) => e.ts >= cut);

    const created = await api(`/api/projects/${projectId}/goals`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'Pro', kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
    });
    expect(created.status).toBe(201);
    const renamed = await api(`/api/projects/${projectId}/goals/${projectId}-g0`, {
      method: 'PATCH',
      token: owner.token,
      body: { name: 'Posts', path: '/blog/post-1' },
    });
    expect(renamed.status).toBe(200);
    const now: OracleGoal[] = [
      { ...(goals[0] as OracleGoal), name: 'Posts', path: '/blog/post-1' },
      goals[1] as OracleGoal,
    ];
    const visitors: OracleQuery = { ...query, metrics: ['visitors', 'events'], include: {} };
    const expected = runOracle(kept, visitors, { timezone: 'UTC', goals: now });
    expect(await ask(projectId, visitors, owner)).toEqual(expected);
    await rollUpAll(env, Date.now());
    expect(await ask(projectId, visitors, owner)).toEqual(expected);
  });
});
