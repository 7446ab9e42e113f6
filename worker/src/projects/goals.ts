/**
 * Conversion goals of a project: what they are (the step shape funnels share), and how admins
 * list, create, change and delete them. Matching events against goals is `goal-matching.ts`.
 *
 * Each closed day holds rollup rows per goal, keyed by the goal's id and a digest of what it
 * matches (`rollup/goal-rollups.ts`). Creating a goal or changing its matching marks every hour
 * with events in the same transaction, so those days are read raw until the cron has rolled them
 * up with the goal as it now is; a rename changes no row (rows are labelled when read).
 */
import { z } from '@hono/zod-openapi';
import { LIMITS } from '@tally/sdk/protocol';
import { and, asc, eq, ne } from 'drizzle-orm';
import { type Db, goals, rollupState } from '../db/index.ts';
import { GOAL_DIMENSION, goalRollupKey, goalRollupValue } from '../stats/goal-keys.ts';
import { isUniqueViolation } from '../shared/db-errors.ts';
import { ApiError, type FieldIssue } from '../shared/errors.ts';
import { fieldIssues } from '../shared/hono.ts';
import { uuidv7 } from '../shared/ids.ts';
import type { ProjectAccess } from '../auth/access.ts';
import { defaultGoalName, GOAL_NAME_CHARS, type GoalStep, stepColumns } from '../stats/goal-matching.ts';

export { defaultGoalName, GOAL_NAME_CHARS, stepColumns };
import { remarkEventHoursStatements } from '../store/index.ts';
import { deleteRowsStatements } from './rollup-rows.ts';

/** A goal's or a funnel's name, unique within its project. */
export const GoalNameSchema = z.string().trim().min(1).max(GOAL_NAME_CHARS);

const PathPatternSchema = z.string().trim().max(LIMITS.urlChars).startsWith('/', "a path starting with '/'").openapi({
  description: 'Starts with `/`. `*` matches within one path segment, `**` across segments; anchored at both ends',
  example: '/blog/**',
});

// Event names are trimmed at ingest, so a goal's is too; property keys and values are compared as sent.
const EventNameSchema = z.string().trim().min(1).max(LIMITS.nameChars).openapi({ example: 'signup' });
const PropertyKeySchema = z.string().min(1).max(LIMITS.propKeyChars).openapi({ example: 'plan' });
const PropertyValueSchema = z
  .string()
  .max(LIMITS.propValueChars)
  .openapi({ description: 'Compared with the string form of the property (`42`, `true`)', example: 'pro' });

const pageviewFields = { kind: z.literal('pageview'), path: PathPatternSchema };
const eventFields = {
  kind: z.literal('event'),
  eventName: EventNameSchema,
  propertyKey: PropertyKeySchema.optional(),
  propertyValue: PropertyValueSchema.optional(),
};

/** A property to match needs both a key and a value. */
function propertyPair(value: { kind: string; propertyKey?: string; propertyValue?: string }, ctx: z.RefinementCtx) {
  if (value.kind !== 'event') return;
  if (value.propertyKey !== undefined && value.propertyValue === undefined) {
    ctx.addIssue({ code: 'custom', path: ['propertyValue'], message: 'required with propertyKey' });
  }
  if (value.propertyValue !== undefined && value.propertyKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['propertyKey'], message: 'required with propertyValue' });
  }
}

/** What a goal, or a funnel step, matches: page views of a path pattern, or a custom event. */
export const GoalStepSchema = z
  .discriminatedUnion('kind', [z.strictObject(pageviewFields), z.strictObject(eventFields)])
  .superRefine(propertyPair)
  .openapi('GoalStep');

/** A new goal: a step, and optionally a name. */
export const CreateGoalSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ name: GoalNameSchema.optional(), ...pageviewFields }),
    z.strictObject({ name: GoalNameSchema.optional(), ...eventFields }),
  ])
  .superRefine(propertyPair)
  .openapi('CreateGoal', { description: 'Without a name, one is made from what the goal matches' });
export type CreateGoalInput = z.infer<typeof CreateGoalSchema>;

