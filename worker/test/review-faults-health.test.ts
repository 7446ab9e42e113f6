/**
 * Review repros (failing) for wip/store-faults: `GET /api/health` keeps saying D1 is failing after
 * D1 has recovered, because a fault is cleared only by a consumer success in the same isolate that
 * reported it (`reported` is module state), and never by the cron. In production, consumer and
 * cron invocations run in many isolates; health then answers 503 for up to FAULT_FRESH_MS (15 min).
 */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { runScheduled } from '../src/cron.ts';
import { consumeBatch } from '../src/pipeline/index.ts';
import { D1_FULL, FaultyD1, WRITES } from './d1-faults.ts';
import { eventsBody, messageBatch, PINNED_NOW, storedEvent } from './fixtures.ts';
import { expectLogs } from './expected-logs.ts';
import { createProject } from './helpers.ts';

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await exports.default.fetch('http://tally.test/api/health');
  return { status: res.status, body: await res.json() };
}

describe('review: health after D1 recovers', () => {
  it('is ok once the consumer writes again, even if another isolate reported the fault', async () => {
    // What a consumer in another isolate reported a minute ago.
    const registry = env.STORE_HEALTH.get(env.STORE_HEALTH.idFromName('stores'));
    await registry.report({ store: 'd1', code: 'store_full', at: Date.now() - 60_000 });
    expect((await health()).status).toBe(503);

    const project = await createProject();
    const batch = messageBatch('tally-events', [eventsBody([storedEvent({ projectId: project.id })])]);
    await consumeBatch(batch, env);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);
    // Fails on the branch: 503, d1 failing store_full, for 15 minutes.
    expect(await health()).toMatchObject({ status: 200, body: { stores: { d1: { status: 'ok' } } } });
  });

  it('is ok once a cron tick writes again after a cron tick that found D1 full', async () => {
    expectLogs('error', /^cron: /);
    // An event, so that its hour is marked and the cron's rollups have something to write.
    const project = await createProject();
    await consumeBatch(messageBatch('tally-events', [eventsBody([storedEvent({ projectId: project.id })])]), env);
    const d1 = new FaultyD1();
    d1.fault = { message: D1_FULL, when: (sql) => WRITES.test(sql) };
    const now = PINNED_NOW + 2 * 86_400_000 + 30 * 60_000;
    await runScheduled({ ...env, DB: d1.db }, now).catch(() => undefined);
    expect((await health()).status).toBe(503);
    await runScheduled(env, now + 300_000);
    // Fails on the branch: the cron reports faults but never recovery.
    expect(await health()).toMatchObject({ status: 200, body: { stores: { d1: { status: 'ok' } } } });
  });
});
