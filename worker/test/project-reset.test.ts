/**
 * `POST /api/projects/{id}/reset` (owner: the data goes, the settings stay, and no event the
 * ProjectDO had sent comes back) and `GET /api/projects/{id}/property-keys` (what the dashboard
 * offers for property breakdowns).
 */
import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { resetProjectData } from '../src/store/index.ts';
import { addMember, api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { admitOne, freshProject, MINUTE, PINNED_NOW, randomFingerprint, waitForEvents } from './fixtures.ts';
import { expectError, markEventHoursStatement } from './helpers.ts';

/** Events straight into D1 (with their hours marked, as the consumer does). */
async function insertEvents(projectId: string, rows: { ts: number; name: string; props?: object }[]): Promise<void> {
  const insert = env.DB.prepare(
    `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path, props)
     VALUES (?, ?, ?, ?, ?, 'v', ?, 1, 1, 'example.com', '/', ?)`,
  );
  await env.DB.batch([
    ...rows.map((row) =>
      insert.bind(
        projectId,
        crypto.randomUUID(),
        row.ts,
        row.ts,
        row.name,
        crypto.randomUUID(),
        row.props ? JSON.stringify(row.props) : null,
      ),
    ),
    markEventHoursStatement(projectId),
  ]);
}

const count = async (table: string, projectId: string) =>
  (
    await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE project_id = ?`)
      .bind(projectId)
      .first<{ n: number }>()
  )?.n;

describe('resetting a project', () => {
  it('deletes its events, rollups and drop counts, keeps its goals, and answers zero afterwards', async () => {
    const owner = await signUp();
    const project = await createProjectAs(owner.token);
    await insertEvents(project.id, [{ ts: Date.UTC(2026, 5, 1, 10), name: 'pageview' }]);
    await env.DB.prepare("INSERT INTO drop_counts (project_id, day, reason, count) VALUES (?, '2026-06-01', 'bot', 3)")
      .bind(project.id)
      .run();
    await rollUpAll(env, Date.now());
    await expectJson(
      await api(`/api/projects/${project.id}/goals`, {
        method: 'POST',
        token: owner.token,
        body: { name: 'Signup', kind: 'event', eventName: 'signup' },
      }),
      201,
    );
    const query = { project: project.id, metrics: ['pageviews'], date_range: ['2026-06-01', '2026-06-01'] };
    const pageviews = async () =>
      (
        await expectJson<{ results: { metrics: number[] }[] }>(
          await api('/api/v1/query', { method: 'POST', token: owner.token, body: query }),
          200,
        )
      ).results[0]?.metrics[0];
    expect(await pageviews()).toBe(1);

    const res = await api(`/api/projects/${project.id}/reset`, { method: 'POST', token: owner.token });
    expect(res.status).toBe(204);
    for (const table of ['events', 'rollups', 'rollup_dirty', 'drop_counts']) {
      expect(await count(table, project.id), table).toBe(0);
    }
    expect(await count('goals', project.id)).toBe(1);
    // The cached answer does not outlive the reset.
    expect(await pageviews()).toBe(0);
  });

  it('is the owner’s alone: an admin is refused, a stranger does not see the project', async () => {
    const [owner, admin, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const project = await createProjectAs(owner.token);
    await addMember(owner.token, project.id, admin.email, 'admin');
    await expectError(
      await api(`/api/projects/${project.id}/reset`, { method: 'POST', token: admin.token }),
      403,
      'forbidden',
    );
    await expectError(
      await api(`/api/projects/${project.id}/reset`, { method: 'POST', token: stranger.token }),
      404,
      'not_found',
    );
  });
});

describe('a reset, then the ProjectDO started again', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Admit one event, send it and wait until D1 holds it; then reset the project. */
  async function sentThenReset(prefix: string) {
    vi.setSystemTime(PINNED_NOW);
    const project = await freshProject(prefix);
    const admitted = await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW);
    if (!admitted.ok) expect.fail('refused');
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    await waitForEvents(project.id, 1);
    // The object's own alarm (set by mocked time, so due at once) may have sent it too: let the
    // queue settle (its batches wait up to a second), so that only a send after the reset can count.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await resetProjectData(env, project.id, Date.now());
    expect(await count('events', project.id)).toBe(0);
    return project;
  }

  it('woken by its alarm (which it then finds cleared), does not bring the deleted events back', async () => {
    const project = await sentThenReset('reset-woken');
    // The runtime clears a firing alarm before the object starts: with rows in its log, the object
    // then looks for rows an earlier run may not have sent, and asks D1 about them.
    await runInDurableObject(project.stub, (_instance, state) => state.storage.deleteAlarm());
    await evictDurableObject(project.stub);
    vi.setSystemTime(PINNED_NOW + 10 * MINUTE);
    expect(await project.stub.pendingEvents()).toBe(0);
    await runDurableObjectAlarm(project.stub);
    // Give the queue's consumer time to write whatever would have been sent.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await count('events', project.id)).toBe(0);
  }, 30_000);

  it('by its own alarm after its log expired, does not bring them back either', async () => {
    const project = await sentThenReset('reset-expired');
    await evictDurableObject(project.stub);
    vi.setSystemTime(PINNED_NOW + 81 * MINUTE);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    await runDurableObjectAlarm(project.stub);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await count('events', project.id)).toBe(0);
  }, 30_000);
});

describe('property keys', () => {
  it('lists the distinct keys of the last 30 days by name, of one event if asked, to any member', async () => {
    const [owner, viewer] = await Promise.all([signUp(), signUp()]);
    const project = await createProjectAs(owner.token);
    await addMember(owner.token, project.id, viewer.email, 'viewer');
    const now = Date.now();
    await insertEvents(project.id, [
      { ts: now - 60_000, name: 'signup', props: { plan: 'pro', seats: 3 } },
      { ts: now - 120_000, name: 'download', props: { file: 'a.pdf', plan: 'free' } },
      { ts: now - 40 * 86_400_000, name: 'signup', props: { old: true } },
      { ts: now - 1_000, name: 'pageview' },
    ]);
    const keys = async (query = '') =>
      (
        await expectJson<{ keys: string[] }>(
          await api(`/api/projects/${project.id}/property-keys${query}`, { token: viewer.token }),
          200,
        )
      ).keys;
    expect(await keys()).toEqual(['file', 'plan', 'seats']);
    expect(await keys('?event=signup')).toEqual(['plan', 'seats']);
    await expectError(
      await api(`/api/projects/${project.id}/property-keys`, { token: (await signUp()).token }),
      404,
      'not_found',
    );
  });
});
