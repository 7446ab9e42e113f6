/**
 * `POST /api/v1/funnel`: how many visits pass each step of a funnel, in order (docs/STATS.md).
 * Each step takes, per visit, the earliest matching event after the previous step's (in time
 * order, ties by arrival) — the greedy choice, which reaches the furthest step any choice could.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { funnels, getDb } from '../db/index.ts';
import { authorizeProject } from '../auth/access.ts';
import type { GoalStep } from '../stats/goal-matching.ts';
import { defaultGoalName, stepColumns } from '../stats/goal-matching.ts';
import { ApiError } from '../shared/errors.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { RAW_EVENT_BUDGET, RawBudget, type Span } from './budget.ts';
import type { DateRangeSpec } from './date-range.ts';
import { resolveProjectRange } from './first-day.ts';
import { goalCondition, pageviewPaths } from '../stats/goals.ts';
import { DateRangeSchema, FilterSchema, type Query, VISIT_DIMENSIONS } from './schema.ts';
import { baseCte, filterSql, visitOrderSql } from '../stats/sql.ts';
import { statsProject } from './plan.ts';

const FunnelQuerySchema = z
  .object({
    project: z.string().min(1).max(64),
    funnel: z.string().min(1).max(64),
    date_range: DateRangeSchema,
    filters: z
      .array(
        FilterSchema.refine(
          ([, dimension]) => (VISIT_DIMENSIONS as readonly string[]).includes(dimension),
          'funnels filter by visit dimensions only',
        ),
      )
      .max(20)
      .default([]),
  })
  .strict()
  .openapi('FunnelQuery');

const StepResultSchema = z.object({
  name: z.string(),
  visits: z.number().int(),
  conversion_rate: z.number(),
  drop_off: z.number().int(),
});

/** One step of the answer. */
export type FunnelStepResult = z.infer<typeof StepResultSchema>;

/** Walk a project's visits in a range through a funnel's steps. */
export async function runFunnel(
  d1: D1Database,
  project: { id: string; timezone: string; createdAt: number; currency: string },
  steps: readonly GoalStep[],
  spec: DateRangeSpec,
  filters: Query['filters'],
  now: number,
  budget: RawBudget = new RawBudget(d1, project.id, RAW_EVENT_BUDGET.funnel),
): Promise<FunnelStepResult[]> {
  const range = await resolveProjectRange(d1, project, spec, now);
  const span: Span = [range.start, range.end];
  const byPath = steps.some((step) => step.kind === 'pageview');
  // Funnels read raw events: the path scan (with pageview steps) and the funnel's own scan.
  await budget.charge(byPath ? [span, span] : [span]);
  const paths = byPath ? await pageviewPaths(d1, project.id, [span]) : [];
  const where = filters.map((filter) => filterSql(filter));
  const conditions = steps.map((step) => goalCondition(stepColumns(step), paths));
  // A visit's events in time order, ties by arrival: the key `entryExitCtes` orders by too.
  const position = visitOrderSql('kept.');
  const stepCtes = conditions.map((condition, index) =>
    index === 0
      ? `s0 AS (SELECT session_id, MIN(${position}) AS position FROM kept WHERE ${condition.sql} GROUP BY session_id)`
      : `s${index} AS (SELECT kept.session_id, MIN(${position}) AS position FROM kept
          JOIN s${index - 1} AS previous ON kept.session_id = previous.session_id AND ${position} > previous.position
          WHERE ${condition.sql} GROUP BY kept.session_id)`,
  );
  // `kept` is read by every step: materialized once, not recomputed per step (a 3-step funnel over
  // 12k events: 580 ms → 85 ms).
  const sql = `WITH ${baseCte(range.start, range.end, project.timezone)},
kept AS MATERIALIZED (SELECT * FROM base WHERE ${where.length ? where.map((w) => w.sql).join(' AND ') : '1'}),
${stepCtes.join(',\n')}
SELECT ${conditions.map((_, index) => `(SELECT COUNT(*) FROM s${index}) AS n${index}`).join(', ')}`;
  const params = [
    project.currency,
    project.id,
    ...where.flatMap((w) => w.params),
    ...conditions.flatMap((c) => c.params),
  ];
  const row =
    (await d1
      .prepare(sql)
      .bind(...params)
      .first<Record<string, number>>()) ?? {};
  const reached = steps.map((_, index) => row[`n${index}`] ?? 0);
  const first = reached[0] ?? 0;
  return steps.map((step, index) => ({
    name: defaultGoalName(step),
    visits: reached[index] ?? 0,
    conversion_rate: first ? Math.round(((reached[index] ?? 0) / first) * 100 * 100) / 100 : 0,
    drop_off: index === 0 ? 0 : (reached[index - 1] ?? 0) - (reached[index] ?? 0),
  }));
}

export const funnelRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/v1/funnel',
    tags: ['Stats'],
    summary: 'Visits through each step of a funnel',
    request: jsonBody(FunnelQuerySchema),
    responses: {
      200: jsonResponse(z.object({ steps: z.array(StepResultSchema) }).openapi('FunnelResult'), 'The steps'),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const db = getDb(c.env.DB);
    const { project } = await authorizeProject(db, c.get('principal'), body.project, 'read');
    const funnel = await db
      .select()
      .from(funnels)
      .where(and(eq(funnels.id, body.funnel), eq(funnels.projectId, project.id)))
      .get();
    if (!funnel) throw new ApiError(404, 'not_found', 'No such funnel');
    const steps = JSON.parse(funnel.steps) as GoalStep[];
    return c.json(
      { steps: await runFunnel(c.env.DB, statsProject(project), steps, body.date_range, body.filters, Date.now()) },
      200,
    );
  },
);
