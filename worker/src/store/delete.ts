/**
 * Deleting a project's stored data: the whole project, or its numbers only (a reset). The store owns
 * this so that whatever deletes history also tells cached answers (the version bump) and forgets
 * cached settings.
 */
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from '../db/schema.ts';
import { clearIsolateCaches } from '../shared/isolate-cache.ts';
import { ApiError } from '../shared/errors.ts';
import { bumpVersionsStatement } from './freshness.ts';
import { poolDatabase, poolNames, projectDb } from './pool.ts';

/** What deleting needs of the ProjectDO (`live/project-do.ts`): its storage gone, or told of a reset. */
interface ProjectStorage extends Rpc.DurableObjectBranded {
  destroy(): Promise<void>;
  dataReset(): Promise<void>;
}

/** Rows deleted per statement, so that a project with millions of events never holds D1 for long. */
const DELETE_CHUNK = 5_000;

/**
 * Every table with a `project_id` column, found in the drizzle schema — so a table added later
 * (rollups, goals) is covered without touching this file.
 */
export const PROJECT_TABLES: readonly string[] = (Object.values(schema) as unknown[])
  .filter((value): value is SQLiteTable => is(value, SQLiteTable))
  .filter((table) => Object.values(getTableColumns(table)).some((column) => column.name === 'project_id'))
  .map((table) => getTableName(table));

/** Delete a project's rows of one table, a chunk per statement. */
async function deleteRows(d1: D1Database, table: string, projectId: string): Promise<void> {
  for (;;) {
    const result = await d1
      .prepare(
        `DELETE FROM "${table}" WHERE rowid IN (SELECT rowid FROM "${table}" WHERE project_id = ? LIMIT ${DELETE_CHUNK})`,
      )
      .bind(projectId)
      .run();
    if (result.meta.changes < DELETE_CHUNK) return;
  }
}

/**
 * Delete a project and everything it owns: its ProjectDO storage (salts, visits, outbox), its
 * data-plane rows in every database of the pool (its own, and any a move was copying to or had
 * left behind), every row with its id in the control database, its quarantined messages, and the
 * project itself. Data first, project last, so that a failure part-way leaves a project the owner
 * can delete again. Events still on the queue when the project row goes are not written by the
 * consumer (it writes only for projects the map holds); one that races the deletion is swept by
 * the retention purge (`rollup/retention.ts`, orphans).
 */
export async function deleteProject(env: Env, projectId: string): Promise<void> {
  const stub = env.PROJECT.get(env.PROJECT.idFromName(projectId)) as DurableObjectStub<ProjectStorage>;
  await stub.destroy();
  for (const name of poolNames(env)) {
    const d1 = poolDatabase(env, name);
    for (const table of [...POOL_TABLES, getTableName(schema.projectFences)]) await deleteRows(d1, table, projectId);
  }
  for (const table of PROJECT_TABLES) await deleteRows(env.DB, table, projectId);
  // Quarantined messages hold events as JSON text, without a project_id column: match the field.
  await env.DB.prepare('DELETE FROM quarantine WHERE instr(body, ?) > 0')
    .bind(`"projectId":${JSON.stringify(projectId)}`)
    .run();
  await env.DB.prepare('DELETE FROM projects WHERE id = ?').bind(projectId).run();
  // Other isolates forget the site key within a minute; their events stop at the consumer.
  clearIsolateCaches();
}

/** The tables that hold a project's numbers (not its settings): what a reset empties. */
export const DATA_TABLES: readonly string[] = [
  schema.events,
  schema.rollups,
  schema.rollupHours,
  schema.rolledHours,
  schema.rollupDirty,
  schema.rolledDays,
  schema.dropCounts,
].map((table) => getTableName(table));

/**
 * Reset a project's data: its events, rollups, marks and drop counts go; its settings, goals,
 * funnels, members, keys and share links stay. The rollup version moves, so no cached answer
 * outlives the reset. It is not one transaction: events accepted while it runs (on the queue, or
 * waiting in the ProjectDO) may be written before their table is emptied and go with it, or after
 * and stay (their hour's mark may be gone then: the cron will not roll them up until the hour is
 * written again). The ProjectDO is told first, so that none it had already sent comes back
 * (a restart checks its last rows against D1 and would send again what D1 no longer holds); if it
 * cannot be reached, nothing is deleted.
 */
export async function resetProjectData(env: Env, projectId: string, now: number): Promise<void> {
  // Until the switch, the source's rows are being copied; after it, a reset empties the target.
  const moving = await env.DB.prepare("SELECT 1 FROM project_moves WHERE project_id = ? AND step <> 'clean'")
    .bind(projectId)
    .first();
  if (moving) throw new ApiError(409, 'conflict', 'The project is moving to another database; reset it once it has');
  const d1 = await projectDb(env, projectId);
  if (!d1) return;
  const stub = env.PROJECT.get(env.PROJECT.idFromName(projectId)) as DurableObjectStub<ProjectStorage>;
  await stub.dataReset();
  for (const table of DATA_TABLES) await deleteRows(d1, table, projectId);
  // Nothing is left to be partial: a day the purge once cut into is an empty day now.
  await d1.batch([
    d1.prepare('UPDATE rollup_state SET raw_from = NULL WHERE project_id = ?').bind(projectId),
    bumpVersionsStatement(d1, [projectId], now),
  ]);
}

/**
 * A project's data-plane tables: what lives in its pool database (`pool.ts`), what a move copies
 * and what deletion clears in every database of the pool. `project_fences` is not among them: it
 * says what a database refuses, and is cleared apart.
 */
export const POOL_TABLES: readonly string[] = [...DATA_TABLES, getTableName(schema.rollupState)];
