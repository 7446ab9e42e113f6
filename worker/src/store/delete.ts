/**
 * Deleting a project's stored data: the whole project, or its numbers only (a reset). The store owns
 * this so that whatever deletes history also tells cached answers (the version bump) and forgets
 * cached settings.
 */
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from '../db/schema.ts';
import { clearIsolateCaches } from '../shared/isolate-cache.ts';
import { ApiError } from '../shared/errors.ts';
import { clearProjectArchive } from './archive-objects.ts';
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
 * Tables whose rows outlive their project: `archive_pending` names objects a stopped archive write
 * may have left in R2, and the hourly sweep (`archive-objects.ts`) deletes them from it.
 */
const OUTLIVE_PROJECT: readonly string[] = [getTableName(schema.archivePending)];

/**
 * The archive's records and lease, emptied last by `clearProjectArchive` and the final batch: an
 * archive run may still record a day while the other rows go, and only the fence put up there
 * stops it, so records deleted before it could be made again with no object listed to match.
 */
const ARCHIVE_STATE: readonly string[] = [schema.archivedDays, schema.archiveRuns].map((table) => getTableName(table));

/**
 * Every table with a `project_id` column, found in the drizzle schema — so a table added later
 * (rollups, goals) is covered without touching this file.
 */
const projectTables = (Object.values(schema) as unknown[])
  .filter((value): value is SQLiteTable => is(value, SQLiteTable))
  .filter((table) => Object.values(getTableColumns(table)).some((column) => column.name === 'project_id'))
  .filter((table) => !OUTLIVE_PROJECT.includes(getTableName(table)));
export const PROJECT_TABLES: readonly string[] = projectTables.map((table) => getTableName(table));

/**
 * How a chunk of a table's rows is named: its composite primary key (which WITHOUT ROWID tables
 * such as `pair_rollups` are keyed by, having no rowid), else the rowid.
 */
const ROW_KEYS: ReadonlyMap<string, string> = new Map(
  projectTables.map((table) => {
    const [key] = getTableConfig(table).primaryKeys;
    return [getTableName(table), key ? `(${key.columns.map((column) => `"${column.name}"`).join(', ')})` : 'rowid'];
  }),
);

/** Delete a project's rows of one table, a chunk per statement. */
async function deleteRows(d1: D1Database, table: string, projectId: string): Promise<void> {
  const key = ROW_KEYS.get(table) ?? 'rowid';
  const columns = key === 'rowid' ? key : key.slice(1, -1);
  for (;;) {
    const result = await d1
      .prepare(
        `DELETE FROM "${table}" WHERE ${key} IN (SELECT ${columns} FROM "${table}" WHERE project_id = ? LIMIT ${DELETE_CHUNK})`,
      )
      .bind(projectId)
      .run();
    if (result.meta.changes < DELETE_CHUNK) return;
  }
}

/**
 * Delete a project and everything it owns: its ProjectDO storage (salts, visits, outbox), its
 * data-plane rows in every database of the pool (its own, and any a move was copying to or had
 * left behind), its archive (objects in R2, then their records, in every database of the pool),
 * every row with its id in the control database, its quarantined messages, and the project itself.
 * Data first, project last, so that a failure part-way leaves a project the owner can delete again.
 * Events still on the queue when the project row goes are not written by the consumer (it writes
 * only for projects the map holds); one that races the deletion is swept by the retention purge
 * (`rollup/retention.ts`, orphans).
 */
export async function deleteProject(env: Env, projectId: string): Promise<void> {
  const stub = env.PROJECT.get(env.PROJECT.idFromName(projectId)) as DurableObjectStub<ProjectStorage>;
  await stub.destroy();
  const databases = poolNames(env).map((name) => poolDatabase(env, name));
  for (const d1 of databases) {
    for (const table of [...POOL_TABLES, getTableName(schema.projectFences)])
      if (!ARCHIVE_STATE.includes(table) && !OUTLIVE_PROJECT.includes(table)) await deleteRows(d1, table, projectId);
  }
  for (const table of PROJECT_TABLES) if (!ARCHIVE_STATE.includes(table)) await deleteRows(env.DB, table, projectId);
  for (const d1 of databases) await clearProjectArchive(d1, env.ARCHIVE, projectId);
  // Quarantined messages hold events as JSON text, without a project_id column: match the field.
  await env.DB.prepare('DELETE FROM quarantine WHERE instr(body, ?) > 0')
    .bind(`"projectId":${JSON.stringify(projectId)}`)
    .run();
  // The project goes, after which no run can claim its archive (a claim reads it first); then, in
  // every database, the archive's fence, and `raw_from` again, since a run that recorded a day
  // before the fence moved it after its table was emptied.
  await env.DB.prepare('DELETE FROM projects WHERE id = ?').bind(projectId).run();
  for (const d1 of databases) {
    await d1.batch([
      d1.prepare('DELETE FROM rollup_state WHERE project_id = ?').bind(projectId),
      d1.prepare('DELETE FROM archive_runs WHERE project_id = ?').bind(projectId),
    ]);
  }
  // Other isolates forget the site key within a minute; their events stop at the consumer.
  clearIsolateCaches();
}

/** The tables that hold a project's numbers (not its settings): what a reset empties, before its archive. */
export const DATA_TABLES: readonly string[] = [
  schema.events,
  schema.rollups,
  schema.rollupHours,
  schema.pairRollups,
  schema.rolledHours,
  schema.rollupDirty,
  schema.rolledDays,
  schema.dropCounts,
  schema.archiveSkipped,
].map((table) => getTableName(table));

/**
 * Reset a project's data: its events (archived ones too), rollups, marks and drop counts go; its settings, goals,
 * funnels, members, keys and share links stay. The rollup version moves, so no cached answer
 * outlives the reset. It is not one transaction: events accepted while it runs (on the queue, or
 * waiting in the ProjectDO) may be written before their table is emptied and go with it, or after
 * and stay (their hour's mark may be gone then: the cron will not roll them up until the hour is
 * written again; one of a day past the hot window may still go with the archive, emptied after the
 * rows). The ProjectDO is told first, so that none it had already sent comes back (a restart checks
 * its last rows against D1 and would send again what D1 no longer holds); if it cannot be reached,
 * nothing is deleted. The archive goes last (`clearProjectArchive`): objects, records, and the
 * lease with its memory of refused days.
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
  await clearProjectArchive(d1, env.ARCHIVE, projectId);
  // Nothing is left to be partial: a day the purge once cut into is an empty day now. The fence
  // comes down with it.
  await d1.batch([
    d1.prepare('UPDATE rollup_state SET raw_from = NULL WHERE project_id = ?').bind(projectId),
    bumpVersionsStatement(d1, [projectId], now),
    d1.prepare('DELETE FROM archive_runs WHERE project_id = ?').bind(projectId),
  ]);
}

/**
 * A project's data-plane tables: what lives in its pool database (`pool.ts`), what a move copies
 * and what deletion clears in every database of the pool. The archive's records, lease and pending
 * objects are among them: they commit in one batch with `raw_from` and the events they let go, and
 * R2 keys are per project, so a moved project's objects stay where they are. `project_fences` is not among them: it
 * says what a database refuses, and is cleared apart.
 */
export const POOL_TABLES: readonly string[] = [
  ...DATA_TABLES,
  ...[schema.rollupState, schema.archivedDays, schema.archiveRuns, schema.archivePending].map((table) =>
    getTableName(table),
  ),
];
