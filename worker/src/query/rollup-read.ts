/**
 * Reading a query from rollups: closed days come from the `rollups` table, the open day from its
 * closed hours' `rollup_hours` rows plus what came after them (`stats/segment-sql.ts`), other days
 * with marked hours (a late event reached them since their rollup) from raw events, and all are
 * summed per group. Every number the stats API reports is a sum over days once visits end at
 * local midnight (visitors are counted per day by definition), so the sum is exact.
 *
 * Rollups answer the dashboard's unfiltered views: totals, a time series, one breakdown dimension
 * (optionally by day, week or month), and the `event:goal` breakdown (optionally by day, week or
 * month) from the goal rows whose key is the current goal's, a lone one-value `is` filter on a
 * rolled dimension (its value's rows), and a breakdown whose filters are all on its own dimension
 * (the rows whose value passes them). Other filters, properties and `realtime` read raw events.
 */
import { GOAL_DIMENSION, goalRollupValue, type RollupGoal } from '../stats/goal-keys.ts';
import { goalSegmentSql } from '../stats/goal-segment-sql.ts';
import { ROLLED_DIMENSIONS } from '@tally/sdk/catalog';
import type { Span } from './budget.ts';
import { addDays, dayBounds, daysBetween, formatDate, type LocalDate } from '../shared/calendar.ts';
import type { Dimension } from './schema.ts';
import type { Filter } from '@tally/sdk/catalog';
import { aggregateSql, type Condition, filterSql, type RawScope } from '../stats/sql.ts';
import { segmentSql, VISIT_GROUPINGS } from '../stats/segment-sql.ts';

/** What D1 returns per group, raw or from rollups. */
export interface AggregateRow {
  g0: string | null;
  g1: string | null;
  g2: string | null;
  visitors: number;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  duration: number;
  revenue: number;
}

export const SUMMED = ['visitors', 'pageviews', 'events', 'visits', 'bounces', 'duration', 'revenue'] as const;

/**
 * Where rollups may answer an aggregation without filters or goals: the rollup dimension to read
 * (`''` for totals), or null.
 */
export function rollupGrouping(dimensions: readonly Dimension[]): string | null {
  const others = dimensions.filter((dimension) => !dimension.startsWith('time:'));
  if (dimensions.includes('time:hour')) return others.length ? null : 'time:hour';
  if (others.length === 0) return '';
  const [only] = others;
  return others.length === 1 && (ROLLED_DIMENSIONS as readonly string[]).includes(only as string)
    ? (only as string)
    : null;
}

/** SQL for a query dimension's group value on a rollup row. */
export function rollupDimensionSql(dimension: Dimension): string {
  switch (dimension) {
    case 'time:day':
      return 'day';
    case 'time:week':
      return `date(day, '-6 days', 'weekday 1')`;
    case 'time:month':
      return `strftime('%Y-%m-01', day)`;
    default:
      // `time:hour` rows and breakdown rows keep their group's value as JSON text.
      return `value ->> '$'`;
  }
}

/** Runs of consecutive marked days, each [first, last]. */
function runsOf(from: LocalDate, to: LocalDate, marked: Set<string>): [LocalDate, LocalDate][] {
  const runs: [LocalDate, LocalDate][] = [];
  // Counted, not compared as text: a year past 9999 formats as five digits and sorts before it.
  const length = daysBetween(from, to);
  for (let offset = 0; offset <= length; offset++) {
    const day = addDays(from, offset);
    if (!marked.has(formatDate(day))) continue;
    const run = runs[runs.length - 1];
    if (run && formatDate(addDays(run[1], 1)) === formatDate(day)) run[1] = day;
    else runs.push([day, day]);
  }
  return runs;
}

/** More raw runs than this and one raw scan of the whole range is cheaper than the pieces. */
const MAX_RAW_RUNS = 4;

/** The runs of marked days a rollup read of the range reads raw; null when there are too many. */
export function rawRuns(
  range: { from: LocalDate; to: LocalDate },
  marked: Set<string>,
): [LocalDate, LocalDate][] | null {
  const runs = runsOf(range.from, range.to, marked);
  return runs.length > MAX_RAW_RUNS ? null : runs;
}

