/**
 * A reset removes every filtered row (`pair_rollups`, WITHOUT ROWID: deleted by its primary key),
 * and only the project's.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { resetProjectData } from '../src/store/index.ts';
import { event, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

const pairRows = async (projectId: string) =>
  (
    await env.DB.prepare('SELECT COUNT(*) AS n FROM pair_rollups WHERE project_id = ?')
      .bind(projectId)
      .first<{ n: number }>()
  )?.n;

describe('pair_rollups and reset', () => {
  it('a reset removes every filtered row, and only the project’s', async () => {
    const events = [
      event('2026-05-01T10:00:00Z', { source: 'Google' }),
      event('2026-05-02T10:00:00Z', { source: 'x' }),
    ];
    const [a, b] = [await seed('UTC', events, []), await seed('UTC', events, [])];
    await rollUpAll(env, Date.UTC(2026, 4, 10));
    expect(await pairRows(a)).toBeGreaterThan(0);
    const before = await pairRows(b);
    await resetProjectData(env, a, Date.UTC(2026, 4, 10));
    expect(await pairRows(a)).toBe(0);
    expect(await pairRows(b)).toBe(before);
  });
});
