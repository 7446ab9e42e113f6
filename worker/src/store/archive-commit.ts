/**
 * Step 2 of the archive (`archive.ts`): the statements that let a day leave D1's raw range — record
 * its verified object ({@link commitDayArchive}), or, for a day too big for one object, record that
 * it stays in D1 ({@link skipTooBigDay}) — each in one batch with `raw_from` moved past the day, and
 * only under the conditions ({@link dayReady}) that keep the store's invariants (ARCHITECTURE.md,
 * "The store"): every stored event is in the rollups or in a marked hour; no rebuild destroys history.
 */
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { type ArchiveProject, bounds, dropUnrecorded, HOUR_MS, verifyDayArchive, type WrittenDay } from './archive.ts';
import { type ArchiveLease, leaseHeldSql } from './archive-lease.ts';
import { archiveCutoffStatement } from './history.ts';

/**
 * The conditions under which a day not yet archived may leave D1, as SQL over ?1 project, ?2 day,
 * ?3 day start, ?4 and ?5 its first and last UTC hour, ?6 the catalog version, ?7 the start of the
 * first complete day (from `raw_from`; 0 if none): the project is not fenced out of this database
 * (a move of the pool, `move.ts`; that the project exists is the caller's to know, from the control
 * database, and a deletion revokes the lease), the day is rolled up at the current catalog, no hour
 * of it is marked, it is complete, and no earlier complete day still has events in D1.
 */
const READY_SQL = `NOT EXISTS (SELECT 1 FROM project_fences WHERE project_id = ?1)
  AND EXISTS (SELECT 1 FROM rolled_days WHERE project_id = ?1 AND day = ?2 AND version >= ?6)
  AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE project_id = ?1 AND hour >= ?4 AND hour <= ?5)
  AND ?3 >= ?7 AND ?3 >= COALESCE((SELECT raw_from FROM rollup_state WHERE project_id = ?1), 0)
  AND NOT EXISTS (SELECT 1 FROM events WHERE project_id = ?1 AND ts >= ?7 AND ts < ?3)`;

/** The values of {@link READY_SQL}'s parameters ?1 … ?7. */
function readyParams(project: ArchiveProject, day: string, completeFrom: number) {
  const { start, end } = bounds(day, project.calendar);
  const [firstHour, lastHour] = [Math.floor(start / HOUR_MS), Math.floor((end - 1) / HOUR_MS)];
  return [project.id, day, start, firstHour, lastHour, CATALOG_VERSION, completeFrom];
}

/**
 * Whether a day not yet archived may be archived now (the conditions {@link commitDayArchive}
 * checks again as it records), so that the job writes no object it cannot commit. `completeFrom`
 * is the first instant of the project's first complete day (0 when nothing was ever purged).
 */
export async function dayReady(
  d1: D1Database,
  project: ArchiveProject,
  day: string,
  completeFrom: number,
): Promise<boolean> {
  const ready = await d1
    .prepare(`SELECT ${READY_SQL} AS ready`)
    .bind(...readyParams(project, day, completeFrom))
    .first<number>('ready');
  return ready === 1;
}

/**
 * Read the object back, check it, and record it — with `raw_from` moved past the day in the same
 * batch, so the day is answered from its rollups alone from then on — if `lease` is still held
 * and the day's record is still the one the merge started from (`archive.base`). A merge replaces
 * the record, and its old object is deleted after. Returns whether it was recorded; false when the
 * day is no longer ready (a late event marked it, it was rolled with an older catalog, an earlier
 * day still waits), the lease is gone or another run recorded the day first — nothing changed,
 * and the job tries again later.
 */
