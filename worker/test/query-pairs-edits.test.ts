/**
 * Filtered goal and funnel rows go with their definition: a goal rematched A → B → A finds no rows
 * of A left on days past retention (where nothing rolls them again), and deleting a goal or a
 * funnel deletes its filtered rows with its other rows.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { api } from './accounts.ts';
import type { OracleQuery } from './query-oracle.ts';
import { ask, event, purgedBefore, seed, signUp } from './query-oracle-harness.ts';

describe('filtered goal and funnel rows after an edit', () => {
  it('of a goal rematched and back agree with the unfiltered goals panel on purged days', async () => {
    const owner = await signUp();
    const events = [
      event('2026-05-01T10:00:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a' }),
      event('2026-05-01T10:01:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a', seq: 2, name: 'signup' }),
      event('2026-05-03T10:00:00Z', { source: 'Google', session_id: 'b', visitor_id: 'b', name: 'signup' }),
    ];
    const projectId = await seed(
      'UTC',
      events,
      [{ name: 'Signup', kind: 'event', path: null, event_name: 'signup', property_key: null, property_value: null }],
      owner,
    );
    const goalPath = `/api/projects/${projectId}/goals/${projectId}-g0`;
    const now = Date.UTC(2026, 4, 10);
    await rollUpAll(env, now);
    // Retention purges day 1 (its rollups stay, as the purge leaves them).
    await env.DB.batch([...purgedBefore(projectId, Date.UTC(2026, 4, 2))]);
    // Rematch to 'click', roll, and back to 'signup' (key A again), roll.
    for (const eventName of ['click', 'signup']) {
      const res = await api(goalPath, { method: 'PATCH', token: owner.token, body: { kind: 'event', eventName } });
      expect(res.status, await res.clone().text()).toBe(200);
      await rollUpAll(env, now);
    }
    const query: OracleQuery = {
      metrics: ['visitors', 'events'],
      date_range: ['2026-05-01', '2026-05-03'],
      dimensions: ['event:goal'],
    };
    const unfiltered = (await ask(projectId, query, owner)) as { results: unknown[] };
    const filtered = (await ask(projectId, { ...query, filters: [['is', 'source', ['Google']]] }, owner)) as {
      results: unknown[];
    };
    // Every event is from Google: the filtered answer must be the unfiltered one.
    expect(filtered.results).toEqual(unfiltered.results);
  });

  it('are deleted with their goal', async () => {
    const owner = await signUp();
    const events = [
      event('2026-05-01T10:01:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a', name: 'signup' }),
    ];
    const projectId = await seed(
      'UTC',
      events,
      [{ name: 'Signup', kind: 'event', path: null, event_name: 'signup', property_key: null, property_value: null }],
      owner,
    );
    await rollUpAll(env, Date.UTC(2026, 4, 10));
    const res = await api(`/api/projects/${projectId}/goals/${projectId}-g0`, { method: 'DELETE', token: owner.token });
    expect(res.status).toBe(204);
    const count = async (table: string) =>
      (
        await env.DB.prepare(
          `SELECT COUNT(*) AS n FROM ${table} WHERE project_id = ? AND value LIKE '"${projectId}-g0:%'`,
        )
          .bind(projectId)
          .first<{ n: number }>()
      )?.n;
    expect(await count('rollups')).toBe(0);
    expect(await count('pair_rollups')).toBe(0);
  });

  it('are deleted with their funnel', async () => {
    const owner = await signUp();
    const events = [
      event('2026-05-01T10:00:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a' }),
      event('2026-05-01T10:01:00Z', { source: 'Google', session_id: 'a', visitor_id: 'a', seq: 2, name: 'signup' }),
    ];
    const projectId = await seed('UTC', events, [], owner);
    const steps = [
      { kind: 'pageview', path: '/' },
      { kind: 'event', eventName: 'signup' },
    ];
    const made = await api(`/api/projects/${projectId}/funnels`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'Signup', steps },
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { id } = (await made.json()) as { id: string };
    await rollUpAll(env, Date.UTC(2026, 4, 10));
    const count = async () =>
      (
        await env.DB.prepare(`SELECT COUNT(*) AS n FROM pair_rollups WHERE project_id = ? AND value LIKE '"${id}:%'`)
          .bind(projectId)
          .first<{ n: number }>()
      )?.n;
    expect(await count()).toBeGreaterThan(0);
    const res = await api(`/api/projects/${projectId}/funnels/${id}`, { method: 'DELETE', token: owner.token });
    expect(res.status).toBe(204);
    expect(await count()).toBe(0);
  });
});
