/**
 * Days rolled at an older catalog right after `raw_from` (the first complete ones, which the
 * archive waits on) are rolled again like any other (`markStaleDays`), and days the purge cut into
 * never keep them waiting, however many there are.
 */
import { env } from 'cloudflare:workers';
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { describe, expect, it } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { event, purgedBefore, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

describe('stale days beside raw_from', () => {
  it('are rolled again at the current catalog while complete', async () => {
    const events = [1, 2, 3, 4, 5].map((d) =>
      event(`2026-05-0${d}T10:00:00Z`, { session_id: `s${d}`, visitor_id: `v${d}` }),
    );
    const projectId = await seed('UTC', events, []);
    const now = Date.UTC(2026, 4, 10);
    await rollUpAll(env, now);
    await env.DB.batch([
      ...purgedBefore(projectId, Date.UTC(2026, 4, 2)),
      env.DB.prepare('UPDATE rolled_days SET version = ? WHERE project_id = ?').bind(CATALOG_VERSION - 1, projectId),
    ]);
    // Ahead of them in day order, 600 stale days that can never be rolled again (a project this
    // database does not hold): more than a page.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 599)
       INSERT INTO rolled_days (project_id, day, version) SELECT 'gone-' || i, '2000-01-01', 1 FROM n`,
    ).run();
    for (let i = 0; i < 5; i++) await rollUpAll(env, now);
    const { results } = await env.DB.prepare('SELECT day, version FROM rolled_days WHERE project_id = ? ORDER BY day')
      .bind(projectId)
      .all();
    // 05-01 is purged (stays); 05-02 … 05-05 are complete and should be current.
    expect(results.filter((r) => (r.day as string) >= '2026-05-02')).toEqual(
      ['2026-05-02', '2026-05-03', '2026-05-04', '2026-05-05'].map((day) => ({ day, version: CATALOG_VERSION })),
    );
  });
});
