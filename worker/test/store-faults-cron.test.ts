/**
 * D1 full or unavailable under the cron and the stats API. The cron's rollups fail part-way (D1
 * full after k writes) without corrupting rollups or marks — each day is rolled whole or
 * stays marked — and the next tick ends where a run without the fault ends; health names the store.
 * A query or a management write answers 503 with `store_unavailable` / `store_full`, never 500.
 * Faults come from `FaultyD1` over the real binding (d1-faults.ts).
 */
import type { HealthResponse } from '@tally/sdk/protocol';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app.ts';
import { runScheduled } from '../src/cron.ts';
import { markAllEventHoursStatement } from '../src/store/index.ts';
import { D1_FULL, D1_UNAVAILABLE, FaultyD1, WRITES } from './d1-faults.ts';
import { expectLogs } from './expected-logs.ts';
import { expectError, ORIGIN } from './helpers.ts';
import { event, seed, signUp } from './query-oracle-harness.ts';

/** Half past an hour (no hourly auth cleanup or purge), days after the events below. */
const TICK = Date.parse('2026-05-06T10:30:00Z');
const EVENTS = ['2026-05-01T09:00:00Z', '2026-05-02T10:00:00Z', '2026-05-02T11:30:00Z', '2026-05-03T23:10:00Z'];

/** A project's rollup rows and rolled days (without the project id), and its marked hours. */
async function rollupState(projectId: string) {
  const rows = async (sql: string) =>
    (await env.DB.prepare(sql).bind(projectId).all<Record<string, unknown>>()).results.map(
      ({ project_id: _, ...rest }) => JSON.stringify(rest),
    );
  return {
    rollups: (await rows('SELECT * FROM rollups WHERE project_id = ?')).sort(),
    rolledDays: (await rows('SELECT * FROM rolled_days WHERE project_id = ?')).sort(),
    marks: (await rows('SELECT hour FROM rollup_dirty WHERE project_id = ?')).sort(),
  };
}

describe('the cron while D1 is full', () => {
  it.each([0, 1, 2])(
    'fails after %i writes, leaves each day rolled whole or still marked, and the next tick finishes the job',
    async (k) => {
      const failures = expectLogs('error', /^cron: rollups failed: /);
      const owner = await signUp();
      const projectId = await seed(
        'UTC',
        EVENTS.map((iso) => event(iso)),
        [],
        owner,
      );
      const before = await rollupState(projectId);
      expect(before.marks.length).toBeGreaterThan(0);

      const d1 = new FaultyD1();
      d1.fault = { message: D1_FULL, when: (sql) => WRITES.test(sql), skip: k };
      await expect(runScheduled({ ...env, DB: d1.db }, TICK)).rejects.toThrow('cron steps failed: rollups');
      expect(failures.lines).toEqual([`cron: rollups failed: D1_ERROR: ${D1_FULL}`]);
      const partial = await rollupState(projectId);
      console.log(`cron fault after ${k} writes: ${partial.marks.length} of ${before.marks.length} marks left`);
      const health = (await (await exports.default.fetch(`${ORIGIN}/api/health`)).json()) as HealthResponse;
      // The public answer names the store and the code, nothing of who saw it or how.
      expect(health.stores.d1).toEqual({ status: 'failing', code: 'store_full' });

      await runScheduled(env, TICK);
      const after = await rollupState(projectId);
      expect(after.marks).toEqual([]);
      // Each day of the failed run: its final rows and no mark, or no rows and its marks kept.
      const days = [...new Set(EVENTS.map((iso) => iso.slice(0, 10)))];
      for (const day of days) {
        const rowsOf = (state: typeof after) => state.rollups.filter((row) => row.includes(`"day":"${day}"`));
        const marked = partial.marks.some((hour) =>
          new Date(JSON.parse(hour).hour * 3_600_000).toISOString().startsWith(day),
        );
        expect(rowsOf(partial), day).toEqual(marked ? [] : rowsOf(after));
      }

      // The reference: the same events rolled up from scratch by a tick without any fault.
      await env.DB.batch([
        env.DB.prepare('DELETE FROM rollups WHERE project_id = ?').bind(projectId),
        env.DB.prepare('DELETE FROM rolled_days WHERE project_id = ?').bind(projectId),
        markAllEventHoursStatement(env.DB, projectId),
      ]);
      await runScheduled(env, TICK);
      expect(await rollupState(projectId)).toEqual(after);
    },
  );
});

describe('a request while D1 fails', () => {
  async function send(request: Request, d1: FaultyD1): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await app.fetch(request, { ...env, DB: d1.db }, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  it('answers a query 503 store_unavailable when its reads fail, never 500', async () => {
    const logged = expectLogs('error', /^storage unavailable \(store_unavailable\): /);
    const owner = await signUp();
    const projectId = await seed(
      'UTC',
      EVENTS.map((iso) => event(iso)),
      [],
      owner,
    );
    const d1 = new FaultyD1();
    d1.fault = { message: D1_UNAVAILABLE, when: (sql) => /\b(events|rollups)\b/.test(sql) };
    const res = await send(
      new Request(`${ORIGIN}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ project: projectId, metrics: ['visitors'], date_range: ['2026-05-01', '2026-05-03'] }),
      }),
      d1,
    );
    const error = await expectError(res, 503, 'store_unavailable');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(error.message).not.toMatch(/D1|SQLITE/);
    expect(d1.refused).toBeGreaterThan(0);
    expect(logged.lines.length).toBe(1);
  });

  it('answers a write 503 store_full when D1 is full, never 500', async () => {
    const logged = expectLogs('error', /^storage unavailable \(store_full\): /);
    const owner = await signUp();
    const projectId = await seed('UTC', [], [], owner);
    const d1 = new FaultyD1();
    d1.fault = { message: D1_FULL, when: (sql) => WRITES.test(sql) && /\bgoals\b/.test(sql) };
    const res = await send(
      new Request(`${ORIGIN}/api/projects/${projectId}/goals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Signup', kind: 'event', eventName: 'signup' }),
      }),
      d1,
    );
    const error = await expectError(res, 503, 'store_full');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(error.message).not.toMatch(/D1|SQLITE/);
    expect(logged.lines.length).toBe(1);
  });
});
