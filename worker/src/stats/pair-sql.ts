/**
 * Filtered rollups: for a filter `is` of one value on a {@link PAIR_FILTERS} dimension F, the numbers
 * of the events it keeps per value of a {@link PAIR_BREAKDOWNS} dimension B — what a raw query with
 * that filter, broken down by B, gives (`stats/sql.ts`: a visit filter keeps whole visits, an event
 * filter its events, and a kept visit's bounce and duration are the whole visit's). A row's
 * `dimension` is the JSON array `[F, f, B]` (f the filter's value, null for none), so that reading
 * one filter value is a seek; its `value` is B's value as JSON text, as in `rollups`.
 *
 * Like every other rollup row these are sums over visitors of what each visitor's events give, so a
 * day's rows are the sums of its visitors' buckets' (a day too big for one statement is rolled in
 * several). Only closed days have them: written hour by hour like `rollup_hours`, every hour's
 * difference rows would cover every pair its visitors touch, and a late event rewrites every later
 * hour (a 30k-event day wrote 594,917 rows that way, 20 an event); the open day is read raw.
 */
import { DIMENSIONS, type Dimension, type Filter, PAIR_BREAKDOWNS, PAIR_FILTERS } from '@tally/sdk/catalog';
import { FUNNEL_DIMENSION, type RollupFunnel, stepConditions, stepCtes } from './funnel-sql.ts';
import { GOAL_DIMENSION } from './goal-keys.ts';
import { goalMatchCtes } from './goal-segment-sql.ts';
import { EVENT_METRICS, ROLLUP_COLUMNS, rollupMetricsSql } from './metric-sql.ts';
import { phasedSums, type SegmentStatement, signedSums } from './segment-sql.ts';
import { dimensionSql } from './sql.ts';

const isVisit = (name: string) => name !== 'time:hour' && DIMENSIONS[name as keyof typeof DIMENSIONS]?.kind === 'visit';

/** The catalog version that brought filtered rollups: days rolled before it have none. */
export const PAIRS_SINCE = 4;
/** The catalog version that brought filtered goal and funnel rows (`event:goal`, `funnel:step`). */
export const PAIR_GOALS_SINCE = 5;

/** The catalog version since which a day's filtered rows hold `breakdown` (beside a filter dimension's own `since`). */
export function pairSince(breakdown: string): number {
  const definition = DIMENSIONS[breakdown as keyof typeof DIMENSIONS];
  const goals = breakdown === GOAL_DIMENSION || breakdown === FUNNEL_DIMENSION;
  return Math.max(goals ? PAIR_GOALS_SINCE : PAIRS_SINCE, definition?.paired ?? 1, definition?.since ?? 1);
}

/** The kind of a pair's rows (`PAIR_KINDS`): `visit` when both its dimensions are visit dimensions. */
export const pairKind = (filter: string, breakdown: string): 'visit' | 'event' =>
  isVisit(filter) && isVisit(breakdown) ? 'visit' : 'event';

/** Every (filter, breakdown) pair rolled up: F beside every breakdown but itself. */
export const PAIRS: readonly (readonly [Dimension, Dimension])[] = PAIR_FILTERS.flatMap((filter) =>
  PAIR_BREAKDOWNS.filter((breakdown) => breakdown !== filter).map((breakdown) => [filter, breakdown] as const),
);

/**
 * The pairs by the rows they group: both visit dimensions group one row per visit; any pair with an
 * event dimension (or the hour) groups events per (pair, visit) first.
 */
export const PAIR_KINDS = {
  visit: PAIRS.filter(([filter, breakdown]) => pairKind(filter, breakdown) === 'visit'),
  event: PAIRS.filter(([filter, breakdown]) => pairKind(filter, breakdown) === 'event'),
} as const;

/** A dimension's value on a row, chosen by the row's `column` naming the dimension. */
const caseSql = (column: string, names: readonly Dimension[]) =>
  `CASE ${column} ${names.map((name) => `WHEN '${name}' THEN ${dimensionSql(name).sql}`).join(' ')} END`;

