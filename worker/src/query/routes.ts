/** `POST /api/v1/query`: the stats API. */
import { createRoute, z } from '@hono/zod-openapi';
import { getDb } from '../db/index.ts';
import { authorizeProject } from '../auth/access.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody } from '../shared/openapi.ts';
import { toCsv } from './csv.ts';
import { runQuery } from './run.ts';
import { QuerySchema } from './schema.ts';
import { statsProject } from './plan.ts';
import { databasesOf } from '../store/index.ts';

const ResponseSchema = z
  .object({
    results: z.array(
      z.object({
        dimensions: z.array(z.string().nullable()),
        metrics: z.array(z.number()),
        comparison: z.object({ metrics: z.array(z.number()) }).optional(),
      }),
    ),
    meta: z.object({
      time_labels: z.array(z.string()).optional(),
      totals: z.array(z.number()).optional(),
      comparison_totals: z.array(z.number()).optional(),
      currency: z.string().optional().openapi({ description: 'With `revenue`: the ISO 4217 code it is in' }),
      unavailable: z
        .array(
          z.object({
            from: z.string(),
            to: z.string(),
            reason: z.enum(['retention', 'dimension', 'goal']),
            name: z.string().optional(),
          }),
        )
        .optional()
        .openapi({
          description:
            'Days of the range for which part of the answer is not known (docs/STATS.md, "History"): their raw ' +
            'events are past retention and the answer needed them, or a dimension or goal is newer than their rollups',
        }),
    }),
  })
  .openapi('QueryResponse');

export const queryRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/v1/query',
    tags: ['Stats'],
    summary: 'Aggregate, time series and breakdowns of a project',
    description:
      'Exact numbers, equal to a count over the raw events, as defined in docs/STATS.md. **visitors**: the sum of ' +
      "each local day's distinct visitor ids (ids are salted daily, so a person seen on two days counts twice — " +
      "Plausible's definition). **visits**: sessions as the ProjectDO assigns them (30 minutes of silence or a local " +
      'midnight ends one). **bounce_rate**: visits with one pageview and no other event. **visit_duration**: last − ' +
      'first event of a visit, averaged. **pageviews** and **events** count events; **views_per_visit** is pageviews ' +
      'per visit. **entry_page** / **exit_page**: the page of each visit’s first event and of its last pageview (by time). **conversion_rate**: the ' +
      "group's visitors who completed the goal ÷ its visitors without the goal condition, in percent. **revenue**: the " +
      "amounts in the project's currency (`meta.currency`). All " +
      "buckets are local to the project's timezone, correct across DST. Closed days are read from rollups, the open " +
      'day (and any day a late event reached) from raw events; answers are cached under a key that changes with ' +
      'every write. Any member, a `read` API key of the project, or its share link (`X-Tally-Share`) may ask.',
    request: jsonBody(QuerySchema),
    responses: {
      200: {
        description: 'The results (JSON, or CSV with `format: "csv"`)',
        content: { 'application/json': { schema: ResponseSchema }, 'text/csv': { schema: z.string() } },
      },
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const query = c.req.valid('json');
    const { project } = await authorizeProject(getDb(c.env.DB), c.get('principal'), query.project, 'read');
    const response = await runQuery(databasesOf(c.env, project), statsProject(project), query, Date.now());
    if (query.format === 'csv') {
      c.header('Content-Type', 'text/csv; charset=utf-8');
      c.header('Content-Disposition', `attachment; filename="tally-${project.id}.csv"`);
      return c.body(toCsv(query, response), 200);
    }
    return c.json(response, 200);
  },
);