export async function commitDayArchive(
  d1: D1Database,
  bucket: R2Bucket,
  project: ArchiveProject,
  day: string,
  archive: WrittenDay,
  completeFrom: number,
  now: number,
  lease: ArchiveLease,
): Promise<boolean> {
  await verifyDayArchive(bucket, archive);
  const { end } = bounds(day, project.calendar);
  const base = archive.base?.checksum ?? null;
  const baseKey = archive.base?.key ?? null;
  const mine = 'EXISTS (SELECT 1 FROM archived_days WHERE project_id = ?1 AND day = ?2 AND key = ?3)';
  const [recorded] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO archived_days (project_id, day, key, rows, checksum, bytes, archived_at)
         SELECT ?1, ?2, ?8, ?9, ?10, ?11, ?12
         WHERE ${leaseHeldSql('?13', '?14')} AND CASE WHEN ?15 IS NULL
           THEN NOT EXISTS (SELECT 1 FROM archived_days WHERE project_id = ?1 AND day = ?2) AND (${READY_SQL})
           ELSE EXISTS (SELECT 1 FROM archived_days WHERE project_id = ?1 AND day = ?2 AND checksum = ?15) END
         ON CONFLICT (project_id, day) DO UPDATE SET key = excluded.key, rows = excluded.rows,
           checksum = excluded.checksum, bytes = excluded.bytes, archived_at = excluded.archived_at
         WHERE archived_days.checksum = ?15`,
      )
      .bind(
        ...readyParams(project, day, completeFrom),
        archive.key,
        archive.rows,
        archive.checksum,
        archive.bytes,
        now,
        lease.holder,
        Date.now(),
        base,
      ),
    archiveCutoffStatement(d1, project.id, day, end, now, archive.checksum),
    // The new object is owned now; the one it replaced is owned by nobody, and is deleted below
    // (or by the sweep, if this run stops first).
    d1.prepare(`DELETE FROM archive_pending WHERE key = ?3 AND ${mine}`).bind(project.id, day, archive.key),
    d1
      .prepare(
        `INSERT INTO archive_pending (key, project_id, day, since) SELECT ?4, ?1, ?2, 0
         WHERE ?4 IS NOT NULL AND ?4 <> ?3 AND ${mine} ON CONFLICT (key) DO UPDATE SET since = 0`,
      )
      .bind(project.id, day, archive.key, baseKey),
  ]);
  if ((recorded?.meta.changes ?? 0) === 0) return false;
  if (baseKey && baseKey !== archive.key) await dropUnrecorded(d1, bucket, project.id, day, baseKey);
  return true;
}

/**
 * For a day not yet archived that holds more events than one object may (`DayTooBig`): record in
 * `archive_skipped` that its raw events stay in D1, and move `raw_from` past it in the same batch,
 * under the same conditions as a first archive ({@link READY_SQL}, `lease` held), so that the
 * project's later days can be archived. Its raw events are all still there, so a late event on it
 * is rolled up again (`rollup/rollups.ts`); they leave D1 with retention. Returns whether it was
 * recorded (false: not ready, or the lease is gone; nothing changed). `counted`: the events the
 * archive counted, one past the limit at most (the day's rows are never read whole).
 */
export async function skipTooBigDay(
  d1: D1Database,
  project: ArchiveProject,
  day: string,
  counted: number,
  completeFrom: number,
  now: number,
  lease: ArchiveLease,
): Promise<boolean> {
  const { end } = bounds(day, project.calendar);
  const [skipped] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO archive_skipped (project_id, day, rows, skipped_at)
         SELECT ?1, ?2, ?8, ?9
         WHERE ${leaseHeldSql('?10', '?11')} AND NOT EXISTS (SELECT 1 FROM archived_days WHERE project_id = ?1 AND day = ?2)
           AND (${READY_SQL})
         ON CONFLICT (project_id, day) DO NOTHING`,
      )
      .bind(...readyParams(project, day, completeFrom), counted, now, lease.holder, Date.now()),
    archiveCutoffStatement(d1, project.id, day, end, now, null),
  ]);
  return (skipped?.meta.changes ?? 0) > 0;
}

/**
 * The days of a project the archive skipped as too big (their raw events all in D1) and that
 * retention has not cut into yet — among `days`. The rollup treats them as complete. The project's
 * retention comes from the control database (`pool.ts`: no statement joins the two planes).
 */
export async function skippedDays(
  d1: D1Database,
  project: { id: string; retentionDays: number },
  days: readonly string[],
  now: number,
) {
  const { results } = await d1
    .prepare(
      // A day whose label is two days past the UTC date of the retention cutoff starts after it
      // in any calendar; one nearer the cutoff may be cut into, and is left as it is.
      `SELECT day FROM archive_skipped
       WHERE project_id = ?1 AND day IN (SELECT value FROM json_each(?2))
         AND (?4 = 0 OR day >= date((?3 - ?4 * 86400000) / 1000, 'unixepoch', '+2 days'))`,
    )
    .bind(project.id, JSON.stringify(days), now, project.retentionDays)
    .all<{ day: string }>();
  return new Set(results.map((row) => row.day));
}
