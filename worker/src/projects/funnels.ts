/**
 * Funnels of a project: 2–8 ordered steps, each shaped like a goal, that a visit passes through.
 * Admins list, create, change and delete them; the query engine walks visits through the steps.
 */
import { z } from '@hono/zod-openapi';
import { and, asc, eq, sql } from 'drizzle-orm';
import { type Db, funnels, projects } from '../db/index.ts';
import { FUNNEL_DIMENSION, funnelRollupKey } from '../stats/funnel-sql.ts';
import { remarkEventHoursStatements } from '../store/index.ts';
import { isUniqueViolation } from '../shared/db-errors.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import type { ProjectAccess } from '../auth/access.ts';
import type { GoalStep } from '../stats/goal-matching.ts';
import { GoalNameSchema, GoalStepSchema } from './goals.ts';
import { deleteRowsStatements } from './rollup-rows.ts';

/**
 * Funnels a project keeps: the cron rolls each one up with its own statement per day and per hour
 * of the open day (`stats/funnel-sql.ts`), so their number bounds that work.
 */
export const MAX_FUNNELS = 25;

/** Steps of a funnel: fewer than two is not a funnel; more than eight is more than a dashboard shows. */
export const FUNNEL_STEPS = { min: 2, max: 8 } as const;

const StepsSchema = z
  .array(GoalStepSchema)
  .min(FUNNEL_STEPS.min)
  .max(FUNNEL_STEPS.max)
  .openapi({ description: `${FUNNEL_STEPS.min} to ${FUNNEL_STEPS.max} steps, in the order a visit takes them` });

/** A new funnel. */
export const CreateFunnelSchema = z.strictObject({ name: GoalNameSchema, steps: StepsSchema }).openapi('CreateFunnel');
export type CreateFunnelInput = z.infer<typeof CreateFunnelSchema>;

/** A change to a funnel. */
export const UpdateFunnelSchema = CreateFunnelSchema.partial().openapi('UpdateFunnel', {
  description: 'Fields to change; `steps` replaces every step',
});
export type UpdateFunnelInput = z.infer<typeof UpdateFunnelSchema>;

/** A funnel as the API shows it. */
export const FunnelSchema = z
  .object({ id: z.string(), name: z.string(), steps: z.array(GoalStepSchema), createdAt: z.number().int() })
  .openapi('Funnel');
export type FunnelView = z.infer<typeof FunnelSchema>;

type FunnelRow = typeof funnels.$inferSelect;

function funnelView(row: FunnelRow): FunnelView {
  // Written only by this module, from validated steps.
  const steps = JSON.parse(row.steps) as FunnelView['steps'];
  return { id: row.id, name: row.name, steps, createdAt: row.createdAt };
}

/** Steps as stored: a kind's unused fields left out. */
function stepsJson(steps: readonly GoalStep[]): string {
  return JSON.stringify(
    steps.map((step) =>
      step.kind === 'pageview'
        ? { kind: step.kind, path: step.path }
        : {
            kind: step.kind,
            eventName: step.eventName,
            ...(step.propertyKey == null ? {} : { propertyKey: step.propertyKey, propertyValue: step.propertyValue }),
          },
    ),
  );
}

const noSuchFunnel = () => new ApiError(404, 'not_found', 'No such funnel');
const nameTaken = () =>
  new ApiError(409, 'conflict', 'Another funnel has this name', [
    { path: ['name'], message: 'another funnel has this name' },
  ]);

/** A project's funnels, oldest first. */
export async function listFunnels(db: Db, access: ProjectAccess): Promise<FunnelView[]> {
  const rows = await db
    .select()
    .from(funnels)
    .where(eq(funnels.projectId, access.project.id))
    .orderBy(asc(funnels.createdAt), asc(funnels.id));
  return rows.map(funnelView);
}

