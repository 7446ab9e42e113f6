/**
 * The retention purge: raw events older than their project's `retention_days` are deleted; rollups
 * and drop counts stay (they hold no visitor-level data and are what long ranges are read from).
 *
 * The work is bounded by a row budget per run and the condition is stateless (`ts < cutoff`), so a
 * run that stops early leaves nothing half done: the next run simply finds what is still expired.
 * After a long outage the backlog is cleared over several runs.
 */

import { DATA_TABLES, poolDatabase, poolNames, purgeCutoffStatement } from '../store/index.ts';

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
 * One page of a pool database's projects (from the control database), in id order after `?2`, with
 * their retention: the purge's work list. Projects being moved are left out (their rows must hold
 * still while they are copied); the purge catches up once the map has switched.
 */
const PAGE_SQL = `SELECT id, retention_days AS retentionDays FROM projects
WHERE database = ?1 AND id > ?2 AND id NOT IN (SELECT project_id FROM project_moves WHERE step <> 'clean')
ORDER BY id LIMIT ${PAGE_SIZE}`;

/**
 * The projects of a page (JSON `?2`: `{ id, retentionDays }`) that have an event past their
 * retention. The probe is one seek on `events (project_id, ts)` per project, so a page costs about
 * one row read per project when nothing has expired — and one statement, not 500 (D1 caps queries
 * per Worker invocation).
 */
const EXPIRED_SQL = `WITH p AS (
  SELECT value ->> '$.id' AS id, value ->> '$.retentionDays' AS retention_days FROM json_each(?2)
)
SELECT p.id FROM p WHERE p.retention_days > 0 AND EXISTS (
  SELECT 1 FROM events e WHERE e.project_id = p.id AND e.ts < ?1 - p.retention_days * ${DAY_MS}
) ORDER BY p.id`;

/**
 * Delete up to ?3 expired events of the projects of `?2` (JSON, as above). NOTE: `CROSS JOIN` pins
 * the projects as the outer loop; without statistics SQLite otherwise scans every event and filters
 * `ts` row by row. A retention that is not positive (never written by the API, which allows 1–3,650
 * days) purges nothing rather than everything.
 */
const DELETE_EXPIRED_SQL = `DELETE FROM events WHERE rowid IN (
  SELECT e.rowid FROM (
    SELECT value ->> '$.id' AS id, value ->> '$.retentionDays' AS retention_days FROM json_each(?2)
  ) p CROSS JOIN events e
    ON e.project_id = p.id AND e.ts < ?1 - p.retention_days * ${DAY_MS}
  WHERE p.retention_days > 0
  LIMIT ?3)`;

/**
 * Project ids with events in a pool database, in order after `?1`: a loose index scan that seeks
 * once per distinct `project_id` (a co-routine, so it stops at the limit). NOTE: `SELECT DISTINCT
 * project_id` reads the whole events index instead — every row, every hour.
 */
const STORED_IDS_SQL = `WITH RECURSIVE ids(id) AS (
  SELECT (SELECT project_id FROM events WHERE project_id > ?1 ORDER BY project_id LIMIT 1)
  UNION ALL
  SELECT (SELECT project_id FROM events WHERE project_id > ids.id ORDER BY project_id LIMIT 1)
  FROM ids WHERE ids.id IS NOT NULL
)
SELECT id FROM ids WHERE id IS NOT NULL LIMIT ${PAGE_SIZE}`;

/**
 * Delete raw events past each project's retention (`ts < now − retention_days days`; an event
 * exactly at the cutoff stays), then the rows of projects a database holds for nobody (deleted
 * while their events were still in flight), in every database of the pool, never more than
 * `budget` event rows in all.
 *
 * @example
 * ```ts
 * const { deleted, exhausted } = await purgeExpiredEvents(env, scheduledTime);
 * ```
 */
export async function purgeExpiredEvents(env: Env, now: number, budget = 50_000): Promise<PurgeResult> {
  if (budget <= 0) return { deleted: 0, projects: 0, exhausted: true };
  const result: PurgeResult = { deleted: 0, projects: 0, exhausted: false };
  for (const name of poolNames(env)) {
    if (!(await purgeDatabase(env, name, now, budget, result))) break;
  }
  if (!result.exhausted) {
    // Quarantined messages hold events (visitor ids included) too: they expire with their
    // project's retention, counted from when they were quarantined. Not counted in `deleted`.
    await env.DB.prepare(DELETE_EXPIRED_QUARANTINE_SQL).bind(now).run();
  }
  return result;
}

/** {@link purgeExpiredEvents} in one pool database; false once the budget ran out. */
async function purgeDatabase(env: Env, name: string, now: number, budget: number, result: PurgeResult) {
  const d1 = poolDatabase(env, name);
  let after = '';
  for (;;) {
    const { results: page } = await env.DB.prepare(PAGE_SQL)
      .bind(name, after)
      .all<{ id: string; retentionDays: number }>();
    result.projects += page.length;
    const { results: ids } = page.length
      ? await d1.prepare(EXPIRED_SQL).bind(now, JSON.stringify(page)).all<{ id: string }>()
      : { results: [] };
    const expired = page.filter((project) => ids.some((row) => row.id === project.id));
    if (expired.length) {
      // Before anything goes: the days the purge cuts into are answered from their rollups alone
      // from now on (`raw_from`), and cached answers do not survive.
      await purgeCutoffStatement(d1, expired, now).run();
      const done = await deleteInChunks(result, budget, (limit) =>
        d1.prepare(DELETE_EXPIRED_SQL).bind(now, JSON.stringify(expired), limit),
      );
      if (!done) return false;
    }
    const end = page[page.length - 1];
    if (!end || page.length < PAGE_SIZE) break;
    after = end.id;
  }

  for (const id of await orphanIds(env, name, d1)) {
    const done = await deleteInChunks(result, budget, (limit) => d1.prepare(DELETE_ORPHANS_SQL).bind(id, limit));
    if (!done) return false;
    // Its marks too: orphan marks would take places in the rollup job's bounded read.
    await d1.batch(
      DATA_TABLES.filter((table) => table !== 'events').map((table) =>
        d1.prepare(`DELETE FROM "${table}" WHERE project_id = ?`).bind(id),
      ),
    );
  }
  return true;
}

/**
 * Up to {@link ORPHAN_IDS} project ids with events in pool database `name` that it holds for
 * nobody: no project maps to it, and no move is bringing the project there.
 */
async function orphanIds(env: Env, name: string, d1: D1Database): Promise<string[]> {
  const orphans: string[] = [];
  let after = '';
  while (orphans.length < ORPHAN_IDS) {
    const { results } = await d1.prepare(STORED_IDS_SQL).bind(after).all<{ id: string }>();
    if (!results.length) break;
    const { results: held } = await env.DB.prepare(
      `SELECT value AS id FROM json_each(?2) WHERE EXISTS (SELECT 1 FROM projects WHERE id = value AND database = ?1)
         OR EXISTS (SELECT 1 FROM project_moves WHERE project_id = value AND target = ?1)`,
    )
      .bind(name, JSON.stringify(results.map((row) => row.id)))
      .all<{ id: string }>();
    const kept = new Set(held.map((row) => row.id));
    orphans.push(...results.filter((row) => !kept.has(row.id)).map((row) => row.id));
    if (results.length < PAGE_SIZE) break;
    after = results[results.length - 1]?.id ?? '';
  }
  return orphans.slice(0, ORPHAN_IDS);
}

/** Events of one orphaned project id, a chunk at a time. */
const DELETE_ORPHANS_SQL = `DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE project_id = ?1 LIMIT ?2)`;

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
