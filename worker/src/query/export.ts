/**
 * `POST /api/v1/export`: a zip of CSV files, one per standard breakdown of a range (what
 * Plausible's export holds), built from the same queries the dashboard asks.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { strToU8, zipSync } from 'fflate';
import { getDb } from '../db/index.ts';
import { authorizeProject } from '../projects/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody } from '../shared/openapi.ts';
import { toCsv } from './csv.ts';
import { RAW_EVENT_BUDGET, RawBudget } from './budget.ts';
import { type QueryProject, type QueryResponse, runQueries } from './run.ts';
import { DateRangeSchema, type Dimension, FilterSchema, type Metric, type Query, QuerySchema } from './schema.ts';

const VISIT_METRICS: Metric[] = ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'];

/** The files of an export: name, dimensions, metrics. */
export const EXPORT_FILES: readonly [file: string, dimensions: Dimension[], metrics: Metric[]][] = [
  [
    'visitors.csv',
    ['time:day'],
    ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'],
  ],
  ['pages.csv', ['page'], ['visitors', 'pageviews']],
  ['entry_pages.csv', ['entry_page'], VISIT_METRICS],
  ['exit_pages.csv', ['exit_page'], ['visitors', 'visits']],
  ['sources.csv', ['source'], VISIT_METRICS],
  ['utm_sources.csv', ['utm_source'], VISIT_METRICS],
  ['utm_mediums.csv', ['utm_medium'], VISIT_METRICS],
  ['utm_campaigns.csv', ['utm_campaign'], VISIT_METRICS],
  ['countries.csv', ['country'], ['visitors']],
  ['regions.csv', ['region'], ['visitors']],
  ['cities.csv', ['city'], ['visitors']],
  ['browsers.csv', ['browser'], ['visitors']],
  ['operating_systems.csv', ['os'], ['visitors']],
  ['devices.csv', ['device'], ['visitors']],
  ['screens.csv', ['screen'], ['visitors']],
  ['custom_events.csv', ['event:name'], ['visitors', 'events']],
  ['referrers.csv', ['referrer'], VISIT_METRICS],
  ['goals.csv', ['event:goal'], ['visitors', 'events', 'conversion_rate', 'revenue']],
];

/**
 * Every breakdown of a range as CSV files in a zip: one freshness read and one D1 batch for all
 * of them, their raw scans within one request's budget.
 */
export async function exportZip(
  d1: D1Database,
  project: QueryProject,
  range: Query['date_range'],
  filters: Query['filters'],
  now: number,
  budget: RawBudget = new RawBudget(d1, project.id, RAW_EVENT_BUDGET.export),
): Promise<Uint8Array> {
  const queries = EXPORT_FILES.map(([, dimensions, metrics]) =>
    QuerySchema.parse({ project: project.id, metrics, dimensions, date_range: range, filters, limit: 10_000 }),
  );
  const answers = await runQueries(d1, project, queries, now, budget);
  const files: Record<string, Uint8Array> = {};
  EXPORT_FILES.forEach(([file], index) => {
    files[file] = strToU8(toCsv(queries[index] as Query, answers[index] as QueryResponse));
  });
  return zipSync(files);
}

export const exportRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/v1/export',
    tags: ['Stats'],
    summary: 'A zip of CSV files: every standard breakdown of a range',
    description: `Files: ${EXPORT_FILES.map(([file]) => file).join(', ')}.`,
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
    const zip = await exportZip(c.env.DB, project, body.date_range, body.filters, Date.now());
    c.header('Content-Type', 'application/zip');
    c.header('Content-Disposition', `attachment; filename="tally-${project.id}.zip"`);
    return c.body(zip.buffer as ArrayBuffer, 200);
  },
);