/** A change to a goal, applied to it as stored and then validated whole (`updateGoal`). */
export const UpdateGoalSchema = z
  .strictObject({
    name: GoalNameSchema,
    kind: z.enum(['pageview', 'event']),
    path: PathPatternSchema,
    eventName: EventNameSchema,
    propertyKey: PropertyKeySchema.nullable().openapi({
      description: 'null stops matching a property (and drops the value)',
    }),
    propertyValue: PropertyValueSchema.nullable(),
  })
  .partial()
  .openapi('UpdateGoal', {
    description: "Fields to change. Changing `kind` replaces the matching: send the new kind's fields with it.",
  });
export type UpdateGoalInput = z.infer<typeof UpdateGoalSchema>;

/** A goal as the API shows it: a step with an id, a name and a creation time. */
const meta = { id: z.string(), name: z.string(), createdAt: z.number().int() };
export const GoalSchema = z
  .discriminatedUnion('kind', [z.object({ ...meta, ...pageviewFields }), z.object({ ...meta, ...eventFields })])
  .openapi('Goal');
export type GoalView = z.infer<typeof GoalSchema>;

type GoalRow = typeof goals.$inferSelect;

function goalStep(row: GoalRow): z.infer<typeof GoalStepSchema> {
  if (row.kind === 'pageview') return { kind: 'pageview', path: row.path ?? '' };
  return {
    kind: 'event',
    eventName: row.eventName ?? '',
    ...(row.propertyKey === null ? {} : { propertyKey: row.propertyKey, propertyValue: row.propertyValue ?? '' }),
  };
}

function goalView(row: GoalRow): GoalView {
  return { id: row.id, name: row.name, ...goalStep(row), createdAt: row.createdAt };
}

/**
 * Why a write of this goal broke a unique index: other goals have its name, its matching, or both
 * (the index of a column a kind leaves empty compares `quote()`s, which here is plain equality).
 */
async function conflict(db: Db, projectId: string, name: string, step: GoalStep, exceptId?: string) {
  const columns = stepColumns(step);
  const others = await db
    .select()
    .from(goals)
    .where(and(eq(goals.projectId, projectId), exceptId === undefined ? undefined : ne(goals.id, exceptId)));
  const issues: FieldIssue[] = [];
  if (others.some((other) => other.name === name)) {
    issues.push({ path: ['name'], message: 'another goal has this name' });
  }
  const sameMatching = (other: GoalRow) =>
    other.kind === columns.kind &&
    other.path === columns.path &&
    other.eventName === columns.eventName &&
    other.propertyKey === columns.propertyKey &&
    other.propertyValue === columns.propertyValue;
  if (others.some(sameMatching)) {
    issues.push({ path: [step.kind === 'pageview' ? 'path' : 'eventName'], message: 'another goal matches the same' });
  }
  return new ApiError(409, 'conflict', 'A goal with this name or matching already exists', issues);
}

const noSuchGoal = () => new ApiError(404, 'not_found', 'No such goal');

/** A project's goals, oldest first. */
export async function listGoals(db: Db, access: ProjectAccess): Promise<GoalView[]> {
  const rows = await db
    .select()
    .from(goals)
    .where(eq(goals.projectId, access.project.id))
    .orderBy(asc(goals.createdAt), asc(goals.id));
  return rows.map(goalView);
}

/**
 * The project's `raw_from` as the statement runs: the days that start before it cannot be counted
 * for a goal defined now (their raw events are gone), so they are reported as not available.
 */
async function rawFromNow(data: Db, projectId: string): Promise<number | null> {
  const state = await data
    .select({ rawFrom: rollupState.rawFrom })
    .from(rollupState)
    .where(eq(rollupState.projectId, projectId))
    .get();
  return state?.rawFrom ?? null;
}

/** Mark every hour with events of the project (its database `data`): its days are rolled up again. */
async function remark(data: Db, projectId: string, now: number): Promise<void> {
  await data.batch(remarkEventHoursStatements(data, projectId, now));
}

/** Add a goal. Names and matchings are unique within a project (409 naming the field). */
export async function createGoal(
  db: Db,
  data: Db,
  access: ProjectAccess,
  input: CreateGoalInput,
  now: number,
): Promise<GoalView> {
  const { name: given, ...step } = input;
  const name = given ?? defaultGoalName(step);
  const row = {
    id: uuidv7(now),
    projectId: access.project.id,
    name,
    ...stepColumns(step),
    createdAt: now,
    historyFrom: await rawFromNow(data, access.project.id),
  };
  // Settings (this goal) and numbers (its rollups, marks) are in two databases (store/pool.ts),
  // so no batch holds both: every hour with events is marked before the definition is written
  // and again after, so that neither a crash in between nor a rollup run between the two leaves
  // a day rolled up without it unmarked. A mark too many only costs a re-roll.
  await remark(data, row.projectId, now);
  const inserted = await db.insert(goals).values(row).onConflictDoNothing().returning();
  if (!inserted[0]) throw await conflict(db, access.project.id, name, step);
  await remark(data, row.projectId, now);
  return goalView(inserted[0]);
}

