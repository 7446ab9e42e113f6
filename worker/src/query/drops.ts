/**
 * What ingest dropped, per reason and day (in the project's timezone): bots, referrer spam,
 * foreign hostnames and rate-limited events. The dashboard shows them in a quiet corner.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { getDb } from '../db/index.ts';
import { DROP_REASONS, type DropReason } from '../pipeline/messages.ts';
import { authorizeProject } from '../auth/access.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { formatDate, localDate } from '../shared/calendar.ts';
import type { DateRangeSpec } from './date-range.ts';
import { resolveProjectRange } from './first-day.ts';
import { DateRangeSchema } from './schema.ts';
import { statsProject } from './plan.ts';
import { databaseOf } from '../store/index.ts';

type Counts = Record<DropReason, number>;

const CountsSchema = z.object(
  Object.fromEntries(DROP_REASONS.map((reason) => [reason, z.number().int()])) as Record<DropReason, z.ZodNumber>,
);
const DropsSchema = z
  .object({ totals: CountsSchema, days: z.array(z.object({ day: z.string(), counts: CountsSchema })) })
  .openapi('Drops');

const zero = (): Counts => Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Counts;

/** Drop counts of a project over a range of local days, per day (days with none are left out). */
export async function dropCounts(
  d1: D1Database,
  project: { id: string; timezone: string; createdAt: number },
  spec: DateRangeSpec,
  now: number,
): Promise<{ totals: Counts; days: { day: string; counts: Counts }[] }> {
  const range = await resolveProjectRange(d1, project, spec, now);
  const from = formatDate(range.from ?? localDate(range.start, project.timezone));
  const to = formatDate(range.to ?? localDate(range.end - 1, project.timezone));
  const { results } = await d1
    .prepare('SELECT day, reason, count FROM drop_counts WHERE project_id = ? AND day >= ? AND day <= ? ORDER BY day')
    .bind(project.id, from, to)
    .all<{ day: string; reason: string; count: number }>();
  const totals = zero();
  const days = new Map<string, Counts>();
  for (const row of results) {
    if (!(DROP_REASONS as readonly string[]).includes(row.reason)) continue;
    const reason = row.reason as DropReason;
    const counts = days.get(row.day) ?? zero();
    counts[reason] += row.count;
    totals[reason] += row.count;
    days.set(row.day, counts);
  }
  return { totals, days: [...days].map(([day, counts]) => ({ day, counts })) };
}

export const dropRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/v1/drops',
    tags: ['Stats'],
    summary: 'Events ingest dropped, per reason and day',
    request: jsonBody(z.object({ project: z.string().min(1).max(64), date_range: DateRangeSchema }).strict()),
    responses: { 200: jsonResponse(DropsSchema, 'Drop counts'), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const { project } = await authorizeProject(getDb(c.env.DB), c.get('principal'), body.project, 'read');
    return c.json(
      await dropCounts(databaseOf(c.env, project), statsProject(project), body.date_range, Date.now()),
      200,
    );
  },
);
