/**
 * History that no rebuild destroys (issue 14): once the retention purge has taken a project's old
 * raw events, its rollups are all there is of those days. A timezone change, a currency change, a
 * new goal, a goal rematch and a re-roll at the retention boundary must leave every such day's
 * answer as it was — never zero, never recomputed from what is left of a day the purge cut into —
 * and what cannot be known is said (`meta.unavailable`), not answered as zero.
 */
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { purgeExpiredEvents, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, localDate } from '../src/shared/calendar.ts';
import { api } from './accounts.ts';
import { markEventHoursStatement } from './helpers.ts';
import type { OracleQuery } from './query-oracle.ts';
import { ask, event, type Owner, seed, signUp } from './query-oracle-harness.ts';

const DAY = 86_400_000;
/** Noon UTC, so that the retention cut falls mid-day and the boundary day has a visit on each side. */
const NOW = Date.UTC(2026, 10, 20, 12);
const RETENTION_DAYS = 30;

interface World {
  owner: Owner;
  projectId: string;
  /** A day wholly past retention, the day the purge cuts into, and a recent one. */
  old: string;
  boundary: string;
  recent: string;
  range: [string, string];
}

/** A project with visits on an old day, on both sides of the retention cut, and recently; rolled up, then purged. */
async function world(): Promise<World> {
  const now = NOW;
  const owner = await signUp();
  const cutoff = now - RETENTION_DAYS * DAY;
  const boundary = localDate(cutoff, 'UTC');
  const { start, end } = dayBounds(boundary, 'UTC');
  const old = addDays(boundary, -10);
  const recent = localDate(now - 5 * DAY, 'UTC');
  const at = (day: typeof old, hour: number) => new Date(dayBounds(day, 'UTC').start + hour * 3_600_000).toISOString();
  /** A visit: a pageview, then a signup worth 10 USD (or 7 EUR) a minute later. */
  const visit = (iso: string, id: string, extra: Parameters<typeof event>[1] = {}, currency = 'USD') => [
    event(iso, { session_id: id, visitor_id: id, source: 'Google', referrer: 'https://www.google.com/', ...extra }),
    event(new Date(Date.parse(iso) + 60_000).toISOString(), {
      session_id: id,
      visitor_id: id,
      seq: 2,
      name: 'signup',
      path: '/pricing',
      revenue_amount: currency === 'USD' ? 10 : 7,
      revenue_currency: currency,
    }),
  ];
  const events = [
    ...visit(at(old, 10), 'o1'),
    ...visit(at(old, 11), 'o2', { source: null, referrer: null }),
    // One visit before the cut (purged) and one after it (kept), on the same day.
    ...visit(new Date(Math.floor((start + cutoff) / 2)).toISOString(), 'b1'),
    ...visit(new Date(Math.floor((cutoff + end) / 2) - 120_000).toISOString(), 'b2', {}, 'EUR'),
    ...visit(at(recent, 9), 'r1'),
    ...visit(at(recent, 10), 'r2', {}, 'EUR'),
  ];
  const projectId = await seed('UTC', events, [], owner);
  const patch = await api(`/api/projects/${projectId}`, {
    method: 'PATCH',
    token: owner.token,
    body: { retentionDays: RETENTION_DAYS },
  });
  expect(patch.status).toBe(200);
  await rollUpAll(env, now);
  return {
    owner,
    projectId,
    old: formatDate(old),
    boundary: formatDate(boundary),
    recent: formatDate(recent),
    range: [formatDate(addDays(old, -1)), formatDate(addDays(localDate(now, 'UTC'), -1))],
  };
}

const byDay = (range: [string, string]): OracleQuery => ({
  metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounce_rate', 'visit_duration', 'revenue'],
  date_range: range,
  dimensions: ['time:day'],
});
const bySource = (range: [string, string]): OracleQuery => ({
  metrics: ['visitors', 'visits', 'revenue'],
  date_range: range,
  dimensions: ['source'],
});

type Answer = { results: { dimensions: (string | null)[]; metrics: number[] }[]; meta: Record<string, unknown> };
const rowOf = (answer: Answer, day: string) => answer.results.find((row) => row.dimensions[0] === day)?.metrics;

/** The rollup rows of a project's day, every column. */
async function rollupRows(projectId: string, day: string) {
  const { results } = await env.DB.prepare(
    'SELECT * FROM rollups WHERE project_id = ? AND day = ? ORDER BY dimension, value',
  )
    .bind(projectId, day)
    .all();
  return results;
}