/**
 * One statement giving, for the pairs of one kind, the filtered rows of the visitors `head` reads
 * (rows shaped like a rollup row: `day`, `dimension` — the `[F, f, B]` key — `value`, the numbers),
 * wrapped by `wrap` as `segmentSql` does. `head` is a day's (`rollup/rollups.ts` `dayHead`: every
 * row `phase` 1) or a segment's (`segmentHead`: the difference), binding `headParams`.
 */
export function pairRowsSql(
  head: { sql: string; params: unknown[]; day: string },
  kind: keyof typeof PAIR_KINDS,
  pairs: readonly (readonly [Dimension, Dimension])[],
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const filters = [...new Set(pairs.map(([filter]) => filter))];
  const breakdowns = [...new Set(pairs.map(([, breakdown]) => breakdown))];
  const key = `json_array(g.value ->> '$[0]', ${caseSql(`g.value ->> '$[0]'`, filters)}, g.value ->> '$[1]')`;
  const value = caseSql(`g.value ->> '$[1]'`, breakdowns);
  // As `segmentSql`: a visit pair's row is the (phased) visit; an event pair's, its events of one
  // visit that share the pair's values. The `v_…` columns are the visit's, `page`, `name`, `lt`… the event's.
  const grouped =
    kind === 'visit'
      ? `grouped AS (
  SELECT visits.*, ${key} AS grouping, ${value} AS value FROM visits CROSS JOIN json_each(?) AS g
)`
      : `grouped AS (
  SELECT grouping, value, session_id, ${EVENT_METRICS}
  FROM (
    SELECT e.session_id, e.name, e.revenue, ${key} AS grouping, ${value} AS value
    FROM day_events AS e JOIN visits AS vv ON vv.session_id = e.session_id CROSS JOIN json_each(?) AS g
  )
  GROUP BY grouping, value, session_id
)`;
  return {
    sql: `${head.sql},\n${grouped}\n${wrap.sql(signedSums(head.day, phasedSums(kind)))}`,
    params: [...head.params, JSON.stringify(pairs), ...wrap.params],
  };
}

/**
 * One statement giving each goal's filtered rows for the visitors `head` reads: per
 * {@link PAIR_FILTERS} dimension F and value f of a visit, the goal numbers of that visit's
 * completions (`goalMatchCtes`: the events that complete the goal, their visitors, the visits
 * that have one with their bounces and durations, their revenue) — what a raw goal breakdown with
 * the filter `F is f` gives, since every F is a visit dimension and a visit filter keeps whole
 * visits. Rows are shaped like a rollup row: `day`, `dimension` (`[F, f, 'event:goal']`), `value`
 * (the goal's key as JSON text), the numbers; wrapped by `wrap`. `head` is a day's (`dayHead`, its
 * `day_events` with `props`) and binds `head.params`; the goals travel as one bound JSON list
 * (`goalDefinitions`).
 */
export function pairGoalRowsSql(
  head: { sql: string; params: unknown[]; day: string },
  definitions: string,
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const filterValue = caseSql('f.name', PAIR_FILTERS);
  const select = `SELECT '${head.day}' AS day, json_array(f.name, ${filterValue}, '${GOAL_DIMENSION}') AS dimension,
    json_quote(p.goal_key) AS value, ${rollupMetricsSql('v', 'p')}
  FROM grouped AS p JOIN visits AS v ON v.session_id = p.session_id CROSS JOIN filters AS f
  GROUP BY f.name, ${filterValue}, p.goal_key`;
  // The filter list is a CTE so that its parameter comes before `wrap`'s.
  return {
    sql: `${head.sql},\n${goalMatchCtes()},\nfilters AS (SELECT value AS name FROM json_each(?))\n${wrap.sql(select)}`,
    params: [...head.params, definitions, JSON.stringify(PAIR_FILTERS), ...wrap.params],
  };
}

/**
 * One statement giving a funnel's filtered rows for the visitors `head` reads: per
 * {@link PAIR_FILTERS} dimension F, value f and step, the visits with that value that reached the
 * step (`stats/funnel-sql.ts`: each step the earliest matching event after the previous step's) —
 * what a raw funnel with the filter `F is f` counts, every F being a visit dimension. Rows are
 * shaped like a rollup row: `day`, `dimension` (`[F, f, 'funnel:step']`), `value` (the step's,
 * `funnelStepValue`), `visits`, zeros. `head` is a day's (`dayHead` with `props`); `paths` are the
 * day's pageview paths, which pageview steps match.
 */
