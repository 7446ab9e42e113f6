/**
 * Every list of dimensions and metrics agrees with the catalog (`sdk/src/catalog.ts`): the query
 * schema and its OpenAPI, the events table, ingest's enrichment, the rollups, the export, the
 * oracle's generator and docs/STATS.md. A dimension added to the catalog and forgotten anywhere
 * here fails one of these tests; the dashboard's lists are held in `dashboard/src/lib/dashboard/catalog.test.ts`.
 */
import {
  CATALOG_VERSION,
  DIMENSION_NAMES,
  DIMENSIONS,
  ENTRY_COLUMNS,
  EXPORT_FILES,
  METRIC_NAMES,
  ROLLED_DIMENSIONS,
  TIME_DIMENSIONS,
  UNFILTERED_VERSION,
} from '@tally/sdk/catalog';
import { env, exports } from 'cloudflare:workers';
import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import stats from '../../docs/STATS.md?raw';
import { events } from '../src/db/schema.ts';
import { enrichEvent } from '../src/ingest/enrich.ts';
import { DimensionSchema, QuerySchema } from '../src/query/schema.ts';
import { rollUpAll } from '../src/rollup/index.ts';
import { GOAL_DIMENSION } from '../src/stats/goal-keys.ts';
import { event, seed, signUp } from './query-oracle-harness.ts';

// The bench's generator, loaded by path: it belongs to the bench's TypeScript project, not the worker's.
const bench = (await import(new URL('../../bench/rows.ts', import.meta.url).pathname)) as {
  EVENT_COLUMNS: readonly string[];
  dayRows: (
    project: string,
    dayStart: number,
    target: number,
    rand: () => number,
    counter: { next: number },
  ) => unknown[][];
};
const { random } = (await import(new URL('../../bench/events.ts', import.meta.url).pathname)) as {
  random: (seed: number) => () => number;
};

const COLUMN_NAMES = new Set(Object.values(getTableColumns(events)).map((column) => column.name));

describe('the catalog', () => {
  it('counts every rolled dimension in the version unfiltered reads need', () => {
    // A day rolled at UNFILTERED_VERSION is read from rollups by unfiltered views: it must hold every dimension.
    for (const name of ROLLED_DIMENSIONS) expect(DIMENSIONS[name].since, name).toBeLessThanOrEqual(UNFILTERED_VERSION);
    expect(UNFILTERED_VERSION).toBeLessThanOrEqual(CATALOG_VERSION);
  });

  it('is what the query schema accepts: every named dimension, the time buckets, and nothing else', () => {
    for (const name of [...DIMENSION_NAMES, ...TIME_DIMENSIONS])
      expect(DimensionSchema.safeParse(name).success, name).toBe(true);
    for (const name of ['visit:source', 'path', 'event:props', 'time:year']) {
      expect(DimensionSchema.safeParse(name).success, name).toBe(false);
    }
    const metrics = QuerySchema.shape.metrics.element.options;
    expect(metrics).toEqual(METRIC_NAMES);
  });

  it('is what the OpenAPI document lists', async () => {
    const res = await exports.default.fetch('http://tally.test/api/openapi.json');
    const doc = await res.json<{
      components: {
        schemas: { Query: { properties: { metrics: { items: { enum: string[] } }; dimensions: unknown } } };
      };
    }>();
    const { metrics, dimensions } = doc.components.schemas.Query.properties;
    expect(metrics.items.enum).toEqual(METRIC_NAMES);
    const listed = JSON.stringify(dimensions);
    for (const name of [...DIMENSION_NAMES, ...TIME_DIMENSIONS]) expect(listed, name).toContain(name);
  });

  it('names only columns the events table has, and ingest fills every one of them', () => {
    const columns = DIMENSION_NAMES.flatMap((name) => DIMENSIONS[name].column ?? []);
    for (const column of columns) expect(COLUMN_NAMES.has(column), column).toBe(true);
    const enriched = enrichEvent({ n: 'pageview', u: 'https://example.com/?utm_source=x', w: 1920 }, 'p', 0, 0, {
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      cf: { country: 'DE', region: 'Berlin', city: 'Berlin' },
      acceptLanguage: 'de-DE,en;q=0.5',
    });
    const stored = new Map(Object.entries(getTableColumns(events)).map(([key, column]) => [column.name, key]));
    for (const [, column] of ENTRY_COLUMNS) {
      const key = stored.get(column) as string;
      expect(Object.hasOwn(enriched, key), `enrichEvent sets ${key}`).toBe(true);
    }
    expect(enriched.language).toBe('de-DE');
  });

  it('is what a day’s rollup writes: one grouping per rolled dimension, the totals, the hours and the goals', async () => {
    const owner = await signUp();
    const projectId = await seed(
      'UTC',
      [
        event('2026-05-01T10:00:00Z', { language: 'en-US', utm_term: 'shoes', os_version: '14' }),
        event('2026-05-01T10:01:00Z', { seq: 2, name: 'signup' }),
      ],
      [
        {
          name: 'Signed up',
          kind: 'event',
          path: null,
          event_name: 'signup',
          property_key: null,
          property_value: null,
        },
      ],
      owner,
    );
    await rollUpAll(env, Date.UTC(2026, 4, 3));
    const { results } = await env.DB.prepare('SELECT DISTINCT dimension FROM rollups WHERE project_id = ?')
      .bind(projectId)
      .all<{ dimension: string }>();
    expect(results.map((row) => row.dimension).sort()).toEqual(
      ['', 'time:hour', GOAL_DIMENSION, ...ROLLED_DIMENSIONS].sort(),
    );
  });

  it('is what the export zip holds: the time series and one file per exported dimension', () => {
    const exported = DIMENSION_NAMES.filter((name) => DIMENSIONS[name].export);
    expect(EXPORT_FILES.map((file) => file.dimension)).toEqual(['time:day', ...exported]);
    expect(new Set(EXPORT_FILES.map((file) => file.file)).size).toBe(EXPORT_FILES.length);
  });

  it('is what docs/STATS.md defines: every dimension and metric is named there', () => {
    for (const name of [...DIMENSION_NAMES, ...METRIC_NAMES]) expect(stats, name).toContain(`\`${name}\``);
  });

  it('is what the bench generates: every catalog column filled on some event, through enrichment', () => {
    expect(bench.EVENT_COLUMNS).toEqual([...COLUMN_NAMES]);
    const rows = bench.dayRows('bench', Date.UTC(2026, 4, 1), 2_000, random(7), { next: 0 });
    const columns = DIMENSION_NAMES.flatMap((name) => DIMENSIONS[name].column ?? []);
    for (const column of new Set(columns)) {
      const index = bench.EVENT_COLUMNS.indexOf(column);
      expect(
        rows.some((row) => row[index] !== null && row[index] !== undefined),
        column,
      ).toBe(true);
    }
  });
});
