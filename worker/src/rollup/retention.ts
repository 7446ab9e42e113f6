/**
 * The retention purge: raw events older than their project's `retention_days` are deleted; rollups
 * and drop counts stay (they hold no visitor-level data and are what long ranges are read from).
 *
 * The work is bounded by a row budget per run and the condition is stateless (`ts < cutoff`), so a
 * run that stops early leaves nothing half done: the next run simply finds what is still expired.
 * After a long outage the backlog is cleared over several runs.
 */

import { purgeCutoffStatement } from '../store/index.ts';

const DAY_MS = 86_400_000;
/** Projects read per page (keyset paging, so each query stays bounded however many there are). */
const PAGE_SIZE = 500;
/** Rows deleted per statement, so that one statement never holds D1's single writer for long. */
const DELETE_CHUNK = 5_000;
/** Orphaned project ids looked for per run; each is swept with the remaining budget. */
const ORPHAN_IDS = 10;

/** What one purge run did. */
export interface PurgeResult {
  /** Event rows deleted: expired ones, then orphans. */
  deleted: number;
  /** Projects whose retention was checked this run. */
  projects: number;
  /** The budget ran out: expired or orphaned rows may remain for the next run. */
  exhausted: boolean;
}

/**
 * One page of projects with, for each, whether it has any event past its retention. The probe is
 * one seek on `events (project_id, ts)` per project, so a page costs about one row read per project
 * when nothing has expired — and one statement, not 500 (D1 caps queries per Worker invocation).
 */
const PAGE_SQL = `SELECT p.id,
  p.retention_days > 0 AND EXISTS (
    SELECT 1 FROM events e WHERE e.project_id = p.id AND e.ts < ?1 - p.retention_days * ${DAY_MS}
  ) AS expired
FROM projects p WHERE p.id > ?2 ORDER BY p.id LIMIT ${PAGE_SIZE}`;

/**
 * Delete up to ?4 expired events of the projects with ids in [?2, ?3]. NOTE: `CROSS JOIN` pins
 * projects as the outer loop; without statistics SQLite otherwise scans every event of the id
 * range and filters `ts` row by row. A retention that is not positive (never written by the API,
 * which allows 1–3,650 days) purges nothing rather than everything.
 */
const DELETE_EXPIRED_SQL = `DELETE FROM events WHERE rowid IN (
  SELECT e.rowid FROM projects p CROSS JOIN events e
    ON e.project_id = p.id AND e.ts < ?1 - p.retention_days * ${DAY_MS}
  WHERE p.id >= ?2 AND p.id <= ?3 AND p.retention_days > 0
  LIMIT ?4)`;

/**
 * Project ids that have events but no project row: a loose index scan that seeks once per distinct
 * `project_id` (a co-routine, so it stops at the limit). NOTE: `SELECT DISTINCT project_id … NOT
 * IN (…)` reads the whole events index instead — every row, every hour.
 */
const ORPHAN_IDS_SQL = `WITH RECURSIVE ids(id) AS (
  SELECT (SELECT project_id FROM events ORDER BY project_id LIMIT 1)
  UNION ALL
  SELECT (SELECT project_id FROM events WHERE project_id > ids.id ORDER BY project_id LIMIT 1)
  FROM ids WHERE ids.id IS NOT NULL
)
SELECT id FROM ids
WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects WHERE projects.id = ids.id)
LIMIT ${ORPHAN_IDS}`;

/** Re-checks that the project is gone, so a sweep can never race a project into losing events. */
const DELETE_ORPHANS_SQL = `DELETE FROM events WHERE rowid IN (
  SELECT rowid FROM events WHERE project_id = ?1 AND NOT EXISTS (SELECT 1 FROM projects WHERE id = ?1)
  LIMIT ?2)`;

/**
 * Delete raw events past each project's retention (`ts < now − retention_days days`; an event
 * exactly at the cutoff stays), then events whose project no longer exists (deleted while its
 * events were still in flight), never more than `budget` rows in all.
 *
 * @example
 * ```ts
 * const { deleted, exhausted } = await purgeExpiredEvents(env.DB, scheduledTime);
 * ```
 */
export async function purgeExpiredEvents(d1: D1Database, now: number, budget = 50_000): Promise<PurgeResult> {
  if (budget <= 0) return { deleted: 0, projects: 0, exhausted: true };
  const result: PurgeResult = { deleted: 0, projects: 0, exhausted: false };
  let after = '';
  for (;;) {
    const { results: page } = await d1.prepare(PAGE_SQL).bind(now, after).all<{ id: string; expired: number }>();
    result.projects += page.length;
    const expired = page.filter((project) => project.expired);
    const first = expired[0];
    const last = expired[expired.length - 1];
    if (first && last) {
      // Before anything goes: the days the purge cuts into are answered from their rollups alone
      // from now on (`raw_from`), and cached answers do not survive.
      await purgeCutoffStatement(
        d1,
        expired.map((project) => project.id),
        now,
      ).run();
      const done = await deleteInChunks(result, budget, (limit) =>
        d1.prepare(DELETE_EXPIRED_SQL).bind(now, first.id, last.id, limit),
      );
      if (!done) return result;
    }
    const end = page[page.length - 1];
    if (!end || page.length < PAGE_SIZE) break;
    after = end.id;
  }

  const { results: orphans } = await d1.prepare(ORPHAN_IDS_SQL).all<{ id: string }>();
  for (const { id } of orphans) {
    const done = await deleteInChunks(result, budget, (limit) => d1.prepare(DELETE_ORPHANS_SQL).bind(id, limit));
    if (!done) return result;
  }
  // Quarantined messages hold events (visitor ids included) too: they expire with their project's
  // retention, counted from when they were quarantined. Not counted in `deleted` (not events).
  await d1.prepare(DELETE_EXPIRED_QUARANTINE_SQL).bind(now).run();
  return result;
}

/**
 * Quarantined messages past their project's retention. A message names its project in its JSON
 * text (`"projectId":"…"`); the quarantine is small, so matching each row against the projects
 * is cheap. Bounded per run like everything else here.
 */
const DELETE_EXPIRED_QUARANTINE_SQL = `DELETE FROM quarantine WHERE id IN (
  SELECT q.id FROM quarantine q JOIN projects p ON instr(q.body, '"projectId":' || json_quote(p.id)) > 0
  WHERE p.retention_days > 0 AND q.created_at < ?1 - p.retention_days * ${DAY_MS}
  LIMIT ${DELETE_CHUNK})`;

/**
 * Run a chunked DELETE until it removes less than it was allowed to (nothing left) or the budget
 * is spent. Counts into `result`; returns false, with `exhausted` set, when the budget ran out.
 */
async function deleteInChunks(
  result: PurgeResult,
  budget: number,
  statement: (limit: number) => D1PreparedStatement,
): Promise<boolean> {
  for (;;) {
    const limit = Math.min(DELETE_CHUNK, budget - result.deleted);
    if (limit <= 0) {
      result.exhausted = true;
      return false;
    }
    const { meta } = await statement(limit).run();
    result.deleted += meta.changes;
    if (meta.changes < limit) return true;
  }
}
