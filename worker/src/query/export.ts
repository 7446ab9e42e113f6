/**
 * `POST /api/v1/export`: a zip of CSV files, one per standard breakdown of a range (what
 * Plausible's export holds), built from the same queries the dashboard asks.
 */
import { EXPORT_FILES } from '@tally/sdk/catalog';
import { createRoute, z } from '@hono/zod-openapi';
import { strToU8, zipSync } from 'fflate';
import { getDb } from '../db/index.ts';
import { authorizeProject } from '../auth/access.ts';
import { createRouter } from '../shared/hono.ts';
import { archivedDaysBetween } from '../store/index.ts';
import { EARLIEST_DATE, resolveDateRange } from './date-range.ts';
import { errorResponses, jsonBody } from '../shared/openapi.ts';
import { toCsv } from './csv.ts';
import { RAW_EVENT_BUDGET, RawBudget } from './budget.ts';
import { type QueryProject, type QueryResponse, runQueries } from './run.ts';
import { DateRangeSchema, FilterSchema, type Query, QuerySchema } from './schema.ts';
import { statsProject } from './plan.ts';
import { databasesOf, type ProjectDatabases } from '../store/index.ts';

/** The files of an export, from the catalog: the time series, then one per exported dimension. */
export { EXPORT_FILES };

/**
 * The file that lists the range's archived days (only when it has some): their numbers in the
 * other files come from rollups, and their raw events are in these R2 objects, not in the export.
 */
export const ARCHIVED_DAYS_FILE = 'archived_days.csv';

/**
 * Every breakdown of a range as CSV files in a zip: one freshness read and one D1 batch for all
 * of them, their raw scans within one request's budget. Days whose raw events were moved to the
 * R2 archive are answered from their rollups, like days the retention purge cut into, and are
 * listed in {@link ARCHIVED_DAYS_FILE} with their objects.
 */
export async function exportZip(
  dbs: ProjectDatabases,
  project: QueryProject,
  range: Query['date_range'],
  filters: Query['filters'],
  now: number,
  budget: RawBudget = new RawBudget(dbs.data, project.id, RAW_EVENT_BUDGET.export),
): Promise<Uint8Array> {
  const queries = EXPORT_FILES.map(({ dimension, metrics }) =>
    QuerySchema.parse({
      project: project.id,
      metrics,
      dimensions: [dimension],
      date_range: range,
      filters,
      limit: 10_000,
    }),
  );
  const answers = await runQueries(dbs, project, queries, now, budget);
  const files: Record<string, Uint8Array> = {};
  EXPORT_FILES.forEach(({ file }, index) => {
    files[file] = strToU8(toCsv(queries[index] as Query, answers[index] as QueryResponse));
  });
  // The earliest possible first day: `all` then lists every archived day, which is what it covers.
  const { from, to } = resolveDateRange(range, project.timezone, now, EARLIEST_DATE);
  const archived = from && to ? await archivedDaysBetween(dbs.data, project.id, from, to) : [];
  if (archived.length) {
    const lines = archived.map((day) => [day.day, day.key, day.rows, day.bytes, day.checksum].join(','));
    files[ARCHIVED_DAYS_FILE] = strToU8(`${['day,object,events,bytes,checksum', ...lines].join('\r\n')}\r\n`);
  }
  return zipSync(files);
}

export const exportRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/v1/export',
    tags: ['Stats'],
    summary: 'A zip of CSV files: every standard breakdown of a range',
    description: `Files: ${EXPORT_FILES.map(({ file }) => file).join(', ')}.`,
    request: jsonBody(
      z
        .object({
          project: z.string().min(1).max(64),
          date_range: DateRangeSchema,
          filters: z.array(FilterSchema).max(20).default([]),
        })
        .strict(),
    ),
    responses: {
      200: {
        description: 'The zip',
        content: { 'application/zip': { schema: z.string().openapi({ format: 'binary' }) } },
      },
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const { project } = await authorizeProject(getDb(c.env.DB), c.get('principal'), body.project, 'read');
    const zip = await exportZip(
      databasesOf(c.env, project),
      statsProject(project),
      body.date_range,
      body.filters,
      Date.now(),
    );
    c.header('Content-Type', 'application/zip');
    c.header('Content-Disposition', `attachment; filename="tally-${project.id}.zip"`);
    return c.body(zip.buffer as ArrayBuffer, 200);
  },
);
