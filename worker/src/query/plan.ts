/**
 * Planning a query's aggregations into one D1 batch: each aggregation (the range, its totals, its
 * comparison) reads rollups plus raw runs where rollups can answer it (`rollup-read.ts`), and
 * raw events over its range otherwise; a raw goal breakdown joins each event to the goals it
 * completes, ten goals a statement.
 */
import type { RawBudget, Span } from './budget.ts';
import { type Freshness, hourlyRolledThrough, isComplete, markedDays, staleBefore } from '../store/index.ts';
import { GOAL_DIMENSION, goalRollupKey } from '../stats/goal-keys.ts';
import { pairFilter, pairSince } from '../stats/pair-sql.ts';
import { pairsHeld, planFromPairRollups, planGoalsFromPairRollups } from './pair-read.ts';
import { calendarOf, dayBounds, formatDate, hourSegments, type LocalDate, localDate } from '../shared/calendar.ts';
import type { ResolvedRange } from './date-range.ts';
import { anyGoalCondition, type Goal, goalCondition, pageviewPaths } from '../stats/goals.ts';
import {
  type AggregateRow,
  goalRollupDimensions,
  type OpenGoals,
  planFromRollups,
  planGoalsFromRollups,
  rawRuns,
  rollupGrouping,
} from './rollup-read.ts';
import type { Dimension, Query } from './schema.ts';
import { type Filter, ROLLED_DIMENSIONS, UNFILTERED_VERSION } from '@tally/sdk/catalog';
import { aggregateSql, type Condition } from '../stats/sql.ts';
import { readSegmentPaths } from '../stats/goal-segment-sql.ts';

/** The project facts a query needs. */
export interface QueryProject {
  id: string;
  timezone: string;
  createdAt: number;
  /** ISO 4217 code of the `revenue` metric. */
  currency: string;
}

/** A project row as queries see it: its calendar (its zones over time) as `timezone`. */
export function statsProject(row: {
  id: string;
  timezone: string;
  zones: string | null;
  createdAt: number;
  currency: string;
}): QueryProject {
  return { id: row.id, timezone: calendarOf(row), createdAt: row.createdAt, currency: row.currency };
}

/** What an aggregation gives per group. */
export interface Row extends AggregateRow {
  /** For conversion rates: the visitors of the same group without the goal condition. */
  baseVisitors?: number;
  /** For exit rates: the pageviews of the group's exit page, as a `page` group of the same query. */
  pagePageviews?: number;
}

type Merge = (all: Row[][]) => Row[];

/**
 * Goals per raw statement: each adds up to three bound parameters (a property goal's name, key and
 * value), and D1 allows 100 per statement, filters' included.
 */
const GOALS_PER_STATEMENT = 10;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Breakdowns by which a lone-value filter's rollup rows can be grouped: their rows are per day. */
const DAY_TIMES: readonly Dimension[] = ['time:day', 'time:week', 'time:month'];

/**
 * The filters as one `is` filter of one value on a rolled dimension (and `dimensions` as at most a
 * day, week or month), with that value as a rollup row holds it (JSON text); null otherwise.
 */
export function loneValueFilter(
  filters: readonly Filter[],
  dimensions: readonly Dimension[],
): { filter: Filter; value: string } | null {
  const [only] = filters;
  if (filters.length !== 1 || !only || dimensions.some((dimension) => !DAY_TIMES.includes(dimension))) return null;
  const [operator, dimension, values] = only;
  if (operator !== 'is' || values.length !== 1 || !(ROLLED_DIMENSIONS as readonly string[]).includes(dimension))
    return null;
  return { filter: only, value: JSON.stringify(values[0] ?? null) };
}

/**
 * The filters of a breakdown by one rolled dimension when every filter is on that same dimension
 * (the custom events panel's `event:name is_not pageview`, a detail view's search), with that
 * dimension; null otherwise. Such filters keep or drop whole groups and change no kept group's
 * numbers: a visit filter keeps whole visits, grouped by the same visit value, and an event filter
 * keeps every event of a value it keeps (visit aggregates are the whole visit's either way). So the
 * breakdown's rollup rows whose value passes the filters are the answer.
 */
export function groupFilters(
  filters: readonly Filter[],
  dimensions: readonly Dimension[],
): { grouping: string; filters: Filter[] } | null {
  const grouping = rollupGrouping(dimensions);
  if (!filters.length || !grouping || grouping === 'time:hour') return null;
  return filters.every(([, dimension]) => dimension === grouping) ? { grouping, filters: [...filters] } : null;
}

