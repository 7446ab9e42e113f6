/**
 * Deleting a goal's or a funnel's rows from every table that holds them: daily (`rollups`),
 * hourly (`rollup_hours`) and filtered (`pair_rollups`, whose `dimension` names the breakdown
 * third: `[F, f, 'event:goal']`). Rows of a definition no goal or funnel has are never read, but
 * on days past retention nothing would rewrite them, and a definition given back (A, then B, then
 * A again) would find them there.
 */
import { type AnyColumn, and, eq, type SQL, sql } from 'drizzle-orm';
import { type Db, pairRollups, rollupHours, rollups } from '../db/index.ts';

/** Which rows: those of one value (one definition), or those whose value starts with a prefix (every definition). */
export type RowsOf = { value: string } | { prefix: string };

/** Statements deleting the rows of `dimension` (`event:goal`, `funnel:step`) that `rows` names, in a project. */
export function deleteRowsStatements(data: Db, projectId: string, dimension: string, rows: RowsOf) {
  const matches = (value: AnyColumn): SQL =>
    'value' in rows ? sql`${value} = ${rows.value}` : sql`substr(${value}, 1, length(${rows.prefix})) = ${rows.prefix}`;
  return [
    data
      .delete(rollups)
      .where(and(eq(rollups.projectId, projectId), eq(rollups.dimension, dimension), matches(rollups.value))),
    data
      .delete(rollupHours)
      .where(
        and(eq(rollupHours.projectId, projectId), eq(rollupHours.dimension, dimension), matches(rollupHours.value)),
      ),
    // NOTE: the key leads with the day, so this reads every filtered row of the project: a rare
    // admin action's price for rows that would otherwise stay forever.
    data
      .delete(pairRollups)
      .where(
        and(
          eq(pairRollups.projectId, projectId),
          sql`${pairRollups.dimension} ->> '$[2]' = ${dimension}`,
          matches(pairRollups.value),
        ),
      ),
  ] as const;
}