/** The time dimensions a goal breakdown may have beside it and still read goal rollups (rows are per day). */
const GOAL_ROLLUP_TIMES: readonly Dimension[] = ['time:day', 'time:week', 'time:month'];

/** Whether goal rollups can hold these dimensions: `event:goal`, and at most a day, week or month. */
export function goalRollupDimensions(dimensions: readonly Dimension[]): boolean {
  const others = dimensions.filter((dimension) => dimension !== GOAL_DIMENSION);
  return (
    dimensions.length === others.length + 1 &&
    others.length <= 1 &&
    others.every((dimension) => GOAL_ROLLUP_TIMES.includes(dimension))
  );
}

/**
 * The select list of a goal breakdown's rollup rows (`r`, joined to the goals as `g` on their
 * values: `g.name` is the current name), and the goals' `[value, name]` list that join binds.
 */
export function goalGroups(
  dimensions: readonly Dimension[],
  goals: readonly { key: string; name: string }[],
): { groups: string[]; keyed: string[][] } {
  const groups = [0, 1, 2].map((i) => {
    const dimension = dimensions[i];
    if (!dimension) return `NULL AS g${i}`;
    return `${dimension === GOAL_DIMENSION ? 'g.name' : rollupDimensionSql(dimension)} AS g${i}`;
  });
  return { groups, keyed: goals.map((goal) => [goalRollupValue(goal.key), goal.name]) };
}

/**
 * The statements of an `event:goal` aggregation without filters: the goal rows of the unmarked
 * days whose key is the goal's current one (a goal edited since its rows were made has other
 * keys there, but those days are marked and so read raw), labelled with the goal's current name,
 * plus `raw(start, end)` for each run of marked days; and how to merge them. Null when too many
 * days are marked.
 */
export function planGoalsFromRollups(
  d1: D1Database,
  projectId: string,
  range: { from: LocalDate; to: LocalDate },
  dimensions: readonly Dimension[],
  goals: readonly { key: string; name: string }[],
  marked: Set<string>,
  raw: (span: [LocalDate, LocalDate]) => D1PreparedStatement[],
  /** The open day read hour by hour (its segment's goals and paths), or null: read raw like any marked day. */
  open: OpenGoals | null = null,
): { statements: D1PreparedStatement[]; merge: (answers: AggregateRow[][]) => AggregateRow[] } | null {
  const openDay = open ? formatDate(open.day) : null;
  const runs = rawRuns(range, new Set([...marked].filter((day) => day !== openDay)));
  if (!runs) return null;
  const statements = runs.flatMap(raw);
  const { groups, keyed } = goalGroups(dimensions, goals);
  statements.push(
    d1
      .prepare(
        `SELECT ${groups.join(', ')}, ${SUMMED.map((column) => `SUM(r.${column}) AS ${column}`).join(', ')}
         FROM rollups AS r
         JOIN (SELECT value ->> '$[0]' AS value, value ->> '$[1]' AS name FROM json_each(?5)) AS g ON g.value = r.value
         WHERE r.project_id = ?1 AND r.dimension = '${GOAL_DIMENSION}' AND r.day >= ?2 AND r.day <= ?3
           AND r.day NOT IN (SELECT value FROM json_each(?4))
         GROUP BY g0, g1, g2`,
      )
      .bind(
        projectId,
        formatDate(range.from),
        formatDate(range.to),
        JSON.stringify([...marked]),
        JSON.stringify(keyed),
      ),
  );
  if (!open) return { statements, merge: mergeRows };
  // The open day: its rolled hours' goal rows, and what came after them from its visitors' events.
  const { start, end } = dayBounds(open.day, open.project.timezone);
  const join = `JOIN (SELECT value ->> '$[0]' AS value, value ->> '$[1]' AS name FROM json_each(?)) AS g ON g.value = r.value`;
  const sums = SUMMED.map((column) => `SUM(r.${column}) AS ${column}`).join(', ');
  statements.push(
    d1
      .prepare(
        `SELECT ${groups.join(', ')}, ${sums} FROM rollup_hours AS r ${join}
         WHERE r.project_id = ? AND r.dimension = '${GOAL_DIMENSION}' AND r.day = ? AND r.start < ? GROUP BY g0, g1, g2`,
      )
      .bind(JSON.stringify(keyed), projectId, openDay, open.through),
  );
  if (open.through < end) {
    const segment = { day: openDay as string, dayStart: start, dayEnd: end, lo: open.through, hi: end };
    const wrap = {
      sql: (select: string) => `SELECT ${groups.join(', ')}, ${sums} FROM (${select}) AS r ${join} GROUP BY g0, g1, g2`,
      params: [JSON.stringify(keyed)],
    };
    const { sql, params } = goalSegmentSql(open.project, segment, open.goals, open.paths, wrap);
    statements.push(d1.prepare(sql).bind(...params));
  }
  return { statements, merge: (answers) => mergeRows(answers).filter((row) => row.events !== 0) };
}

