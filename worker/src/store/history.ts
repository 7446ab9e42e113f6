/**
 * History no rebuild destroys (ARCHITECTURE.md, "The store"): the retention purge records
 * `raw_from` before it deletes, so a day it cut into is never recomputed, and days rolled up with
 * an older catalog are marked again while their raw events are all there.
 */
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { addDays, firstInstantAt, type LocalDate, parseDate } from '../shared/calendar.ts';
import { isComplete, MARK_SPAN_HOURS_SQL } from './freshness.ts';
import type { ProjectSettings } from './pool.ts';

/**
 * The statement that records, before a retention purge deletes them, that these projects' raw
 * events before their cutoff (`now − retention_days`) are going: `raw_from` only moves forward,
 * and cached answers are told (the version moves). Every day that starts before `raw_from` is from
 * then on answered from its rollups alone and never recomputed.
 */
export function purgeCutoffStatement(
  d1: D1Database,
  projects: readonly { id: string; retentionDays: number }[],
  now: number,
): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO rollup_state (project_id, version, updated_at, raw_from)
       SELECT value ->> '$.id', 1, ?1, ?1 - (value ->> '$.retentionDays') * 86400000 FROM json_each(?2) WHERE true
       ON CONFLICT (project_id) DO UPDATE SET version = version + 1, updated_at = excluded.updated_at,
         raw_from = MAX(COALESCE(raw_from, 0), excluded.raw_from)`,
    )
    .bind(now, JSON.stringify(projects.map(({ id, retentionDays }) => ({ id, retentionDays }))));
}

/**
 * The statement that moves `raw_from` past a day the archive let go of (`archive-commit.ts`): to
 * `dayEnd`, the first instant after it, if the day's `archived_days` row holds `checksum` (the
 * record was written, in the same batch) — or, with `checksum` null, if the day is recorded in
 * `archive_skipped`. Like the purge's, it only moves forward; it bumps the version only when it
 * moves (a merge that rewrote an object changes no answer by itself).
 */
export function archiveCutoffStatement(
  d1: D1Database,
  projectId: string,
  day: string,
  dayEnd: number,
  now: number,
  checksum: string | null,
): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO rollup_state (project_id, version, updated_at, raw_from)
       SELECT ?1, 1, ?2, ?3 WHERE CASE WHEN ?5 IS NULL
         THEN EXISTS (SELECT 1 FROM archive_skipped WHERE project_id = ?1 AND day = ?4)
         ELSE EXISTS (SELECT 1 FROM archived_days WHERE project_id = ?1 AND day = ?4 AND checksum = ?5) END
       ON CONFLICT (project_id) DO UPDATE SET version = version + 1, updated_at = excluded.updated_at,
         raw_from = excluded.raw_from
       WHERE COALESCE(rollup_state.raw_from, 0) < excluded.raw_from`,
    )
    .bind(projectId, now, dayEnd, day, checksum);
}

/**
 * Stale days read per page, and pages per run at most, looking for complete ones (rows of
 * `rolled_days`: small). NOTE: days the purge cut into (one to three a project) come first and stay
 * stale; past 10,000 of them in one database (some 3,000 projects with retention), complete days
 * after them would wait for good: a cursor kept between runs would be the next step.
 */
const STALE_PAGE = 1_000;
const STALE_PAGES = 10;

/**
 * Mark for rolling up again the days rolled up with an older catalog (a dimension was added since)
 * whose raw events are all still there: at most `limit` days a run. A day the retention purge cut
 * into stays as it is (its rollups are all there is; the stats API says the new dimension is not
 * available for it). Returns the days marked.
 */
export async function markStaleDays(
  d1: D1Database,
  limit: number,
  /** The settings of the projects (among these) that this database holds for them (`pool.ts`). */
  settingsOf: (projectIds: string[]) => Promise<Map<string, ProjectSettings>>,
  /** Projects being copied into this database (`pool.ts`, `projectsMovingInto`): not read. */
  movingIn: readonly string[],
): Promise<number> {
  const complete: { projectId: string; day: string; rawFrom: number | null; timezone: string }[] = [];
  // Keyset pages: a day the purge cut into stays stale for good, and must not take the places of
  // complete ones run after run (a project has at most three before its first complete one).
  let after: [string, string] = ['', ''];
  for (let page = 0; page < STALE_PAGES && complete.length < limit; page++) {
    const { results: rows } = await d1
      .prepare(
        // A local day starts at most 12 h after its UTC midnight: days before that bound are not
        // complete in any zone; the rest are checked in the project's zone below.
        `SELECT r.project_id AS projectId, r.day, s.raw_from AS rawFrom
         FROM rolled_days r LEFT JOIN rollup_state s ON s.project_id = r.project_id
         WHERE r.version < ?1 AND (s.raw_from IS NULL OR r.day >= date(s.raw_from / 1000 - 43200, 'unixepoch'))
           AND NOT EXISTS (SELECT 1 FROM project_fences f WHERE f.project_id = r.project_id)
           AND r.project_id NOT IN (SELECT value FROM json_each(?3))
           AND (r.day, r.project_id) > (?4, ?5)
         ORDER BY r.day, r.project_id LIMIT ?2`,
      )
      .bind(CATALOG_VERSION, STALE_PAGE, JSON.stringify(movingIn), ...after)
      .all<{ projectId: string; day: string; rawFrom: number | null }>();
    const settings = await settingsOf(rows.map((row) => row.projectId));
    for (const row of rows) {
      const timezone = settings.get(row.projectId)?.timezone;
      if (timezone && isComplete(row.day, timezone, row.rawFrom) && complete.length < limit)
        complete.push({ ...row, timezone });
    }
    const last = rows.at(-1);
    if (!last || rows.length < STALE_PAGE) break;
    after = [last.day, last.projectId];
  }
  if (!complete.length) return 0;
  await d1.batch(
    complete.flatMap((row) => {
      const start = firstInstantAt(parseDate(row.day) as LocalDate, row.timezone);
      const end = firstInstantAt(addDays(parseDate(row.day) as LocalDate, 1), row.timezone);
      return [
        d1.prepare(MARK_SPAN_HOURS_SQL).bind(row.projectId, start, end),
        // A day without events left has nothing to roll up again: it holds what it can.
        d1
          .prepare(
            `UPDATE rolled_days SET version = ?4 WHERE project_id = ?1 AND day = ?2
             AND NOT EXISTS (SELECT 1 FROM events WHERE project_id = ?1 AND ts >= ?3 AND ts < ?5)`,
          )
          .bind(row.projectId, row.day, start, CATALOG_VERSION, end),
      ];
    }),
  );
  return complete.length;
}
