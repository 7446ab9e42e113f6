/**
 * Run a query: resolve its ranges, read how fresh the project's numbers are (one small batch),
 * answer from the cache or aggregate in D1 (one batch for the range, its totals and its
 * comparison, from rollups where they hold the days), and shape `{ results, meta }` as
 * docs/STATS.md defines them.
 */
import type { QueryResponse, QueryResult } from '@tally/sdk/catalog';
import { ApiError } from '../shared/errors.ts';
import { RAW_EVENT_BUDGET, RawBudget } from './budget.ts';
import { buckets, daysBetween, type Interval, localDate, type LocalDate } from '../shared/calendar.ts';
import { freshnessStatements, type ProjectDatabases, readFreshness } from '../store/index.ts';
import { CLOSED_TTL_S, cacheGet, cacheKey, cachePut, OPEN_TTL_S } from './cache.ts';
import { comparisonRange, type ResolvedRange } from './date-range.ts';
import { resolveProjectRange } from './first-day.ts';
import { type Goal, goalsStatement } from '../stats/goals.ts';
import { unavailableDays } from './unavailable.ts';
import { planAggregations, type QueryProject, type Row, usesGoals } from './plan.ts';

export type { QueryProject };
import type { Dimension, Metric, Query } from './schema.ts';

export type { QueryResponse, QueryResult };

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
    case 'exit_rate':
      return row.pagePageviews ? Math.round((row.visits / row.pagePageviews) * 100) : 0;
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
 * answered over the same stored numbers (see cache.ts), within a budget of raw event scans.
 */
export async function runQuery(
  dbs: ProjectDatabases,
  project: QueryProject,
  query: Query,
  now: number,
  budget: RawBudget = new RawBudget(dbs.data, project.id, RAW_EVENT_BUDGET.query),
): Promise<QueryResponse> {
  const [answer] = await runQueries(dbs, project, [query], now, budget);
  return answer as QueryResponse;
}

/**
 * Answer several queries of one project (an export's breakdowns) with one freshness read and one
 * D1 batch for every answer the cache does not hold; their raw scans share `budget`.
 */
export async function runQueries(
  { control, data: d1 }: ProjectDatabases,
  project: QueryProject,
  queries: readonly Query[],
  now: number,
  budget: RawBudget,
): Promise<QueryResponse[]> {
  const tz = project.timezone;
  const resolved = new Map<string, Promise<ResolvedRange>>();
  const rangeOf = (spec: Query['date_range']) => {
    const key = JSON.stringify(spec);
    if (!resolved.has(key)) resolved.set(key, resolveProjectRange(d1, project, spec, now));
    return resolved.get(key) as Promise<ResolvedRange>;
  };
  const asked = await Promise.all(
    queries.map(async (query) => {
      const range = await rangeOf(query.date_range);
      checkBuckets(query, range, tz);
      const compare = query.include.compare ? comparisonRange(range, query.include.compare, tz) : null;
      return { query, range, compare, ranges: [range, ...(compare ? [compare] : [])] };
    }),
  );
  const spans = asked.flatMap((one) => one.ranges);
  const goalsUsed = asked.some((one) => usesGoals(one.query));
  const reads = freshnessStatements(
    d1,
    project.id,
    Math.min(...spans.map((r) => r.start)),
    Math.max(...spans.map((r) => r.end)),
    tz,
  );
  // Goals are settings (the control database), the rest is the project's data (its pool database).
  const [first, goalRows] = await Promise.all([
    d1.batch(reads),
    goalsUsed ? goalsStatement(control, project.id).all<Goal>() : null,
  ]);
  const freshness = readFreshness(first);
  const goals = goalRows?.results ?? [];

  const answers: (QueryResponse | null)[] = [];
  const keys: (Request | null)[] = [];
  for (const { query, range, ranges } of asked) {
    // `realtime` moves with every request: nothing to share.
    const { format: _format, ...question } = query;
    const key = range.from
      ? await cacheKey(project.id, freshness, [question, ranges, tz, project.currency, goals])
      : null;
    keys.push(key);
    answers.push(key ? await cacheGet<QueryResponse>(key) : null);
  }
  const missing = asked.flatMap((one, index) => (answers[index] ? [] : [{ ...one, index }]));
  if (!missing.length) return answers as QueryResponse[];

  const prepared = [];
  for (const one of missing) {
    prepared.push(await prepareAnswer(d1, project, one.query, { ...one, freshness, goals, budget, now }));
  }
  const statements = [];
  for (const answer of prepared) statements.push(await answer.statements());
  const results = (await d1.batch<Row>(statements.flat())).map((answer) => answer.results);
  let offset = 0;
  for (const [i, one] of missing.entries()) {
    const count = statements[i]?.length ?? 0;
    const answer = (prepared[i] as Prepared).finish(results.slice(offset, offset + count));
    offset += count;
    answers[one.index] = answer;
    const key = keys[one.index];
    if (key) await cachePut(key, one.range.end > now ? OPEN_TTL_S : CLOSED_TTL_S, answer);
  }
  return answers as QueryResponse[];
}