/** Add a funnel. Names are unique within a project (409). */
export async function createFunnel(
  db: Db,
  data: Db,
  access: ProjectAccess,
  input: CreateFunnelInput,
  now: number,
): Promise<FunnelView> {
  const row = {
    id: uuidv7(now),
    projectId: access.project.id,
    name: input.name,
    steps: stepsJson(input.steps),
    createdAt: now,
  };
  // The count and the insert are one statement, so saves at once cannot pass the limit. The
  // SELECT reads the project's own row: one row to insert, or none when the limit is reached.
  // NOTE: drizzle's INSERT … SELECT names every column of the table, in order.
  const values = db
    .select({
      id: sql<string>`${row.id}`.as('id'),
      projectId: sql<string>`${row.projectId}`.as('project_id'),
      name: sql<string>`${row.name}`.as('name'),
      steps: sql<string>`${row.steps}`.as('steps'),
      createdAt: sql<number>`${now}`.as('created_at'),
    })
    .from(projects)
    .where(
      and(
        eq(projects.id, row.projectId),
        sql`(SELECT count(*) FROM ${funnels} WHERE ${funnels.projectId} = ${row.projectId}) < ${MAX_FUNNELS}`,
      ),
    );
  // Settings (this funnel) and numbers (its rollups, marks) are in two databases (store/pool.ts):
  // hours are marked before the definition is written and again after, as for goals (goals.ts).
  await data.batch(remarkEventHoursStatements(data, row.projectId, now));
  const inserted = await db.insert(funnels).select(values).onConflictDoNothing().returning();
  if (inserted[0]) await data.batch(remarkEventHoursStatements(data, row.projectId, now));
  if (!inserted[0]) {
    const [{ count } = { count: 0 }] = await db
      .select({ count: sql<number>`count(*)` })
      .from(funnels)
      .where(eq(funnels.projectId, row.projectId));
    if (count >= MAX_FUNNELS) {
      throw new ApiError(409, 'conflict', `A project keeps at most ${MAX_FUNNELS} funnels; delete one first`, [
        { path: [], message: `at most ${MAX_FUNNELS} funnels per project` },
      ]);
    }
    throw nameTaken();
  }
  return funnelView(row);
}

/** Statements deleting a funnel's rollup rows (daily, hourly, filtered) of every definition it had. */
function deleteFunnelRows(db: Db, projectId: string, funnelId: string) {
  // `"id:` starts each of their values.
  return deleteRowsStatements(db, projectId, FUNNEL_DIMENSION, { prefix: keyPrefix(funnelId) });
}

/** What starts the `value` (JSON text) of every row under `key` (`"key:`): a funnel id, or id and digest. */
const keyPrefix = (key: string) => JSON.stringify(`${key}:`).slice(0, -1);

/**
 * Rename a funnel or replace its steps. New steps drop the rows of the old ones and mark every
 * hour with events, so its days are rolled up again (read raw until then).
 */
export async function updateFunnel(
  db: Db,
  data: Db,
  access: ProjectAccess,
  funnelId: string,
  patch: UpdateFunnelInput,
  now: number = Date.now(),
): Promise<FunnelView> {
  const changes = {
    ...(patch.name === undefined ? {} : { name: patch.name }),
    ...(patch.steps === undefined ? {} : { steps: stepsJson(patch.steps) }),
  };
  const projectId = access.project.id;
  const where = and(eq(funnels.id, funnelId), eq(funnels.projectId, projectId));
  // Steps that match as before keep the funnel's rows: days past retention could not be rebuilt.
  let oldKey: string | null = null;
  if (changes.steps !== undefined) {
    const stored = await db.select({ steps: funnels.steps }).from(funnels).where(where).get();
    if (!stored) throw noSuchFunnel();
    const key = (steps: string) => funnelRollupKey({ id: funnelId, steps: JSON.parse(steps) as GoalStep[] });
    oldKey = await key(stored.steps);
    if (oldKey === (await key(changes.steps))) delete changes.steps;
  }
  try {
    const update = () => db.update(funnels).set(changes).where(where).returning();
    // Drizzle refuses an UPDATE without columns; an empty patch reads the funnel back instead.
    const rows = !Object.keys(changes).length
      ? await db.select().from(funnels).where(where)
      : changes.steps === undefined
        ? await update()
        : await rematch(data, projectId, oldKey as string, now, update);
    if (!rows[0]) throw noSuchFunnel();
    return funnelView(rows[0]);
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

/** Delete a funnel of this project; a funnel of another project is 404 like a missing one. */
export async function deleteFunnel(db: Db, data: Db, access: ProjectAccess, funnelId: string): Promise<void> {
  // The funnel first (its own database): rows left if the second step fails belong to no funnel.
  const deleted = await db
    .delete(funnels)
    .where(and(eq(funnels.id, funnelId), eq(funnels.projectId, access.project.id)))
    .returning({ id: funnels.id });
  if (!deleted[0]) throw noSuchFunnel();
  await data.batch(deleteFunnelRows(data, access.project.id, funnelId));
}

/**
 * New steps: hours marked, the funnel written, then the old definition's rows gone (`oldKey`'s:
 * a cron run between the two batches may have written the new one's) and the hours marked again
 * (two databases, as in {@link createFunnel}). Returns the updated rows (none: not this project's).
 */
async function rematch<T>(data: Db, projectId: string, oldKey: string, now: number, update: () => Promise<T[]>) {
  await data.batch(remarkEventHoursStatements(data, projectId, now));
  const rows = await update();
  if (rows[0]) {
    // The marks first, in a batch of their own: the delete reads every filtered row of the
    // project, and its failure must not take them with it.
    await data.batch(remarkEventHoursStatements(data, projectId, now));
    await data.batch(deleteRowsStatements(data, projectId, FUNNEL_DIMENSION, { prefix: keyPrefix(oldKey) }));
  }
  return rows;
}