describe('history past retention', () => {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });
  afterAll(() => vi.useRealTimers());
  let w: World;
  let before: { days: Answer; sources: Answer; boundaryRows: unknown[] };
  beforeAll(async () => {
    w = await world();
    before = {
      days: (await ask(w.projectId, byDay(w.range), w.owner)) as Answer,
      sources: (await ask(w.projectId, bySource(w.range), w.owner)) as Answer,
      boundaryRows: await rollupRows(w.projectId, w.boundary),
    };
    // The cut: the old day's events go, and the boundary day's first visit.
    const purged = await purgeExpiredEvents(env, Date.now());
    expect(purged.deleted).toBe(6);
  });

  it('answers the purged days from their rollups, as before the purge', async () => {
    expect(rowOf(before.days, w.old)).toEqual([2, 2, 2, 4, 0, 60, 20]);
    expect(rowOf(before.days, w.boundary)).toEqual([2, 2, 2, 4, 0, 60, 10]);
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toEqual(before.days);
    expect(await ask(w.projectId, bySource(w.range), w.owner)).toEqual(before.sources);
  });

  it('never recomputes the day the purge cut into, however its hours are marked', async () => {
    await markEventHoursStatement(w.projectId).run();
    // Marked, yet read from its rollups: the boundary day is not half of itself meanwhile.
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toEqual(before.days);
    await rollUpAll(env, Date.now());
    expect(await rollupRows(w.projectId, w.boundary)).toEqual(before.boundaryRows);
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toEqual(before.days);
  });

  it('keeps every day through a timezone change, before and after the cron', async () => {
    const res = await api(`/api/projects/${w.projectId}`, {
      method: 'PATCH',
      token: w.owner.token,
      body: { timezone: 'Asia/Tokyo' },
    });
    expect(res.status).toBe(200);
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toEqual(before.days);
    await rollUpAll(env, Date.now());
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toEqual(before.days);
    expect(await rollupRows(w.projectId, w.boundary)).toEqual(before.boundaryRows);
  });

  it('recounts revenue in a new currency only where raw events remain; older days keep theirs', async () => {
    const res = await api(`/api/projects/${w.projectId}`, {
      method: 'PATCH',
      token: w.owner.token,
      body: { currency: 'EUR' },
    });
    expect(res.status).toBe(200);
    await rollUpAll(env, Date.now());
    const after = (await ask(w.projectId, byDay(w.range), w.owner)) as Answer;
    expect(rowOf(after, w.old)).toEqual(rowOf(before.days, w.old));
    expect(rowOf(after, w.boundary)).toEqual(rowOf(before.days, w.boundary));
    // The recent day's EUR visit now counts, its USD visit no longer does.
    expect(rowOf(before.days, w.recent)?.[6]).toBe(10);
    expect(rowOf(after, w.recent)?.[6]).toBe(7);
    expect(await rollupRows(w.projectId, w.boundary)).toEqual(before.boundaryRows);
  });

  it('counts a new goal, and a rematched one, where raw events remain, and says the older days are not available', async () => {
    const created = await api(`/api/projects/${w.projectId}/goals`, {
      method: 'POST',
      token: w.owner.token,
      body: { name: 'Signed up', kind: 'event', eventName: 'signup' },
    });
    expect(created.status).toBe(201);
    const goalId = (await created.json<{ id: string }>()).id;
    const goals: OracleQuery = {
      metrics: ['visitors', 'events'],
      date_range: w.range,
      dimensions: ['event:goal'],
    };
    // Defined after the purge: the days it cut into, or took, hold nothing of this goal.
    const unavailable = [{ from: w.range[0], to: w.boundary, reason: 'goal', name: 'Signed up' }];
    const expectGoal = async () => {
      // Raw now (the goal's hours are marked), then from goal rollups: the same answer.
      for (const pass of ['raw', 'rolled']) {
        const answer = (await ask(w.projectId, goals, w.owner)) as Answer;
        expect(answer.meta.unavailable, pass).toEqual(unavailable);
        // Only the recent day counts (the boundary day's kept visit is not: its day is partial).
        expect(answer.results, pass).toEqual([{ dimensions: ['Signed up'], metrics: [2, 2] }]);
        if (pass === 'raw') await rollUpAll(env, Date.now());
      }
    };
    await expectGoal();
    expect(await rollupRows(w.projectId, w.boundary)).toEqual(before.boundaryRows);

    const rematched = await api(`/api/projects/${w.projectId}/goals/${goalId}`, {
      method: 'PATCH',
      token: w.owner.token,
      body: { kind: 'pageview', path: '/pricing' },
    });
    expect(rematched.status).toBe(200);
    const pageGoal = await ask(w.projectId, goals, w.owner);
    expect((pageGoal as Answer).meta.unavailable).toEqual(unavailable);
    await rollUpAll(env, Date.now());
    expect(await ask(w.projectId, goals, w.owner)).toEqual(pageGoal);
    expect(await ask(w.projectId, byDay(w.range), w.owner)).toMatchObject({
      results: expect.arrayContaining([{ dimensions: [w.old], metrics: rowOf(before.days, w.old) }]),
    });
  });

  it('says a raw read over purged days is not the whole answer', async () => {
    // Two values of one filter are read raw (a visitor may have both); one value reads its rollup rows.
    const filtered = (await ask(
      w.projectId,
      { metrics: ['visitors'], date_range: w.range, filters: [['is', 'source', ['Google', 'news']]] },
      w.owner,
    )) as Answer;
    expect(filtered.meta.unavailable).toEqual([{ from: w.range[0], to: w.boundary, reason: 'retention' }]);
    const lone = (await ask(
      w.projectId,
      { metrics: ['visitors'], date_range: w.range, filters: [['is', 'source', ['Google']]] },
      w.owner,
    )) as Answer;
    expect(lone.meta.unavailable).toBeUndefined();
  });
});

