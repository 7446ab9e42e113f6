/**
 * Planning a query's aggregations into one D1 batch: each aggregation (the range, its totals, its
 * comparison) reads rollups plus raw runs where rollups can answer it (`rollup-read.ts`), and
 * raw events over its range otherwise; goal breakdowns make one aggregation per goal.
 */
import type { Freshness } from './cache.ts';
import type { ResolvedRange } from './date-range.ts';
import { anyGoalCondition, type Goal, goalCondition, pageviewPaths } from './goals.ts';
import { type AggregateRow, markedDays, planFromRollups, rollupGrouping } from './rollup-read.ts';
import type { QueryProject } from './run.ts';
import type { Dimension, Query } from './schema.ts';
import { aggregateSql, type Condition } from './sql.ts';

/** What an aggregation gives per group. */
export interface Row extends AggregateRow {
  /** For conversion rates: the visitors of the same group without the goal condition. */
  baseVisitors?: number;
}

/** Whether a query names goals (and so needs the project's goals loaded). */
export function usesGoals(query: Query): boolean {
  return query.dimensions.includes('event:goal') || query.filters.some(([, dimension]) => dimension === 'event:goal');
}

/**
 * Plan the aggregations of a query into one D1 batch. With `event:goal` a group is made per goal
 * (its condition added to the filters); with `conversion_rate` each group is paired with the same
 * group without the goal condition. Call the planner per aggregation, then `run()` once.
 */
export async function planAggregations(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  ranges: ResolvedRange[],
  context: { freshness: Freshness; goals: Goal[] },
) {
  const goalFilters = query.filters.filter(([, dimension]) => dimension === 'event:goal');
  const goalsUsed = usesGoals(query);
  const { freshness, goals } = context;
  const scope = { projectId: project.id, currency: project.currency, timeZone: project.timezone };
  const paths = goalsUsed
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
    const { sql, params } = aggregateSql({ ...scope, start: r.start, end: r.end }, dimensions, filters, extra);
    statements.push(d1.prepare(sql).bind(...params));
    return statements.length - 1;
  };
  let answers: Row[][] = [];

  const plan = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const grouping = goalsUsed ? null : rollupGrouping(dimensions, query.filters, query.metrics);
    if (grouping !== null && r.from && r.to) {
      const marked = markedDays(freshness.marks, r.from, r.to, project.timezone);
      const read = planFromRollups(d1, scope, { from: r.from, to: r.to }, dimensions, grouping, marked);
      if (read) {
        const indexes = read.statements.map((statement) => statements.push(statement) - 1);
        return (all: Row[][]): Row[] => read.merge(indexes.map((index) => all[index] ?? []));
      }
    }
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
