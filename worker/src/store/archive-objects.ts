/**
 * The archive's objects over their lifetime beyond the day they were written (`archive.ts`): those
 * of days past retention, those of a deleted or reset project, those no record owns, and the list
 * an export shows.
 */
import { formatDate, type LocalDate } from '../shared/calendar.ts';
import { ApiError } from '../shared/errors.ts';
import { archivePrefix, bounds, type DayArchive, dropUnrecorded, HOUR_MS } from './archive.ts';
import { claimArchiveLease, fenceArchive, holdsLease, releaseArchiveLease } from './archive-lease.ts';
import { CONTROL_DATABASE, poolDatabase, poolNames } from './pool.ts';

/**
 * Where the archive's rows of a pool database are read with their projects' settings: the archive's
 * tables are data plane (beside the events and `raw_from` they commit with), the projects are in
 * `control`; `database` names the pool database (`pool.ts`) whose projects count.
 */
export interface ArchivePool {
  control: D1Database;
  database: string;
}

/** A project's settings as the archive's purge uses them, read from the control database. */
interface Retained {
  id: string;
  retentionDays: number;
  calendar: string;
}

/**
 * The projects mapped to `pool.database` that have a retention, except those being moved before
 * their switch (their rows there hold still while they are copied: `move.ts`).
 */
async function retainedProjects(pool: ArchivePool): Promise<Map<string, Retained>> {
  const { results } = await pool.control
    .prepare(
      `SELECT id, retention_days AS retentionDays, COALESCE(zones, timezone) AS calendar FROM projects
       WHERE database = ?1 AND retention_days > 0
         AND id NOT IN (SELECT project_id FROM project_moves WHERE step <> 'clean')`,
    )
    .bind(pool.database)
    .all<Retained>();
  return new Map(results.map((row) => [row.id, row]));
}

/** Delete objects by key, a thousand a call (R2's limit for one `delete`). */
async function deleteKeys(bucket: R2Bucket, keys: readonly string[]): Promise<void> {
  for (let at = 0; at < keys.length; at += 1_000) await bucket.delete(keys.slice(at, at + 1_000));
}

/** Delete every archive object of a project, recorded or not (one step 1 wrote and never committed too). */
async function deleteProjectObjects(bucket: R2Bucket, projectId: string): Promise<void> {
  let cursor: string | undefined;
  for (;;) {
    const page = await bucket.list({ prefix: archivePrefix(projectId), ...(cursor ? { cursor } : {}) });
    await deleteKeys(
      bucket,
      page.objects.map((object) => object.key),
    );
    if (!page.truncated) return;
    cursor = page.cursor;
  }
}

/**
 * Empty a project's archive, for its deletion or reset (`delete.ts`, after its rows): a fence on
 * its lease first, so that from then on no run names or records a key; then every object under its
 * prefix, recorded or not; then its records. Whatever a run did before the fence is covered: an
 * object it recorded is listed here (a record is made only after its object is written and read
 * back); a key it named but did not record is in `archive_pending`, and its writer deletes the
 * object when it finds the fence after its put, or the sweep does if it stopped. Returns with the
 * fence still up: the caller takes it down (deletes the `archive_runs` row) when the rest of its
 * work is done. Throws (503, retry) if the fence expired meanwhile, since a run may then have
 * recorded an object after the listing; the deletion or reset, run again, lists again.
 */
export async function clearProjectArchive(d1: D1Database, bucket: R2Bucket, projectId: string): Promise<void> {
  const fence = await fenceArchive(d1, projectId);
  await deleteProjectObjects(bucket, projectId);
  await d1.prepare('DELETE FROM archived_days WHERE project_id = ?').bind(projectId).run();
  if (!(await holdsLease(d1, fence))) {
    throw new ApiError(503, 'unavailable', 'The project’s archive took too long to empty; retry', undefined, {
      'Retry-After': '5',
    });
  }
}

/**
 * Delete the objects that no record owns (`archive_pending`), once they are past their project's
 * retention, their project is gone, or their write began more than an hour ago (a run holds its
 * lease for minutes: an older one stopped, or a merge superseded it). At most `limit` a run.
 * NOTE: it reads all of `archive_pending`, which holds only objects not owned yet or any more (the
 * writes under way, and what stopped ones left): a handful, not the archived history.
 * NOTE: the sweep holds the project's lease while it deletes, so no run can record the same key
 * (a rewrite of the same rows) between the sweep's check and its delete; a project another run
 * holds is left for the next sweep. A deleted project's archive cannot be recorded any more.
 */
