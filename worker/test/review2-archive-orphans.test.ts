/**
 * Review 2 of the R2 archive: objects that end up neither recorded nor pending (so no retention,
 * sweep or reset ever deletes them). Real D1 and R2 bindings; interleavings forced by gating statements.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { archiveOldDays } from '../src/rollup/index.ts';
import { dayBounds } from '../src/shared/calendar.ts';
import {
  type ArchiveLease,
  type ArchiveProject,
  ArchiveRefused,
  archivedDay,
  claimArchiveLease,
  commitDayArchive,
  deleteArchivedRows,
  deleteProject,
  PROJECT_TABLES,
  purgeExpiredArchives,
  releaseArchiveLease,
  resetProjectData,
  writeDayArchive,
} from '../src/store/index.ts';
import { ApiError } from '../src/shared/errors.ts';
import {
  archiveSuite,
  dayOf as dayOfIn,
  daysAgo,
  HOUR,
  keys,
  LABEL,
  leaseOn,
  NOW,
  once,
  TZ,
} from './archive-harness.ts';
import { event, writeLate } from './query-oracle-harness.ts';

/** A D1 that runs `run` once, before the first statement whose SQL includes `sql`. */
const before = (db: D1Database, sql: string, run: () => Promise<unknown>) => once(db, sql, 'before', run);

