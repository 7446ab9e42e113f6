/**
 * Days rolled before catalog 4 have no filtered rows (`pair_rollups`): a filtered view reads them raw
 * while complete, and a range holding a purged one goes raw (`pairsHeld`), never zero from missing
 * rows; an unfiltered view still reads their rollups (`UNFILTERED_VERSION`). Filtered goal rows
 * came with catalog 5: a filtered goal breakdown reads days rolled at 4 raw.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { UNFILTERED_VERSION } from '@tally/sdk/catalog';
import { rollUpAll } from '../src/rollup/index.ts';
import { type OracleQuery, runOracle } from './query-oracle.ts';
import { ask, event, seed, signInBeforeAll } from './query-oracle-harness.ts';
import type { OracleGoal } from './query-oracle-goals.ts';

signInBeforeAll();

describe('filtered rollups of days rolled before catalog 4', () => {
  it('read raw while complete; a purged one sends the view raw, never zero from missing rows', async () => {
    const events = [
      event('2026-05-01T10:00:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a' }),
      event('2026-05-02T10:00:00Z', { source: 'Google', session_id: 'b', visitor_id: 'b' }),
      event('2026-05-03T10:00:00Z', { source: 'Google', session_id: 'c', visitor_id: 'c' }),
    ];
    const projectId = await seed('UTC', events, []);
    const now = Date.UTC(2026, 4, 10);
    await rollUpAll(env, now);
    // As if rolled with catalog 3: no filtered rows.
    await env.DB.batch([
      env.DB.prepare('UPDATE rolled_days SET version = 3 WHERE project_id = ?').bind(projectId),
      env.DB.prepare('DELETE FROM pair_rollups WHERE project_id = ?').bind(projectId),
    ]);
    const query: OracleQuery = {
      metrics: ['visitors'],
      date_range: ['2026-05-01', '2026-05-03'],
      dimensions: ['page'],
      filters: [['is', 'source', ['Google']]],
    };
    expect(await ask(projectId, query)).toEqual(runOracle(events, query, { timezone: 'UTC' }));
    // Unfiltered, the same days are read from their rollups: a changed rollup row shows (asked
    // only after the change, so no cached answer hides it).
    const unfiltered: OracleQuery = { ...query, filters: [], metrics: ['pageviews'] };
    await env.DB.prepare(`UPDATE rollups SET pageviews = pageviews + 100 WHERE project_id = ? AND dimension = 'page'`)
      .bind(projectId)
      .run();
    expect(await ask(projectId, unfiltered)).not.toEqual(runOracle(events, unfiltered, { timezone: 'UTC' }));
    await env.DB.prepare(`UPDATE rollups SET pageviews = pageviews - 100 WHERE project_id = ? AND dimension = 'page'`)
      .bind(projectId)
      .run();
    // Day 1 purged while still rolled with catalog 3; days 2-3 re-rolled with catalog 4 (pair rows).
    await rollUpAll(env, now);
    await env.DB.batch([
      env.DB.prepare(`UPDATE rolled_days SET version = 3 WHERE project_id = ? AND day = '2026-05-01'`).bind(projectId),
      env.DB.prepare(`DELETE FROM pair_rollups WHERE project_id = ? AND day = '2026-05-01'`).bind(projectId),
      env.DB.prepare('DELETE FROM events WHERE project_id = ? AND ts < ?').bind(projectId, Date.UTC(2026, 4, 2)),
      env.DB.prepare(
        'INSERT INTO rollup_state (project_id, version, updated_at, raw_from) VALUES (?, 1, 0, ?) ON CONFLICT (project_id) DO UPDATE SET raw_from = excluded.raw_from, version = version + 1',
      ).bind(projectId, Date.UTC(2026, 4, 1, 12)),
    ]);
    const answer = (await ask(projectId, { ...query, limit: 99 })) as {
      results: unknown[];
      meta: { unavailable?: unknown[] };
    };
    expect(answer.results).toEqual([{ dimensions: ['/'], metrics: [2] }]);
    expect(answer.meta.unavailable).toEqual([{ from: '2026-05-01', to: '2026-05-01', reason: 'retention' }]);
  });

  it('of goals (catalog 5) read days rolled at 4 raw, whose other filtered rows still answer', async () => {
    const goals: OracleGoal[] = [
      { name: 'Signup', kind: 'event', path: null, event_name: 'signup', property_key: null, property_value: null },
    ];
    const events = [
      event('2026-05-01T10:00:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a' }),
      event('2026-05-01T10:01:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a', seq: 2, name: 'signup' }),
      event('2026-05-02T10:00:00Z', { source: 'Google', session_id: 'b', visitor_id: 'b', name: 'signup' }),
      event('2026-05-02T11:00:00Z', { source: null, session_id: 'c', visitor_id: 'c', name: 'signup' }),
    ];
    const projectId = await seed('UTC', events, goals);
    await rollUpAll(env, Date.UTC(2026, 4, 10));
    // As if rolled with catalog 4: filtered rows, but none for goals.
    await env.DB.batch([
      env.DB.prepare('UPDATE rolled_days SET version = 4 WHERE project_id = ?').bind(projectId),
      env.DB.prepare("DELETE FROM pair_rollups WHERE project_id = ? AND dimension ->> '$[2]' = 'event:goal'").bind(
        projectId,
      ),
      env.DB.prepare(
        "UPDATE pair_rollups SET visitors = visitors + 100 WHERE project_id = ? AND dimension ->> '$[2]' = 'page'",
      ).bind(projectId),
    ]);
    const data = { timezone: 'UTC', goals };
    const byGoal: OracleQuery = {
      metrics: ['visitors', 'events', 'conversion_rate'],
      date_range: ['2026-05-01', '2026-05-03'],
      dimensions: ['event:goal'],
      filters: [['is', 'source', ['Google']]],
    };
    expect(await ask(projectId, byGoal)).toEqual(runOracle(events, byGoal, data));
    // The page rows still answer (the corrupted count shows).
    const byPage: OracleQuery = { ...byGoal, metrics: ['visitors'], dimensions: ['page'] };
    expect(await ask(projectId, byPage)).not.toEqual(runOracle(events, byPage, data));
  });

  it('leave the open day read hour by hour: hours rolled since UNFILTERED_VERSION stay current', async () => {
    const now = Date.UTC(2026, 4, 10, 15, 20);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const events = [
      event('2026-05-10T09:00:00Z', { session_id: 'a', visitor_id: 'a' }),
      event('2026-05-10T11:00:00Z', { session_id: 'b', visitor_id: 'b' }),
    ];
    const projectId = await seed('UTC', events, []);
    await rollUpAll(env, now);
    const query: OracleQuery = {
      metrics: ['pageviews'],
      date_range: ['2026-05-10', '2026-05-10'],
      dimensions: ['page'],
    };
    const expected = runOracle(events, query, { timezone: 'UTC' });
    expect(await ask(projectId, query)).toEqual(expected);
    // Hourly rows altered: they show while their hours count as rolled (each question new: no cache).
    await env.DB.batch([
      env.DB.prepare(
        `UPDATE rollup_hours SET pageviews = pageviews + 100 WHERE project_id = ? AND dimension = 'page'`,
      ).bind(projectId),
      env.DB.prepare('UPDATE rolled_hours SET version = ? WHERE project_id = ?').bind(UNFILTERED_VERSION, projectId),
    ]);
    expect(await ask(projectId, { ...query, limit: 98 })).not.toEqual(expected);
    await env.DB.prepare('UPDATE rolled_hours SET version = ? WHERE project_id = ?')
      .bind(UNFILTERED_VERSION - 1, projectId)
      .run();
    expect(await ask(projectId, { ...query, limit: 97 })).toEqual({ ...expected });
    vi.useRealTimers();
  });
});
