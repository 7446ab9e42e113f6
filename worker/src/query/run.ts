/**
 * Run a query: resolve its ranges, aggregate in D1 (one batch for the range, its totals and its
 * comparison), and shape `{ results, meta }` as docs/STATS.md defines them.
 */
import { buckets, type Interval, localDate, type LocalDate } from './calendar.ts';
import { comparisonRange, type ResolvedRange, resolveDateRange } from './date-range.ts';
import type { Dimension, Metric, Query } from './schema.ts';
import { aggregateSql } from './sql.ts';

/** What D1 returns per group. */
interface Row {
  g0: string | null;
  g1: string | null;
  g2: string | null;
  visitors: number;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  duration: number;
}

/** One group of the answer. */
export interface QueryResult {
  dimensions: (string | null)[];
  metrics: number[];
  comparison?: { metrics: number[] };
}

/** The answer. */
export interface QueryResponse {
  results: QueryResult[];
  meta: { time_labels?: string[]; totals?: number[]; comparison_totals?: number[] };
}

/** The project facts a query needs. */
export interface QueryProject {
  id: string;
  timezone: string;
  createdAt: number;
}

function metricValue(metric: Metric, row: Row | undefined): number {
  if (!row) return 0;
  const perVisit = (value: number) => (row.visits ? value / row.visits : 0);
  switch (metric) {
    case 'visitors':
      return row.visitors;
    case 'visits':
      return row.visits;
    case 'pageviews':
      return row.pageviews;
    case 'events':
      return row.events;
    case 'views_per_visit':
      return Math.round(perVisit(row.pageviews) * 100) / 100;
    case 'bounce_rate':
      return Math.round(perVisit(row.bounces) * 100);
    case 'visit_duration':
      return Math.round(perVisit(row.duration) / 1000);
  }
}

const TIME_INTERVALS: Record<string, Interval> = {
  'time:hour': 'hour',
  'time:day': 'day',
  'time:week': 'week',
  'time:month': 'month',
};

function rangeDates(range: ResolvedRange, timeZone: string): { from: LocalDate; to: LocalDate } {
  return { from: range.from ?? localDate(range.start, timeZone), to: range.to ?? localDate(range.end - 1, timeZone) };
}

/** Dimension values in `direction`; a missing value comes last either way. */
function compareValues(a: string | null, b: string | null, direction: 'asc' | 'desc' = 'asc'): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return (a < b ? -1 : 1) * (direction === 'asc' ? 1 : -1);
}

/** Order groups: `order_by`, else time ascending or the first metric descending; ties by dimensions. */
function sortResults(query: Query, results: QueryResult[]): void {
  const timeIndex = query.dimensions.findIndex((d) => d.startsWith('time:'));
  const keys: [string, 'asc' | 'desc'][] =
    query.order_by ??
    (timeIndex >= 0 ? [[query.dimensions[timeIndex] as string, 'asc']] : [[query.metrics[0] as string, 'desc']]);
  results.sort((a, b) => {
    for (const [key, direction] of keys) {
      const metric = (query.metrics as string[]).indexOf(key);
      const dimension = query.dimensions.indexOf(key as Dimension);
      const order =
        metric >= 0
          ? ((a.metrics[metric] ?? 0) - (b.metrics[metric] ?? 0)) * (direction === 'asc' ? 1 : -1)
          : compareValues(a.dimensions[dimension] ?? null, b.dimensions[dimension] ?? null, direction);
      if (order !== 0) return order;
    }
    for (let i = 0; i < query.dimensions.length; i++) {
      const order = compareValues(a.dimensions[i] ?? null, b.dimensions[i] ?? null);
      if (order !== 0) return order;
    }
    return 0;
  });
}

/** Answer a validated query for a project at `now`. */
export async function runQuery(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  now: number,
): Promise<QueryResponse> {
  const tz = project.timezone;
  const range = resolveDateRange(query.date_range, tz, now, localDate(project.createdAt, tz));
  const compare = query.include.compare ? comparisonRange(range, query.include.compare, tz) : null;
  const statement = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const { sql, params } = aggregateSql(project.id, r.start, r.end, tz, dimensions, query.filters);
    return d1.prepare(sql).bind(...params);
  };
  const statements = [statement(range, query.dimensions)];
  if (query.include.totals) statements.push(statement(range, []));
  if (compare) statements.push(statement(compare, query.dimensions));
  if (compare && query.include.totals) statements.push(statement(compare, []));
  const answers = (await d1.batch<Row>(statements)).map((answer) => answer.results);
  const [main = [], totals = null] = query.include.totals ? [answers[0], answers[1]] : [answers[0], null];
  const compared = compare ? (answers[query.include.totals ? 2 : 1] ?? []) : null;
  const comparedTotals = compare && query.include.totals ? (answers[3] ?? []) : null;

  const metricsOf = (row: Row | undefined) => query.metrics.map((metric) => metricValue(metric, row));
  const dimensionsOf = (row: Row) => [row.g0, row.g1, row.g2].slice(0, query.dimensions.length);
  // Without dimensions the answer is always one row, with zeros when nothing matched.
  const rows = query.dimensions.length || main.length ? main : [undefined];
  const results: QueryResult[] = rows.map((row) => ({
    dimensions: row ? dimensionsOf(row) : [],
    metrics: metricsOf(row),
  }));

  const timeIndex = query.dimensions.findIndex((d) => d.startsWith('time:'));
  const interval = timeIndex >= 0 ? TIME_INTERVALS[query.dimensions[timeIndex] as string] : undefined;
  const labels = (r: ResolvedRange) => {
    const { from, to } = rangeDates(r, tz);
    return buckets(from, to, interval ?? 'day', tz).map((bucket) => bucket.label);
  };
  if (compared) {
    // Time buckets match by position (the third day with the third day), other dimensions by value.
    const ownLabels = interval ? labels(range) : [];
    const theirLabels = compare && interval ? labels(compare) : [];
    const key = (dims: (string | null)[]) =>
      JSON.stringify(dims.map((value, i) => (i === timeIndex ? ownLabels.indexOf(value ?? '') : value)));
    const theirKey = (dims: (string | null)[]) =>
      JSON.stringify(dims.map((value, i) => (i === timeIndex ? theirLabels.indexOf(value ?? '') : value)));
    const byKey = new Map(compared.map((row) => [theirKey(dimensionsOf(row)), row]));
    for (const result of results) result.comparison = { metrics: metricsOf(byKey.get(key(result.dimensions))) };
  }

  sortResults(query, results);
  const meta: QueryResponse['meta'] = {};
  if (query.include.time_labels && interval) meta.time_labels = labels(range);
  if (totals) meta.totals = metricsOf(totals[0]);
  if (comparedTotals) meta.comparison_totals = metricsOf(comparedTotals[0]);
  const offset = (query.page - 1) * query.limit;
  return { results: results.slice(offset, offset + query.limit), meta };
}