/**
 * Rename a goal or change what it matches. The change is applied to the goal as stored and the
 * result validated whole, so `{ propertyKey: null, propertyValue: null }` stops matching a property
 * and `{ kind: 'pageview', path }` turns an event goal into a pageview goal.
 */
export async function updateGoal(
  db: Db,
  data: Db,
  access: ProjectAccess,
  goalId: string,
  patch: UpdateGoalInput,
  now: number = Date.now(),
): Promise<GoalView> {
  const projectId = access.project.id;
  const row = await db
    .select()
    .from(goals)
    .where(and(eq(goals.id, goalId), eq(goals.projectId, projectId)))
    .get();
  if (!row) throw noSuchGoal();
  const { name = row.name, kind = row.kind, ...fields } = patch;
  const merged: Record<string, unknown> = kind === row.kind ? { ...goalStep(row) } : { kind };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== null && value !== undefined) merged[key] = value;
  }
  // A property is matched by key and value together: dropping the key drops the value.
  if (fields.propertyKey === null) {
    delete merged.propertyKey;
    delete merged.propertyValue;
  }
  const parsed = GoalStepSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ApiError(400, 'invalid_input', 'The goal would be invalid', fieldIssues(parsed.error.issues));
  }
  const columns = stepColumns(parsed.data);
  const rematched = (['kind', 'path', 'eventName', 'propertyKey', 'propertyValue'] as const).some(
    (key) => columns[key] !== row[key],
  );
  try {
    // Settings (this goal) and numbers (its rollups, marks) are in two databases (store/pool.ts),
    // so no batch holds both: every hour with events is marked before the definition is written
    // and again after, so that neither a crash in between nor a rollup run between the two leaves
    // a day rolled up without it unmarked. A mark too many only costs a re-roll.
    if (rematched) await remark(data, projectId, now);
    const updated = await db
      .update(goals)
      // A new matching has numbers only where raw events are still there to count it.
      .set({ name, ...columns, ...(rematched ? { historyFrom: await rawFromNow(data, projectId) } : {}) })
      .where(and(eq(goals.id, goalId), eq(goals.projectId, projectId)))
      .returning();
    if (!updated[0]) throw noSuchGoal();
    // A new matching: the rows of the old one go (those past retention would otherwise stay
    // unread forever) and the days with events are rolled up again.
    if (rematched) {
      // The marks first, in a batch of their own: the delete reads every filtered row of the
      // project, and its failure must not take them with it.
      await data.batch(remarkEventHoursStatements(data, projectId, now));
      await data.batch(
        deleteRowsStatements(data, projectId, GOAL_DIMENSION, { value: goalRollupValue(await goalRollupKey(row)) }),
      );
    }
    return goalView(updated[0]);
  } catch (error) {
    if (isUniqueViolation(error)) throw await conflict(db, projectId, name, parsed.data, goalId);
    throw error;
  }
}

/** Delete a goal of this project; a goal of another project is 404 like a missing one. */
export async function deleteGoal(db: Db, data: Db, access: ProjectAccess, goalId: string): Promise<void> {
  const projectId = access.project.id;
  // Its rollup rows, of every definition it had: `"id:` starts each of their values. The goal goes
  // first (its own database): rows it leaves if the second step fails belong to no goal, and no
  // reader takes them.
  const prefix = goalRollupValue(`${goalId}:`).slice(0, -1);
  const deleted = await db
    .delete(goals)
    .where(and(eq(goals.id, goalId), eq(goals.projectId, projectId)))
    .returning({ id: goals.id });
  if (!deleted[0]) throw noSuchGoal();
  // The open day's hourly ones too, which its daily rows would otherwise be summed from.
  await data.batch(deleteRowsStatements(data, projectId, GOAL_DIMENSION, { prefix }));
}
