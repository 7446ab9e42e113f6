/**
 * Run a query: resolve its ranges, read how fresh the project's numbers are (one small batch),
 * answer from the cache or aggregate in D1 (one batch for the range, its totals and its
 * comparison, from rollups where they hold the days), and shape `{ results, meta }` as
 * docs/STATS.md defines them.
 */
import { buckets, type Interval, localDate, type LocalDate } from './calendar.ts';
import { CLOSED_TTL_S, cached, cacheKey, freshnessStatements, OPEN_TTL_S, readFreshness } from './cache.ts';
import { comparisonRange, type ResolvedRange } from './date-range.ts';
import { resolveProjectRange } from './first-day.ts';
import { type Goal, goalsStatement } from './goals.ts';
import { planAggregations, type Row, usesGoals } from './plan.ts';
import type { Dimension, Metric, Query } from './schema.ts';

/** One group of the answer. */
export interface QueryResult {
  dimensions: (string | null)[];
  metrics: number[];
  comparison?: { metrics: number[] };
}

/** The answer. */
export interface QueryResponse {
  results: QueryResult[];
  meta: { time_labels?: string[]; totals?: number[]; comparison_totals?: number[]; currency?: string };
}

/** The project facts a query needs. */
export interface QueryProject {
  id: string;
  timezone: string;
  createdAt: number;
  /** ISO 4217 code of the `revenue` metric. */
  currency: string;
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
    case 'conversion_rate':
      return row.baseVisitors ? Math.round((row.visitors / row.baseVisitors) * 100 * 100) / 100 : 0;
    case 'revenue':
      return Math.round((row.revenue ?? 0) * 100) / 100;
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

/**
 * Answer a validated query for a project at `now`, from the cache when the same question was
 * answered over the same stored numbers (see cache.ts).
 */
export async function runQuery(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  now: number,
): Promise<QueryResponse> {
  const tz = project.timezone;
  const range = await resolveProjectRange(d1, project, query.date_range, now);
  const compare = query.include.compare ? comparisonRange(range, query.include.compare, tz) : null;
  const ranges = [range, ...(compare ? [compare] : [])];
  const start = Math.min(...ranges.map((r) => r.start));
  const end = Math.max(...ranges.map((r) => r.end));
  const goalsUsed = usesGoals(query);
  const first = await d1.batch([
    ...freshnessStatements(d1, project.id, start, end),
    ...(goalsUsed ? [goalsStatement(d1, project.id)] : []),
  ]);
  const freshness = readFreshness(first);
  const goals = (first[2]?.results ?? []) as Goal[];
  const answer = () => computeAnswer(d1, project, query, { range, compare, freshness, goals });
  // `realtime` moves with every request: nothing to share.
  if (!range.from) return answer();
  const { format: _format, ...question } = query;
  const key = await cacheKey(project.id, freshness, [question, ranges, tz, project.currency, goals]);
  return cached(key, range.end > now ? OPEN_TTL_S : CLOSED_TTL_S, answer);
}

/** Compute an answer in D1. */
async function computeAnswer(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  context: {
    range: ResolvedRange;
    compare: ResolvedRange | null;
    freshness: Parameters<typeof planAggregations>[4]['freshness'];
    goals: Goal[];
  },
): Promise<QueryResponse> {
  const tz = project.timezone;
  const { range, compare, freshness, goals } = context;
  const aggregate = await planAggregations(d1, project, query, [range, ...(compare ? [compare] : [])], {
    freshness,
    goals,
  });
  const mainRows = aggregate(range, query.dimensions);
  const totalRows = query.include.totals ? aggregate(range, []) : null;
  const comparedRows = compare ? aggregate(compare, query.dimensions) : null;
  const comparedTotalRows = compare && query.include.totals ? aggregate(compare, []) : null;
  const answers = await aggregate.run();
  const main = mainRows(answers);
  const totals = totalRows?.(answers) ?? null;
  const compared = comparedRows?.(answers) ?? null;
  const comparedTotals = comparedTotalRows?.(answers) ?? null;

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
  if (query.metrics.includes('revenue')) meta.currency = project.currency;
  const offset = (query.page - 1) * query.limit;
  return { results: results.slice(offset, offset + query.limit), meta };
}