describe('a dimension newer than a day’s rollups', () => {
  it('is read raw while the day is complete, rolled up again by the cron, and "not available" once its raw events are gone', async () => {
    const owner = await signUp();
    const events = [
      event('2026-05-01T10:00:00Z', { language: 'de', session_id: 'a', visitor_id: 'a' }),
      event('2026-05-02T10:00:00Z', { language: 'en-US', session_id: 'b', visitor_id: 'b' }),
    ];
    const projectId = await seed('UTC', events, [], owner);
    const now = Date.UTC(2026, 4, 10);
    await rollUpAll(env, now);
    // As if both days had been rolled up before `language` existed (catalog version 1).
    await env.DB.batch([
      env.DB.prepare('UPDATE rolled_days SET version = 1 WHERE project_id = ?').bind(projectId),
      env.DB.prepare(`DELETE FROM rollups WHERE project_id = ? AND dimension = 'language'`).bind(projectId),
    ]);
    const query: OracleQuery = {
      metrics: ['visitors'],
      date_range: ['2026-05-01', '2026-05-02'],
      dimensions: ['language'],
    };
    const exact = {
      results: [
        { dimensions: ['de'], metrics: [1] },
        { dimensions: ['en-US'], metrics: [1] },
      ],
      meta: {},
    };
    expect(await ask(projectId, query, owner)).toEqual(exact);
    await rollUpAll(env, now);
    const versions = await env.DB.prepare('SELECT DISTINCT version FROM rolled_days WHERE project_id = ?')
      .bind(projectId)
      .all<{ version: number }>();
    expect(versions.results).toEqual([{ version: CATALOG_VERSION }]);
    expect(await ask(projectId, query, owner)).toEqual(exact);

    // Days rolled without it whose raw events are gone cannot have it: said, not answered as zero.
    await env.DB.batch([
      env.DB.prepare(`UPDATE rolled_days SET version = 1 WHERE project_id = ? AND day = '2026-05-01'`).bind(projectId),
      env.DB.prepare(`DELETE FROM rollups WHERE project_id = ? AND dimension = 'language' AND day = '2026-05-01'`).bind(
        projectId,
      ),
      env.DB.prepare(`DELETE FROM events WHERE project_id = ? AND ts < ?`).bind(projectId, Date.UTC(2026, 4, 2)),
      env.DB.prepare(
        'INSERT INTO rollup_state (project_id, version, updated_at, raw_from) VALUES (?, 1, 0, ?) ON CONFLICT (project_id) DO UPDATE SET raw_from = excluded.raw_from, version = version + 1',
      ).bind(projectId, Date.UTC(2026, 4, 1, 12)),
    ]);
    expect(await ask(projectId, query, owner)).toEqual({
      results: [{ dimensions: ['en-US'], metrics: [1] }],
      meta: { unavailable: [{ from: '2026-05-01', to: '2026-05-01', reason: 'dimension', name: 'language' }] },
    });
  });
});