/** Whether a query names goals (and so needs the project's goals loaded). */
export function usesGoals(query: Query): boolean {
  return query.dimensions.includes('event:goal') || query.filters.some(([, dimension]) => dimension === 'event:goal');
}

/**
 * Plan the aggregations of a query into one D1 batch. With `event:goal` a group is made per goal
 * (from goal rollups, or raw with its condition added to the filters); with `conversion_rate`
 * each group is paired with the same group without the goal condition. Call the planner per
 * aggregation, then `run()` once.
 */
export async function planAggregations(
  d1: D1Database,
  project: QueryProject,
  query: Query,
  ranges: ResolvedRange[],
  context: { freshness: Freshness; goals: Goal[]; budget: RawBudget; now: number },
) {
  const goalFilters = query.filters.filter(([, dimension]) => dimension === 'event:goal');
  const { freshness, goals, budget } = context;
  const tz = project.timezone;
  const scope = { projectId: project.id, currency: project.currency, timeZone: tz };
  const filters = query.filters.filter(([, dimension]) => dimension !== 'event:goal');
  // Rollups hold unfiltered numbers (and a lone value's, `loneValueFilter`); other filters read raw.
  const unfiltered = query.filters.length === 0;
  const closed = (r: ResolvedRange) => (r.from && r.to ? { from: r.from, to: r.to } : null);
  // The open day's closed hours may be rolled up already (rollup/hours.ts): read from there.
  const today = localDate(context.now, tz);
  const open = {
    day: today,
    through: hourlyRolledThrough(freshness.marks, hourSegments(today, tz), freshness.rolledHours),
  };
  /** The days read raw: marked ones, and complete ones rolled before the rows the read needs. */
  const markedOf = (days: { from: LocalDate; to: LocalDate }, needed = UNFILTERED_VERSION) =>
    markedDays(freshness.marks, days.from, days.to, tz, freshness.rawFrom, staleBefore(freshness.stale, needed));
  const todayLabel = formatDate(today);
  const todayBounds = dayBounds(today, tz);
  /** Whether a goal breakdown over `r` reads the open day hour by hour (goal rows of rollup_hours). */
  const goalsHourly = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const days = closed(r);
    return Boolean(
      unfiltered &&
        days &&
        goalRollupDimensions(dimensions) &&
        open.through > todayBounds.start &&
        markedOf(days).has(todayLabel),
    );
  };
  /** The runs of marked days a goal breakdown reads raw beside goal rollups; null: all of it raw. */
  const goalRuns = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const days = closed(r);
    if (!unfiltered || !days || !goalRollupDimensions(dimensions)) return null;
    const marked = markedOf(days);
    if (goalsHourly(r, dimensions)) marked.delete(todayLabel);
    return rawRuns(days, marked);
  };
  const complete = (day: string) => isComplete(day, tz, freshness.rawFrom);
  /**
   * A goal breakdown (by day, week or month too) filtered to one value of a `filtered` dimension,
   * without goal filters: its filtered goal rows, the marked days (the open day among them) and
   * their runs, read raw; null when it reads raw.
   */
  const goalPair = (r: ResolvedRange, dimensions: readonly Dimension[]) => {
    const days = closed(r);
    const pair = goalFilters.length ? null : pairFilter(query.filters, GOAL_DIMENSION);
    if (!days || !pair || !goalRollupDimensions(dimensions) || !pairsHeld(pair.key, days, freshness.stale, complete))
      return null;
    const marked = markedOf(days, pairSince(GOAL_DIMENSION));
    const runs = rawRuns(days, marked);
    return runs ? { days, pair, marked, runs } : null;
  };
  const spanOf = ([first, last]: [LocalDate, LocalDate]): [number, number] => [
    dayBounds(first, tz).start,
    dayBounds(last, tz).end,
  ];

  // Pageview goals match the paths of the spans read raw; days read from goal rollups need none.
  const spans: [number, number][] = [];
  if (usesGoals(query) && goals.some((goal) => goal.kind === 'pageview')) {
    for (const r of ranges) {
      const runs = goalFilters.length ? null : (goalPair(r, query.dimensions)?.runs ?? goalRuns(r, query.dimensions));
      spans.push(...(runs ? runs.map(spanOf) : [[r.start, r.end] as [number, number]]));
    }
  }
  // A goal breakdown reading the open day hour by hour matches its pageview goals against the
  // paths of the visitors active since its hourly rows stop.
  const openSegment = {
    day: todayLabel,
    dayStart: todayBounds.start,
    dayEnd: todayBounds.end,
    lo: open.through,
    hi: todayBounds.end,
  };
  const openGoalSegment = ranges.some((r) => goalsHourly(r, query.dimensions)) && open.through < todayBounds.end;
  const openPathsNeeded = openGoalSegment && goals.some((goal) => goal.kind === 'pageview');
  await budget.charge(openGoalSegment ? [...spans, [open.through, todayBounds.end]] : spans);
  const paths = await pageviewPaths(d1, project.id, spans);
  const openPaths = openPathsNeeded ? await readSegmentPaths(d1, project.id, openSegment) : [];
  const keys = query.dimensions.includes('event:goal')
    ? await Promise.all(goals.map(async (goal) => ({ key: await goalRollupKey(goal), name: goal.name })))
    : [];
  const openGoals: OpenGoals = {
    ...open,
    project: { id: project.id, currency: project.currency, timezone: tz },
    goals: goals.map((goal, index) => ({ ...goal, key: keys[index]?.key ?? '' })),
    paths: openPaths,
  };
  // Every goal filter holds (AND); each keeps the events that complete any of its goals.
  const goalWhere: Condition[] = goalFilters.map(([, , names]) =>
    anyGoalCondition(
      goals.filter((goal) => names.includes(goal.name)),
      paths,
    ),
  );
  const conversion = query.metrics.includes('conversion_rate');
  const statements: D1PreparedStatement[] = [];
  /** The span each raw statement scans, charged to the budget before the batch runs. */
  const scans: Span[] = [];
  const raw = (
    span: { start: number; end: number },
    dimensions: readonly Dimension[],
    extra: { where?: Condition[] },
  ) => {
    scans.push([span.start, span.end]);
    const { sql, params } = aggregateSql({ ...scope, ...span }, dimensions, filters, extra);
    return d1.prepare(sql).bind(...params);
  };
  /** Raw statements of a goal breakdown: all goals in one, or a few (bound parameters are ≤ 100). */
  const rawByGoal = (span: { start: number; end: number }, dimensions: readonly Dimension[], where: Condition[]) =>
    chunks(goals, GOALS_PER_STATEMENT).map((list) => {
      scans.push([span.start, span.end]);
      const { sql, params } = aggregateSql({ ...scope, ...span }, dimensions, filters, {
        where,
        goals: list.map((goal) => ({ name: goal.name, condition: goalCondition(goal, paths) })),
      });
      return d1.prepare(sql).bind(...params);
    });
  const push = (list: D1PreparedStatement[], merge: (answers: Row[][]) => Row[]): Merge => {
    const indexes = list.map((statement) => statements.push(statement) - 1);
    return (all) => merge(indexes.map((index) => all[index] ?? []));
  };
  const flat = (answers: Row[][]) => answers.flat();

  /**
   * An aggregation without a goal dimension: rollups when nothing narrows it, when a lone `is`
   * filter of one value on a rolled dimension does and the breakdown is by day, week or month (a
   * breakdown row is exactly the numbers of the events the filter keeps), or when every filter is
   * on the breakdown's own dimension (`groupFilters`), or filtered rollups when the filter is one
   * value of a `filtered` dimension beside a panel's breakdown (`pairRead`); else raw.
   */
  const rollupRead = (r: ResolvedRange, dimensions: readonly Dimension[], where: Condition[]) => {
    const days = closed(r);
    const lone = where.length ? null : loneValueFilter(query.filters, dimensions);
    const own = where.length || lone ? null : groupFilters(query.filters, dimensions);
    const grouping = unfiltered ? rollupGrouping(dimensions) : (lone?.filter[1] ?? own?.grouping ?? null);
    if (!(unfiltered || lone || own)) return days && !where.length ? pairRead(days, dimensions) : null;
    if (where.length || !days || grouping === null) return null;
    return planFromRollups(d1, scope, days, dimensions, grouping, markedOf(days), open, lone, own?.filters);
  };
  /** A view filtered to one value of a `filtered` dimension, broken down by a panel's dimension: filtered rollups. */
  const pairRead = (days: { from: LocalDate; to: LocalDate }, dimensions: readonly Dimension[]) => {
    const pair = pairFilter(query.filters, rollupGrouping(dimensions));
    if (!pair || !pairsHeld(pair.key, days, freshness.stale, complete)) return null;
    return planFromPairRollups(d1, scope, days, dimensions, pair, markedOf(days, pairSince(pair.key[2])));
  };
  const fromRollups = (read: NonNullable<ReturnType<typeof rollupRead>>): Merge => {
    scans.push(...read.spans);
    return push(read.statements, read.merge);
  };
  const plain = (r: ResolvedRange, dimensions: readonly Dimension[], where: Condition[]): Merge => {
    const read = rollupRead(r, dimensions, where);
    return read ? fromRollups(read) : push([raw(r, dimensions, { where })], flat);
  };

  /** An aggregation with a goal dimension: goal rollups and raw runs, or raw statements of ten goals each. */
  const byGoal = (r: ResolvedRange, dimensions: readonly Dimension[]): Merge => {
    const days = closed(r);
    // The marked days' runs read raw, with the query's filters (goal filters aside: there are none).
    const perGoal = ([first, last]: [LocalDate, LocalDate]) =>
      rawByGoal({ start: dayBounds(first, tz).start, end: dayBounds(last, tz).end }, dimensions, []);
    const pair = goalPair(r, dimensions);
    if (pair) {
      const read = planGoalsFromPairRollups(
        d1,
        project.id,
        pair.days,
        dimensions,
        pair.pair,
        keys,
        pair.marked,
        perGoal,
      );
      if (read) return push(read.statements, read.merge);
    }
    if (goalRuns(r, dimensions) && days) {
      const read = planGoalsFromRollups(
        d1,
        project.id,
        days,
        dimensions,
        keys,
        markedOf(days),
        perGoal,
        goalsHourly(r, dimensions) ? openGoals : null,
      );
      if (read) return push(read.statements, read.merge);
    }
    return push(rawByGoal(r, dimensions, goalWhere), flat);
  };

  /**
   * With `exit_rate`: each exit page's group paired with the pageviews of the same page and other
   * values. Both halves read the same days: from rollups when both can, else both raw (a filter on
   * `exit_page` alone reads its rollups, which hold days past retention, but the page half raw).
   */
  const withExitRate = (r: ResolvedRange, dimensions: readonly Dimension[]): Merge | null => {
    if (!query.metrics.includes('exit_rate') || !dimensions.includes('exit_page')) return null;
    const asPages = dimensions.map((dimension) => (dimension === 'exit_page' ? 'page' : dimension));
    const exits = rollupRead(r, dimensions, goalWhere);
    const views = rollupRead(r, asPages, goalWhere);
    const [rows, pages] =
      exits && views
        ? [fromRollups(exits), fromRollups(views)]
        : [push([raw(r, dimensions, { where: goalWhere })], flat), push([raw(r, asPages, { where: goalWhere })], flat)];
    const keyOf = (row: Row) => JSON.stringify([row.g0, row.g1, row.g2].slice(0, dimensions.length));
    return (all) => {
      const pageviews = new Map(pages(all).map((row) => [keyOf(row), row.pageviews]));
      return rows(all).map((row) => ({ ...row, pagePageviews: pageviews.get(keyOf(row)) ?? 0 }));
    };
  };

  // `exit_rate` comes without goal dimensions or conversion rates (the query schema's rule).
  const plan = (r: ResolvedRange, dimensions: readonly Dimension[]): Merge =>
    withExitRate(r, dimensions) ?? planGroups(r, dimensions);
  const planGroups = (r: ResolvedRange, dimensions: readonly Dimension[]): Merge => {
    const goalIndex = dimensions.indexOf('event:goal');
    const rows = goalIndex >= 0 ? byGoal(r, dimensions) : plain(r, dimensions, goalWhere);
    if (!conversion) return rows;
    // Without any goal condition a group is its own baseline (`meta.totals` of a goal breakdown).
    if (goalIndex < 0 && !goalWhere.length)
      return (all) => rows(all).map((row) => ({ ...row, baseVisitors: row.visitors }));
    const others = dimensions.filter((dimension) => dimension !== 'event:goal');
    const base = plain(r, others, []);
    return (all: Row[][]): Row[] => {
      const keyOf = (values: (string | null)[]) => JSON.stringify(values);
      const baseByKey = new Map(
        base(all).map((row) => [keyOf([row.g0, row.g1, row.g2].slice(0, others.length)), row.visitors]),
      );
      return rows(all).map((row) => {
        const values = [row.g0, row.g1, row.g2].slice(0, dimensions.length).filter((_, i) => i !== goalIndex);
        return { ...row, baseVisitors: baseByKey.get(keyOf(values)) ?? 0 };
      });
    };
  };
  return Object.assign(plan, {
    /** The spans the planned statements read raw. */
    scans: scans as readonly Span[],
    /** The statements planned so far, once their raw scans fit the budget. */
    statements: async (): Promise<D1PreparedStatement[]> => {
      await budget.charge(scans);
      return statements;
    },
  });
}