/** Hour buckets only for ranges of up to this many days (93 days are 2,232 hours). */
const MAX_HOURLY_DAYS = 93;

/** A time series must stay a size a chart can draw: hourly only over short ranges. */
function checkBuckets(query: Query, range: ResolvedRange, timeZone: string): void {
  if (!query.dimensions.includes('time:hour')) return;
  const { from, to } = rangeDates(range, timeZone);
  if (daysBetween(from, to) >= MAX_HOURLY_DAYS) {
    const message = `time:hour covers at most ${MAX_HOURLY_DAYS} days; use time:day or a shorter date_range`;
    throw new ApiError(400, 'invalid_input', message, [{ path: ['dimensions'], message }]);
  }
}

/** An answer being computed: its statements (once their raw scans fit the budget), then the shaping. */
interface Prepared {
  statements: () => Promise<D1PreparedStatement[]>;
  finish: (answers: Row[][]) => QueryResponse;
}

/** Plan an answer in D1. */
async function prepareAnswer(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  context: {
    range: ResolvedRange;
    compare: ResolvedRange | null;
    freshness: Parameters<typeof planAggregations>[4]['freshness'];
    goals: Goal[];
    budget: RawBudget;
    now: number;
  },
): Promise<Prepared> {
  const { range, compare, freshness, goals, budget, now } = context;
  const aggregate = await planAggregations(d1, project, query, [range, ...(compare ? [compare] : [])], {
    freshness,
    goals,
    budget,
    now,
  });
  const mainRows = aggregate(range, query.dimensions);
  const totalRows = query.include.totals ? aggregate(range, []) : null;
  const comparedRows = compare ? aggregate(compare, query.dimensions) : null;
  const comparedTotalRows = compare && query.include.totals ? aggregate(compare, []) : null;
  const unavailable =
    range.from && range.to
      ? unavailableDays(query, { from: range.from, to: range.to }, project.timezone, context, aggregate.scans)
      : [];
  return {
    statements: aggregate.statements,
    finish: (answers) => {
      const answer = shapeAnswer(project, query, context, {
        main: mainRows(answers),
        totals: totalRows?.(answers) ?? null,
        compared: comparedRows?.(answers) ?? null,
        comparedTotals: comparedTotalRows?.(answers) ?? null,
      });
      if (unavailable.length) answer.meta.unavailable = unavailable;
      return answer;
    },
  };
}

/** Shape `{ results, meta }` from the rows of an answer. */
function shapeAnswer(
  project: QueryProject,
  query: Query,
  { range, compare }: { range: ResolvedRange; compare: ResolvedRange | null },
  rowsOf: { main: Row[]; totals: Row[] | null; compared: Row[] | null; comparedTotals: Row[] | null },
): QueryResponse {
  const tz = project.timezone;
  const { main, totals, compared, comparedTotals } = rowsOf;
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
