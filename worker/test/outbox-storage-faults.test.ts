/**
 * The ProjectDO's own SQLite full or failing: an admission whose outbox row cannot be written is
 * answered 503 (never 202), and the client's retry with the same event ids is stored once; a flush
 * whose bookkeeping cannot be written loses and duplicates nothing. The fault is the real object's
 * SQL handle made to throw SQLite's own error for the statements chosen (workerd refuses
 * `PRAGMA max_page_count`, so storage cannot be filled for real); everything else is real.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProjectDO } from '../src/live/index.ts';
import { PINNED_NOW, projectStub } from './fixtures.ts';
import { QueueSimulator, seededRandom } from './hardening-queue.ts';
import { DELIBERATE_CRASH } from './deliberate-crash.ts';
import { expectLogs } from './expected-logs.ts';
import { createProject, expectError, pageview, postEvent, type TestProject } from './helpers.ts';

/**
 * What SQLite answers a write when the object's storage is full. workerd reports the RPC's failure
 * as an uncaught exception; the marker keeps that expected report out of the output.
 */
const DO_FULL = `database or disk is full: SQLITE_FULL (${DELIBERATE_CRASH})`;

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Make the project's object throw `DO_FULL` for the statements `when` picks, until the returned
 * function is called. Patches the object's one SQL handle (every store in it shares that handle).
 */
async function failStorage(
  projectId: string,
  when: (sql: string) => boolean,
  refused = { count: 0 },
): Promise<() => Promise<void>> {
  const stub = projectStub(projectId);
  await runInDurableObject(stub, (_instance: ProjectDO, state) => {
    const sql = state.storage.sql as SqlStorage & { exec: SqlStorage['exec'] };
    const exec = sql.exec.bind(sql);
    Object.defineProperty(sql, 'exec', {
      configurable: true,
      value: (query: string, ...bindings: unknown[]) => {
        if (when(query)) {
          refused.count++;
          throw new Error(DO_FULL);
        }
        return exec(query, ...bindings);
      },
    });
  });
  return () =>
    runInDurableObject(stub, (_instance: ProjectDO, state) => {
      Reflect.deleteProperty(state.storage.sql, 'exec');
    });
}

const INSERTS = (sql: string) => /^\s*INSERT/i.test(sql);
const WRITES = (sql: string) => /^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP)/i.test(sql);

function request(project: TestProject, n: number) {
  return Array.from({ length: 2 }, (_, i) =>
    pageview(project.siteKey, { u: `https://example.com/${n}/${i}`, i: crypto.randomUUID() }),
  );
}

async function storedIds(projectId: string): Promise<string[]> {
  const { results } = await env.DB.prepare('SELECT id FROM events WHERE project_id = ?')
    .bind(projectId)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

describe('the ProjectDO’s storage full', () => {
  it('answers 503, not 202, for events it cannot write; the retry is stored once', async () => {
    const admitFailures = expectLogs('error', /^ProjectDO admit failed: /);
    const project = await createProject();
    const first = request(project, 1);
    expect((await postEvent(first)).status).toBe(202);

    const heal = await failStorage(project.id, INSERTS);
    const refused = request(project, 2);
    const res = await postEvent(refused);
    await expectError(res, 503, 'unavailable');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await projectStub(project.id).pendingEvents()).toBe(first.length);
    await heal();

    // The tracker sends the same body again: the same event ids.
    const retried = await postEvent(refused);
    expect(retried.status).toBe(202);
    const queues = new QueueSimulator({ crashBefore: 0, crashAfter: 0, d1Before: 0, d1After: 0 }, seededRandom(3));
    await queues.flush(project.id);
    await queues.drain();
    const ids = await storedIds(project.id);
    expect(ids.sort()).toEqual([...first, ...refused].map((event) => event.i).sort());
    expect(admitFailures.lines).toEqual([`ProjectDO admit failed: ${DO_FULL}`]);
  });

  it('loses and duplicates nothing when a flush cannot write its bookkeeping', async () => {
    const project = await createProject();
    const accepted = [request(project, 1), request(project, 2), request(project, 3)];
    for (const body of accepted) expect((await postEvent(body)).status).toBe(202);
    const queues = new QueueSimulator({ crashBefore: 0, crashAfter: 0, d1Before: 0, d1After: 0 }, seededRandom(4));

    // Every write of the object fails while the alarm sends: what it sent may be sent again.
    const refused = { count: 0 };
    const heal = await failStorage(project.id, WRITES, refused);
    await queues.flush(project.id).catch(() => undefined);
    await heal();
    expect(refused.count).toBeGreaterThan(0);
    const sentDuringFault = queues.waiting.main;
    const more = request(project, 4);
    expect((await postEvent(more)).status).toBe(202);
    await queues.flush(project.id);
    expect(await projectStub(project.id).pendingEvents()).toBe(0);
    await queues.drain();
    console.log(`outbox storage fault: ${refused.count} writes refused, ${sentDuringFault} messages sent meanwhile`);

    const ids = await storedIds(project.id);
    expect(ids.sort()).toEqual([...accepted.flat(), ...more].map((event) => event.i).sort());
  });
});