describe('review 2: archive objects nobody owns', () => {
  const suite = archiveSuite();
  /** A project with 3 events on the archived day, rolled up, with the default hot window. */
  async function dayOf(count: number) {
    const { projectId, project } = await dayOfIn(suite.owner(), count);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    return { projectId, project };
  }

  for (const [what, act] of [
    ['deleted', (db: D1Database, projectId: string) => deleteProject({ ...env, DB: db }, projectId)],
    ['reset', (db: D1Database, projectId: string) => resetProjectData({ ...env, DB: db }, projectId, NOW)],
  ] as const) {
    it(`a cron run that claims the lease while a project is being ${what} leaves no object behind`, async () => {
      const { projectId } = await dayOf(3);
      let ran: unknown;
      // The lease was revoked and the prefix listed; the rows are deleted a chunk at a time (one
      // statement per 5,000 rows per table): a cron tick claims the free lease meanwhile.
      const db = before(env.DB, 'DELETE FROM "events"', async () => {
        ran = await archiveOldDays(env.DB, env.ARCHIVE, NOW);
      });
      await act(db, projectId);
      expect(ran).toMatchObject({ days: 1 });
      // Nothing records or names what that run wrote any more…
      expect(await archivedDay(env.DB, projectId, LABEL)).toBeNull();
      const pending = await env.DB.prepare('SELECT key FROM archive_pending WHERE project_id = ?')
        .bind(projectId)
        .all();
      expect(pending.results).toEqual([]);
      // …so neither the sweep nor retention will ever delete it.
      vi.setSystemTime(NOW + 2 * HOUR);
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
      vi.setSystemTime(NOW);
      expect(await keys(projectId)).toEqual([]);
    });
  }

  it('a merge committed while the retention purge deletes the day leaves no object behind', async () => {
    const { projectId, project } = await dayOf(3);
    const [row] = (
      await env.DB.prepare('SELECT * FROM events WHERE project_id = ? LIMIT 1')
        .bind(projectId)
        .all<Record<string, unknown>>()
    ).results;
    if (!row) throw new Error('no row');
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, deleted: 3 });
    const k1 = (await archivedDay(env.DB, projectId, LABEL))?.key;
    // A late event for the archived day (a redelivered batch, a client clock).
    const late: Record<string, unknown> = { ...row, id: 'late-1', ts: (row.ts as number) + 5_000 };
    const cols = Object.keys(late);
    await env.DB.prepare(
      `INSERT INTO events (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    )
      .bind(...cols.map((c) => late[c]))
      .run();
    const lease = await claimArchiveLease(env.DB, projectId);
    if (!lease) throw new Error('lease');
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, lease);
    if (!written) throw new Error('nothing written');
    expect(written.key).not.toBe(k1);
    // The owner shortens retention; the hourly purge lists the day's record (K1), then the run commits K2.
    await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
    let committed: boolean | undefined;
    const gatedPurge = once(env.DB, 'SELECT a.project_id AS projectId, a.day, a.key', 'after', async () => {
      committed = await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, lease);
    });
    await purgeExpiredArchives(gatedPurge, env.ARCHIVE, NOW);
    expect(committed).toBe(true);
    await releaseArchiveLease(env.DB, lease);
    vi.setSystemTime(NOW + 2 * HOUR);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
    vi.setSystemTime(NOW);
    expect(await keys(projectId)).toEqual([]);
  });

  // The fixes' other interleavings: the fence of a deletion or reset against a run at each step,
  // and the retention purge against a merge in the other order.

  /** The day archived (its rows gone from D1), then a late event for it written to D1. */
  async function archivedWithLateEvent(project: ArchiveProject) {
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, deleted: 3 });
    const { start } = dayBounds(daysAgo(70), TZ);
    await writeLate(project.id, [event(new Date(start + 2 * HOUR).toISOString(), { visitor_id: 'late' })]);
    const recorded = await archivedDay(env.DB, project.id, LABEL);
    if (!recorded) throw new Error('not archived');
    return recorded;
  }

  it('a run whose commit meets the fence of a reset records nothing, and leaves no object', async () => {
    const { projectId, project } = await dayOf(3);
    const held = await leaseOn(projectId);
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, held);
    if (!written) throw new Error('nothing written');
    let committed: boolean | undefined;
    // The fence is up (the prefix not yet listed); the run, which claimed before, commits now.
    const db = once(env.DB, 'INSERT INTO archive_runs (project_id, holder, expires_at) VALUES', 'after', async () => {
      committed = await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, held);
    });
    await resetProjectData({ ...env, DB: db }, projectId, NOW);
    expect(committed).toBe(false);
    expect(await archivedDay(env.DB, projectId, LABEL)).toBeNull();
    expect(await keys(projectId)).toEqual([]);
    // The project archives again afterwards: the fence came down with the reset.
    expect(await claimArchiveLease(env.DB, projectId)).not.toBeNull();
  });

  it('a write that puts its object after a reset, while another run holds the lease, is swept', async () => {
    const { projectId, project } = await dayOf(3);
    const held = await leaseOn(projectId);
    let other: ArchiveLease | null = null;
    // The key is named under the old lease; the whole reset runs, then a new run claims the lease;
    // then the put.
    const db = once(env.DB, 'INSERT INTO archive_pending', 'after', async () => {
      await resetProjectData(env, projectId, NOW);
      other = await leaseOn(projectId);
    });
    await expect(writeDayArchive(db, env.ARCHIVE, project, LABEL, held)).rejects.toThrow(ArchiveRefused);
    expect(other).not.toBeNull();
    // The other run may be writing the same rows to the same key: the object waits for the sweep.
    expect((await keys(projectId)).length).toBe(1);
    if (other) await releaseArchiveLease(env.DB, other);
    vi.setSystemTime(NOW + 2 * HOUR);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
    vi.setSystemTime(NOW);
    expect(await keys(projectId)).toEqual([]);
  });

  it('a merge committed before the fence of a deletion leaves no object and no row', async () => {
    const { projectId, project } = await dayOf(3);
    await archivedWithLateEvent(project);
    const held = await leaseOn(projectId);
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, held);
    if (!written) throw new Error('nothing written');
    let committed: boolean | undefined;
    // Every other row is gone (rollup_state too); the merge commits, then the fence goes up.
    const db = before(env.DB, 'INSERT INTO archive_runs (project_id, holder, expires_at) VALUES', async () => {
      committed = await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, held);
      await deleteArchivedRows(env.DB, env.ARCHIVE, project, LABEL);
    });
    await deleteProject({ ...env, DB: db }, projectId);
    expect(committed).toBe(true);
    expect(await keys(projectId)).toEqual([]);
    for (const table of [...PROJECT_TABLES, 'archive_runs']) {
      const n = await env.DB.prepare(`SELECT COUNT(*) AS n FROM "${table}" WHERE project_id = ?`)
        .bind(projectId)
        .first('n');
      expect([table, n]).toEqual([table, 0]);
    }
  });

  it('a reset whose fence expired while it emptied the archive fails, and succeeds when run again', async () => {
    const { projectId } = await dayOf(3);
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1 });
    const db = before(env.DB, 'DELETE FROM archived_days WHERE project_id', async () => {
      // A stall past the fence's expiry, and a run that claims the lease meanwhile.
      await env.DB.prepare('UPDATE archive_runs SET expires_at = 0 WHERE project_id = ?').bind(projectId).run();
      await releaseArchiveLease(env.DB, await leaseOn(projectId));
    });
    const failed = await resetProjectData({ ...env, DB: db }, projectId, NOW).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ApiError);
    expect(failed).toMatchObject({ status: 503, code: 'unavailable' });
    await resetProjectData(env, projectId, NOW);
    expect(await keys(projectId)).toEqual([]);
    expect(await archivedDay(env.DB, projectId, LABEL)).toBeNull();
  });

  it('a retention purge that deleted the record before a merge commits leaves no object behind', async () => {
    const { projectId, project } = await dayOf(3);
    await archivedWithLateEvent(project);
    const held = await leaseOn(projectId);
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, held);
    if (!written) throw new Error('nothing written');
    await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
    expect(await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW)).toBe(1);
    // The merge's base is gone: the commit records nothing, and its object is pending past retention.
    expect(await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, held)).toBe(false);
    await releaseArchiveLease(env.DB, held);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW);
    expect(await keys(projectId)).toEqual([]);
  });
});