/** What a goal breakdown needs to read the open day hour by hour. */
export interface OpenGoals {
  day: LocalDate;
  /** Where its hourly rows stop (`hourlyRolledThrough`). */
  through: number;
  project: { id: string; currency: string; timezone: string };
  /** The project's goals with their rollup keys. */
  goals: readonly (RollupGoal & { key: string })[];
  /** The pageview paths of the visitors active since `through` (`segmentPathsSql`). */
  paths: readonly string[];
}

/**
 * The statements of one aggregation from rollups plus raw runs, and how to merge their answers;
 * null when too many days are marked for that to pay off.
 */
export function planFromRollups(
  d1: D1Database,
  scope: Omit<RawScope, 'start' | 'end'>,
  range: { from: LocalDate; to: LocalDate },
  dimensions: readonly Dimension[],
  grouping: string,
  marked: Set<string>,
  /** The open day, and how far its hourly rollups reach (`hourlyRolledThrough`). */
  open: { day: LocalDate; through: number } | null = null,
  /** A lone `is` filter of one value on `grouping`: only its rows (`value`, JSON text) are read. */
  only: { filter: Filter; value: string } | null = null,
  /** Filters on `grouping` itself (`groupFilters`): only the rows whose value passes them are read. */
  keep: readonly Filter[] = [],
): {
  statements: D1PreparedStatement[];
  merge: (answers: AggregateRow[][]) => AggregateRow[];
  spans: Span[];
} | null {
  const hourly =
    open && marked.has(formatDate(open.day))
      ? openDayRead(d1, scope, range, dimensions, { grouping, value: only?.value ?? null, keep }, open)
      : null;
  const runs = rawRuns(range, hourly ? new Set([...marked].filter((day) => day !== hourly.day)) : marked);
  if (!runs) return null;
  const spans = runs.map(
    ([first, last]): Span => [dayBounds(first, scope.timeZone).start, dayBounds(last, scope.timeZone).end],
  );
  const statements = spans.map(([start, end]) => {
    const { sql, params } = aggregateSql({ ...scope, start, end }, dimensions, [
      ...(only ? [only.filter] : []),
      ...keep,
    ]);
    return d1.prepare(sql).bind(...params);
  });
  const groups = [0, 1, 2].map((i) => {
    const dimension = dimensions[i];
    return dimension ? `${rollupDimensionSql(dimension)} AS g${i}` : `NULL AS g${i}`;
  });
  const kept = valueConditions(keep, 'r');
  statements.push(
    d1
      .prepare(
        `SELECT ${groups.join(', ')}, ${SUMMED.map((column) => `SUM(${column}) AS ${column}`).join(', ')}
         FROM rollups AS r
         WHERE project_id = ? AND dimension = ? AND day >= ? AND day <= ? AND day NOT IN (SELECT value FROM json_each(?))
           ${only ? 'AND value = ?' : ''} ${kept.sql}
         GROUP BY g0, g1, g2`,
      )
      .bind(
        scope.projectId,
        grouping,
        formatDate(range.from),
        formatDate(range.to),
        JSON.stringify([...marked]),
        ...(only ? [only.value] : []),
        ...kept.params,
      ),
  );
  if (!hourly) return { statements, merge: mergeRows, spans };
  statements.push(...hourly.statements);
  spans.push(...hourly.spans);
  // Hourly rows are differences: a group whose numbers sum to zero has no event in the range.
  return { statements, merge: (answers) => mergeRows(answers).filter((row) => row.events !== 0), spans };
}

