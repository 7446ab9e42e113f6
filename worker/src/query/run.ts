/**
 * Run a query: resolve its ranges, aggregate in D1 (one batch for the range, its totals and its
 * comparison), and shape `{ results, meta }` as docs/STATS.md defines them.
 */
import { buckets, type Interval, localDate, type LocalDate } from './calendar.ts';
import { comparisonRange, type ResolvedRange, resolveDateRange } from './date-range.ts';
import type { Dimension, Metric, Query } from './schema.ts';
import { anyGoalCondition, goalCondition, loadGoals, pageviewPaths } from './goals.ts';
import { aggregateSql, type Condition } from './sql.ts';

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
  /** For conversion rates: the visitors of the same group without the goal condition. */
  baseVisitors?: number;
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
    case 'conversion_rate':
      return row.baseVisitors ? Math.round((row.visitors / row.baseVisitors) * 100 * 100) / 100 : 0;
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
  const aggregate = await planAggregations(d1, project, query, [range, ...(compare ? [compare] : [])]);
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
  const offset = (query.page - 1) * query.limit;
  return { results: results.slice(offset, offset + query.limit), meta };
}

/**
 * Plan the aggregations of a query into one D1 batch. With `event:goal` a group is made per goal
 * (its condition added to the filters); with `conversion_rate` each group is paired with the same
 * group without the goal condition. Call the planner per aggregation, then `run()` once.
 */
async function planAggregations(d1: D1Database, project: QueryProject, query: Query, ranges: ResolvedRange[]) {
  const goalFilters = query.filters.filter(([, dimension]) => dimension === 'event:goal');
  const usesGoals = goalFilters.length > 0 || query.dimensions.includes('event:goal');
  const goals = usesGoals ? await loadGoals(d1, project.id) : [];
  const paths = usesGoals
    ? await pageviewPaths(
        d1,
        project.id,
        Math.min(...ranges.map((r) => r.start)),
        Math.max(...ranges.map((r) => r.end)),
      )
    : [];
  const filters = query.filters.filter(([, dimension]) => dimension !== 'event:goal');
  // Every goal filter holds (AND); each keeps the events that complete any of its goals.
  const goalWhere: Condition[] = goalFilters.map(([, , names]) =>
    anyGoalCondition(
      goals.filter((goal) => names.includes(goal.name)),
      paths,
    ),
  );
  const conversion = query.metrics.includes('conversion_rate');
  const statements: D1PreparedStatement[] = [];
  const add = (r: ResolvedRange, dimensions: readonly Dimension[], extra: { where?: Condition[]; goal?: string }) => {
    const { sql, params } = aggregateSql(project.id, r.start, r.end, project.timezone, dimensions, filters, extra);
    statements.push(d1.prepare(sql).bind(...params));
    return statements.length - 1;
  };
  let answers: Row[][] = [];

  const plan = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const goalIndex = dimensions.indexOf('event:goal');
    const parts =
      goalIndex >= 0
        ? goals.map((goal) =>
            add(r, dimensions, { where: [...goalWhere, goalCondition(goal, paths)], goal: goal.name }),
          )
        : [add(r, dimensions, { where: goalWhere })];
    const others = dimensions.filter((dimension) => dimension !== 'event:goal');
    const base = conversion ? add(r, others, {}) : null;
    return (all: Row[][]): Row[] => {
      const rows = parts.flatMap((index) => all[index] ?? []);
      if (base === null) return rows;
      const keyOf = (values: (string | null)[]) => JSON.stringify(values);
      const baseByKey = new Map(
        (all[base] ?? []).map((row) => [keyOf([row.g0, row.g1, row.g2].slice(0, others.length)), row.visitors]),
      );
      return rows.map((row) => {
        const values = [row.g0, row.g1, row.g2].slice(0, dimensions.length).filter((_, i) => i !== goalIndex);
        return { ...row, baseVisitors: baseByKey.get(keyOf(values)) ?? 0 };
      });
    };
  };
  return Object.assign(plan, {
    run: async (): Promise<Row[][]> => {
      answers = (await d1.batch<Row>(statements)).map((answer) => answer.results);
      return answers;
    },
  });
}