async function sweepPending(
  d1: D1Database,
  bucket: R2Bucket,
  now: number,
  limit: number,
  pool: ArchivePool,
): Promise<void> {
  const { results: pending } = await d1
    .prepare('SELECT key, project_id AS projectId, day, since FROM archive_pending ORDER BY project_id')
    .all<{ key: string; projectId: string; day: string; since: number }>();
  if (!pending.length) return;
  // Whether each project exists, and its retention, from the control database (any database: a
  // project that moved away still exists, and its objects are its own whichever database lists them).
  const ids = [...new Set(pending.map((row) => row.projectId))];
  const { results: known } = await pool.control
    .prepare(`SELECT id, retention_days AS retentionDays FROM projects WHERE id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(ids))
    .all<{ id: string; retentionDays: number }>();
  const live = new Map(known.map((row) => [row.id, row.retentionDays]));
  const staleSince = Date.now() - HOUR_MS;
  const expiredBefore = (retentionDays: number) =>
    new Date(now - retentionDays * 86_400_000 + 86_400_000).toISOString().slice(0, 10);
  const results = pending
    .filter((row) => {
      const retentionDays = live.get(row.projectId);
      if (retentionDays === undefined || row.since < staleSince) return true;
      return retentionDays > 0 && row.day < expiredBefore(retentionDays);
    })
    .slice(0, limit);
  const byProject = Map.groupBy(results, (row) => row.projectId);
  for (const [projectId, rows] of byProject) {
    const isLive = live.has(projectId);
    const lease = isLive ? await claimArchiveLease(d1, projectId, pool.control) : null;
    if (isLive && !lease) continue;
    try {
      for (const row of rows) await dropUnrecorded(d1, bucket, row.projectId, row.day, row.key);
    } finally {
      if (lease) await releaseArchiveLease(d1, lease);
    }
  }
}

/**
 * The archived days past retention, per project: a seek on the `archived_days` primary key from
 * each project with a retention (`?3`: `[id, retention days]` pairs, read from the control
 * database), so the purge reads what expired (and one row per project), not the whole archived
 * history. The UTC date of the cutoff bounds the candidates; the exact test is per calendar
 * (`purgeExpiredArchives`).
 */
const EXPIRED_SQL = `SELECT a.project_id AS projectId, a.day, a.key
  FROM json_each(?3) p CROSS JOIN archived_days a
  WHERE a.project_id = p.value ->> 0
    AND a.day < date((?1 - (p.value ->> 1) * 86400000) / 1000, 'unixepoch', '+1 day')
  LIMIT ?2`;

/**
 * Delete the archived days past their project's retention (the whole local day before `now −
 * retention_days`): the object first, then its record, at most `limit` days a run; the records of
 * days skipped as too big that retention reached; and the objects no record owns that should go
 * (`sweepPending`). Returns the recorded days deleted. `d1` is one pool database; `pool` says which
 * and where its projects' settings are (by default, `d1` is the control database and `DB`).
 * NOTE: the purge holds no lease, so a merge may replace a listed record between the list and the
 * delete: the record is deleted only if it still names the listed key. The object listed was then
 * superseded (owned by no record, rightly deleted); the new record stays, and the next purge finds it.
 * NOTE: it reads every project of the database that has a retention (once an hour): the control
 * database's rows, not the archive's.
 */
export async function purgeExpiredArchives(
  d1: D1Database,
  bucket: R2Bucket,
  now: number,
  limit = 500,
  pool: ArchivePool = { control: d1, database: CONTROL_DATABASE },
): Promise<number> {
  const projects = await retainedProjects(pool);
  const pairs = JSON.stringify([...projects.values()].map((project) => [project.id, project.retentionDays]));
  const { results } = projects.size
    ? await d1.prepare(EXPIRED_SQL).bind(now, limit, pairs).all<{ projectId: string; day: string; key: string }>()
    : { results: [] };
  await sweepPending(d1, bucket, now, limit, pool);
  if (projects.size) {
    await d1
      .prepare(
        `DELETE FROM archive_skipped WHERE rowid IN (SELECT s.rowid FROM json_each(?3) p CROSS JOIN archive_skipped s
           WHERE s.project_id = p.value ->> 0
             AND s.day < date((?1 - (p.value ->> 1) * 86400000) / 1000, 'unixepoch', '+1 day') LIMIT ?2)`,
      )
      .bind(now, limit, pairs)
      .run();
  }
  const expired = results.filter((row) => {
    const project = projects.get(row.projectId);
    return project && bounds(row.day, project.calendar).end <= now - project.retentionDays * 86_400_000;
  });
  if (!expired.length) return 0;
  await deleteKeys(
    bucket,
    expired.map((row) => row.key),
  );
  const deleted = await d1.batch(
    expired.map((row) =>
      d1
        .prepare('DELETE FROM archived_days WHERE project_id = ? AND day = ? AND key = ?')
        .bind(row.projectId, row.day, row.key),
    ),
  );
  return deleted.reduce((sum, result) => sum + result.meta.changes, 0);
}

/** {@link purgeExpiredArchives} in every database of the pool, `limit` days each (the cron's step). */
export async function purgePoolArchives(env: Env, now: number, limit = 500): Promise<number> {
  let deleted = 0;
  for (const name of poolNames(env)) {
    const pool = { control: env.DB, database: name };
    deleted += await purgeExpiredArchives(poolDatabase(env, name), env.ARCHIVE, now, limit, pool);
  }
  return deleted;
}

/** A project's archived days between two local dates (inclusive), oldest first. */
export async function archivedDaysBetween(
  d1: D1Database,
  projectId: string,
  from: LocalDate,
  to: LocalDate,
): Promise<(DayArchive & { day: string })[]> {
  const { results } = await d1
    .prepare(
      'SELECT day, key, rows, checksum, bytes FROM archived_days WHERE project_id = ? AND day >= ? AND day <= ? ORDER BY day',
    )
    .bind(projectId, formatDate(from), formatDate(to))
    .all<DayArchive & { day: string }>();
  return results;
}