/**
 * The open day read hour by hour: its rolled hours from `rollup_hours` (each row what its hour adds
 * to the day), and what came after them (`open.through`) from the events of the visitors active
 * since then (`stats/segment-sql.ts`) — both grouped like a rollup read. Null when the open day is
 * outside the range or none of it is rolled yet (it is then read raw).
 */
function openDayRead(
  d1: D1Database,
  scope: Omit<RawScope, 'start' | 'end'>,
  range: { from: LocalDate; to: LocalDate },
  dimensions: readonly Dimension[],
  { grouping, value, keep }: { grouping: string; value: string | null; keep: readonly Filter[] },
  open: { day: LocalDate; through: number },
): { day: string; statements: D1PreparedStatement[]; spans: Span[] } | null {
  const onlyValue = value === null ? '' : 'AND value = ?';
  const kept = valueConditions(keep, 'r');
  const day = formatDate(open.day);
  const { start, end } = dayBounds(open.day, scope.timeZone);
  if (day < formatDate(range.from) || day > formatDate(range.to) || open.through <= start) return null;
  const groups = [0, 1, 2].map((i) => {
    const dimension = dimensions[i];
    return dimension ? `${rollupDimensionSql(dimension)} AS g${i}` : `NULL AS g${i}`;
  });
  const sums = SUMMED.map((column) => `SUM(${column}) AS ${column}`).join(', ');
  const statements = [
    d1
      .prepare(
        `SELECT ${groups.join(', ')}, ${sums} FROM rollup_hours AS r
         WHERE project_id = ? AND dimension = ? AND day = ? AND start < ? ${onlyValue} ${kept.sql} GROUP BY g0, g1, g2`,
      )
      .bind(scope.projectId, grouping, day, open.through, ...(value === null ? [] : [value]), ...kept.params),
  ];
  const spans: Span[] = [];
  if (open.through < end) {
    const kind = (VISIT_GROUPINGS as readonly string[]).includes(grouping) ? 'visit' : 'event';
    const project = { id: scope.projectId, currency: scope.currency, timezone: scope.timeZone };
    const segment = { day, dayStart: start, dayEnd: end, lo: open.through, hi: end };
    const wrap = {
      sql: (select: string) =>
        `SELECT ${groups.join(', ')}, ${sums} FROM (${select}) AS r WHERE 1 ${onlyValue} ${kept.sql} GROUP BY g0, g1, g2`,
      params: [...(value === null ? [] : [value]), ...kept.params],
    };
    const { sql, params } = segmentSql(project, segment, kind, [grouping], wrap);
    statements.push(d1.prepare(sql).bind(...params));
    spans.push([open.through, end]);
  }
  return { day, statements, spans };
}

/**
 * `AND` the filters, each tested on the group value of the rollup rows aliased `table` (JSON text
 * in `value`), as they test the dimension on raw events.
 */
export function valueConditions(filters: readonly Filter[], table: string): Condition {
  const over = { sql: `(${table}.value ->> '$')`, params: [] };
  const conditions = filters.map((filter) => filterSql(filter, over));
  return {
    sql: conditions.map((condition) => `AND ${condition.sql}`).join(' '),
    params: conditions.flatMap((condition) => condition.params),
  };
}

/** Sum the rows of several answers per group. */
export function mergeRows(answers: AggregateRow[][]): AggregateRow[] {
  const byGroup = new Map<string, AggregateRow>();
  for (const row of answers.flat()) {
    const key = JSON.stringify([row.g0, row.g1, row.g2]);
    const sum = byGroup.get(key);
    if (!sum) byGroup.set(key, { ...row });
    else for (const column of SUMMED) sum[column] += row[column] ?? 0;
  }
  return [...byGroup.values()];
}