export function pairFunnelRowsSql(
  head: { sql: string; params: unknown[]; day: string },
  funnel: RollupFunnel & { key: string },
  paths: readonly string[],
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const steps = stepCtes('day_events', stepConditions(funnel.steps, paths), false);
  const indexes = funnel.steps.map((_, index) => index);
  const filterValue = caseSql('f.name', PAIR_FILTERS);
  // Each step's visits are among the previous step's: joined to the first step's, each counts its own.
  const reached = indexes
    .slice(1)
    .map((index) => `LEFT JOIN s${index} ON s${index}.session_id = s0.session_id`)
    .join(' ');
  const counts = indexes.map((index) => `COUNT(s${index}.session_id) AS n${index}`).join(', ');
  const count = `CASE j.value ${indexes.map((index) => `WHEN ${index} THEN n${index}`).join(' ')} END`;
  const columns = ROLLUP_COLUMNS.map((column) => (column === 'visits' ? 'n AS visits' : `0 AS ${column}`));
  const select = `SELECT '${head.day}' AS day, dimension, value, ${columns.join(', ')} FROM (
  SELECT json_array(p.filter, p.filter_value, '${FUNNEL_DIMENSION}') AS dimension,
    json_quote(funnel.key || ':' || j.value) AS value, ${count} AS n
  FROM per_value AS p CROSS JOIN funnel CROSS JOIN json_each('${JSON.stringify(indexes)}') AS j
) WHERE n != 0`;
  // The filter list and the funnel's key are CTEs so that their parameters come before `wrap`'s.
  return {
    sql: `${head.sql},
${steps.sql},
filters AS (SELECT value AS name FROM json_each(?)),
funnel AS (SELECT ? AS key),
per_value AS (
  SELECT f.name AS filter, ${filterValue} AS filter_value, ${counts}
  FROM s0 JOIN visits AS v ON v.session_id = s0.session_id ${reached} CROSS JOIN filters AS f
  GROUP BY f.name, ${filterValue}
)
${wrap.sql(select)}`,
    params: [...head.params, ...steps.params, JSON.stringify(PAIR_FILTERS), funnel.key, ...wrap.params],
  };
}

/** The pair statements' kinds, each with its pairs, for a whole day or segment. */
export const PAIR_STATEMENTS = (['visit', 'event'] as const).map((kind) => ({ kind, pairs: PAIR_KINDS[kind] }));

/** The `dimension` of a filter value's rows beside `breakdown`, as SQL binding three parameters (SQLite's JSON, as written). */
export const PAIR_KEY_SQL = 'json_array(?, ?, ?)';

/**
 * A query's filters as one `is` filter of one value on a {@link PAIR_FILTERS} dimension, beside a
 * breakdown by `grouping` (a {@link PAIR_BREAKDOWNS} dimension, goals or a funnel's steps) and filters on that breakdown
 * itself (which keep or drop its groups, as `groupFilters` says); with the key's parameters. Null
 * otherwise.
 */
export function pairFilter(
  filters: readonly Filter[],
  grouping: string | null,
): { key: [string, string | null, string]; filter: Filter; keep: Filter[] } | null {
  const breakdowns: readonly string[] = [...PAIR_BREAKDOWNS, GOAL_DIMENSION, FUNNEL_DIMENSION];
  if (grouping === null || grouping === '' || !breakdowns.includes(grouping)) return null;
  // A goal filter is a condition on events, not a dimension value: such views read raw.
  if (filters.some(([, dimension]) => dimension === 'event:goal')) return null;
  const others = filters.filter(([, dimension]) => dimension !== grouping);
  const [only] = others;
  if (others.length !== 1 || !only) return null;
  const [operator, dimension, values] = only;
  if (operator !== 'is' || values.length !== 1 || !(PAIR_FILTERS as readonly string[]).includes(dimension)) return null;
  // A breakdown filter must be testable on the rollup row's value: not on the hour.
  const keep = filters.filter(([, dimension]) => dimension === grouping);
  if (keep.length && grouping === 'time:hour') return null;
  return { key: [dimension, values[0] ?? null, grouping], filter: only, keep };
}
