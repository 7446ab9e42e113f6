/**
 * The SQL of a query over raw events. Dimension and operator names map to fixed SQL fragments
 * (allowlists); every value a client sends is a bound parameter. Computed numbers (time bounds,
 * timezone offsets) are checked integers written as literals, which keeps the statement under
 * D1's 100 bound parameters.
 */
import { type Dimension, ENTRY_COLUMNS, type Filter, PROP_PREFIX } from '@tally/sdk/catalog';
import { offsetAt } from '../shared/calendar.ts';
import { EVENT_METRICS, EVENT_REVENUE, VISIT_METRICS, visitorsSql, visitTotalsSql } from './metric-sql.ts';

const DAY = 86_400_000;

/** Event columns behind the visit dimensions (exit_page is computed separately), from the catalog; the rollups use them too. */
export const VISIT_COLUMNS: Readonly<Record<string, string>> = Object.fromEntries(ENTRY_COLUMNS);

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/**
 * Local time of `ts` as SQL: `ts` plus the zone's offset, which is constant between transitions.
 * The transitions inside [start, end) are found by probing every 12 hours and bisecting to the
 * minute (every offset change falls on a whole minute).
 */
export function localTimeSql(start: number, end: number, timeZone: string): string {
  const segments: { from: number; offset: number }[] = [{ from: start, offset: offsetAt(start, timeZone) }];
  for (let probe = start; probe < end; probe += DAY / 2) {
    const next = Math.min(probe + DAY / 2, end);
    const last = segments[segments.length - 1] as { offset: number };
    if (offsetAt(next, timeZone) === last.offset) continue;
    let low = probe;
    let high = next;
    while (high - low > 60_000) {
      const mid = Math.floor((low + high) / 2 / 60_000) * 60_000;
      if (offsetAt(mid, timeZone) === last.offset) low = mid;
      else high = mid;
    }
    segments.push({ from: high, offset: offsetAt(high, timeZone) });
  }
  if (segments.length === 1) return `(ts + ${int(segments[0]?.offset ?? 0)})`;
  const cases = segments
    .slice(1)
    .map((segment, index) => `WHEN ts < ${int(segment.from)} THEN ${int(segments[index]?.offset ?? 0)}`)
    .join(' ');
  return `(ts + CASE ${cases} ELSE ${int(segments[segments.length - 1]?.offset ?? 0)} END)`;
}

/**
 * A property's value as text: numbers and booleans as their JSON text exactly as stored (`->` with
 * json_each's own quoted path keeps the token; a CAST would write 1e+21 as 1.0e+21).
 */
export const PROPERTY_TEXT = `(CASE type WHEN 'text' THEN value WHEN 'null' THEN NULL ELSE props -> fullkey END)`;

/** SQL for a dimension's value on a row of `base`, with its bound parameters. */
export function dimensionSql(dimension: Dimension): Condition {
  switch (dimension) {
    case 'time:hour':
      return { sql: `strftime('%Y-%m-%d %H:00', lt / 1000, 'unixepoch')`, params: [] };
    case 'time:day':
      return { sql: `strftime('%Y-%m-%d', lt / 1000, 'unixepoch')`, params: [] };
    case 'time:week':
      return { sql: `date(lt / 1000, 'unixepoch', '-6 days', 'weekday 1')`, params: [] };
    case 'time:month':
      return { sql: `strftime('%Y-%m-01', lt / 1000, 'unixepoch')`, params: [] };
    case 'page':
      // `page`, not `path`: json_each has a column `path`, which would shadow it in the filters' subqueries.
      return { sql: 'page', params: [] };
    case 'hostname':
      return { sql: 'hostname', params: [] };
    case 'event:name':
      return { sql: 'name', params: [] };
    case 'event:goal':
      // Goals are applied as conditions, one aggregation per goal (see goals.ts).
      throw new Error('event:goal is not a column');
  }
  if (dimension.startsWith(PROP_PREFIX)) {
    // The key is compared as data (json_each's `key`), so no key needs quoting inside a JSON path.
    return {
      sql: `(SELECT ${PROPERTY_TEXT} FROM json_each(props) WHERE key = ?)`,
      params: [dimension.slice(PROP_PREFIX.length)],
    };
  }
  return { sql: `v_${dimension}`, params: [] };
}

/** The event columns a visit's entry values come from (`path` aside, which every query reads). */
export const ENTRY_SOURCE_COLUMNS = [...new Set(Object.values(VISIT_COLUMNS))].filter((column) => column !== 'path');

/**
 * Two CTEs over the events of `source` (which must hold `session_id`, `ts`, `seq`, `name`, `path`
 * and {@link ENTRY_SOURCE_COLUMNS}): `<entries>` with each visit's entry values (`v_<dimension>`)
 * and `<exits>` with its exit page, the path of its last pageview (null in a visit without one).
 * A visit's events are in time order, ties by arrival (`seq`, which the ProjectDO assigns in
 * arrival order, so a late-arriving event can have an earlier `ts` and a higher `seq`).
 *
 * NOTE: with a single MIN() or MAX() aggregate, SQLite takes a query's other columns from the row
 * that holds the minimum (maximum), so the order is one integer key, `ts × 2^20 + seq`: under 2^63
 * while ts < 2^43 (the year 2248), and exact while seq < 2^20 (the default rate limits let a visit
 * hold about 900,000 events in a 25-hour day). Events other than pageviews key 0 for the exit: they
 * hold the maximum only in a visit without pageviews, whose exit page is then null.
 */
/** A visit's events in time order, ties by arrival, as one integer (see {@link entryExitCtes}); `table.` prefixes the columns. */
export function visitOrderSql(table = ''): string {
  return `${table}ts * 1048576 + ${table}seq`;
}

export function entryExitCtes(source: string, entries: string, exits: string): string {
  const columns = Object.entries(VISIT_COLUMNS).map(([name, column]) => `${column} AS v_${name}`);
  const order = visitOrderSql();
  return `${entries} AS (
  SELECT session_id, MIN(${order}), ${columns.join(', ')} FROM ${source} GROUP BY session_id
),
${exits} AS (
  SELECT session_id, MAX((name = 'pageview') * (${order})), CASE name WHEN 'pageview' THEN path END AS v_exit_page
  FROM ${source} GROUP BY session_id
)`;
}

/**
 * The CTE `base`: a project's events in [start, end) with their local time, their visit's entry
 * (and exit) values, their `revenue` and their visit's `s_bounce` and `s_duration` (metric-sql.ts). It
 * binds two parameters: the currency whose amounts count as revenue, then the project id.
 *
 * Each visit's values are computed once per visit (three GROUP BYs over the range's events) and
 * joined back ({@link entryExitCtes}, which the rollups share), not as window functions per event:
 * eighteen FIRST_VALUE windows cost most of a raw query's time.
 */
export function baseCte(start: number, end: number, timeZone: string, materialized = false): string {
  const entries = Object.entries(VISIT_COLUMNS);
  return `range_events AS MATERIALIZED (
  SELECT ts, seq, session_id, visitor_id, name, path, hostname, props, ${localTimeSql(start, end, timeZone)} AS lt,
    ${EVENT_REVENUE}, ${ENTRY_SOURCE_COLUMNS.join(', ')}
  FROM events
  WHERE project_id = ? AND ts >= ${int(start)} AND ts < ${int(end)}
),
${entryExitCtes('range_events', 'range_entries', 'range_exits')},
range_visits AS (
  SELECT session_id, ${VISIT_METRICS} FROM range_events GROUP BY session_id
),
base AS ${materialized ? 'MATERIALIZED ' : ''}(
  SELECT r.ts, r.seq, r.session_id, r.visitor_id, r.name, r.path, r.path AS page, r.hostname, r.props, r.lt, r.revenue,
    ${entries.map(([name]) => `n.v_${name}`).join(', ')}, x.v_exit_page,
    v.bounce AS s_bounce, v.duration AS s_duration
  FROM range_events r
  JOIN range_entries n ON n.session_id = r.session_id
  JOIN range_exits x ON x.session_id = r.session_id
  JOIN range_visits v ON v.session_id = r.session_id
)`;
}

/** A piece of SQL with its bound parameters. */
export interface Condition {
  sql: string;
  params: unknown[];
}

/**
 * SQL for a filter. The values travel as ONE bound parameter, a JSON array read with json_each, so
 * that no number of filters and values can pass D1's 100 bound parameters (and a NUL inside a
 * value survives, as `\u0000`). Dimension expressions never name a column json_each also has.
 */
export function filterSql(
  [operator, dimension, values]: Filter,
  /** The value to test instead of the dimension's on `base` (a rollup row's, say). */
  over: Condition = dimensionSql(dimension),
): Condition {
  const { sql: expr, params } = over;
  // GLOB and instr() read text up to a NUL; stored text never holds one (ingest removes them), so
  // a value with a NUL can match nothing and is left out rather than cut short.
  const listed = values.filter((value): value is string => value !== null && !value.includes('\u0000'));
  switch (operator) {
    // `IS` compares NULL with NULL: a `null` among the values stands for "no value".
    case 'is':
      return {
        sql: `EXISTS (SELECT 1 FROM json_each(?) WHERE value IS ${expr})`,
        params: [JSON.stringify(values), ...params],
      };
    case 'is_not':
      return {
        sql: `NOT EXISTS (SELECT 1 FROM json_each(?) WHERE value IS ${expr})`,
        params: [JSON.stringify(values), ...params],
      };
    case 'contains':
      return {
        sql: `EXISTS (SELECT 1 FROM json_each(?) WHERE instr(${expr}, value) > 0)`,
        params: [JSON.stringify(listed), ...params],
      };
    // The negation of `contains`, with `is_not`'s missing values: kept unless `null` is listed.
    // CASE names the dimension twice, so its parameters are bound twice.
    case 'does_not_contain':
      return {
        sql: `NOT EXISTS (SELECT 1 FROM json_each(?) WHERE CASE WHEN value IS NULL THEN ${expr} IS NULL ELSE instr(${expr}, value) > 0 END)`,
        params: [JSON.stringify(values.includes(null) ? [...listed, null] : listed), ...params, ...params],
      };
    case 'matches':
      // `*` and `?` are GLOB's own wildcards; brackets are made literal.
      return {
        sql: `EXISTS (SELECT 1 FROM json_each(?) WHERE ${expr} GLOB value)`,
        params: [JSON.stringify(listed.map((value) => value.replace(/[[\]]/g, (c) => `[${c}]`))), ...params],
      };
  }
}

/** What a query over raw events is asked: the project, its currency and timezone, and a range. */
export interface RawScope {
  projectId: string;
  currency: string;
  timeZone: string;
  start: number;
  end: number;
}

/**
 * The grouped part of an aggregation, reading the CTE `base`: per group of the `groups`
 * expressions, over the rows that pass `where`, the event counts and the visit aggregates the
 * metrics are made of (their SQL is metric-sql.ts'). Columns: g0…g2, visitors, pageviews, events,
 * visits, bounces, duration (ms, summed over visits), revenue. Parameters: the groups', then the
 * conditions'.
 */
export function groupedSelect(
  groups: readonly Condition[],
  where: readonly Condition[],
  join: Condition | null = null,
): Condition {
  const keys = [0, 1, 2].map((i) => (groups[i] ? `${groups[i]?.sql} AS g${i}` : `NULL AS g${i}`));
  const sql = `SELECT * FROM (WITH kept AS (
  SELECT *, ${keys.join(', ')}, strftime('%Y-%m-%d', lt / 1000, 'unixepoch') AS day
  FROM base${join ? ` ${join.sql}` : ''}
  WHERE ${where.length ? where.map((w) => w.sql).join(' AND ') : '1'}
),
by_event AS (
  SELECT g0, g1, g2, ${visitorsSql('visitor_id', 'day')} AS visitors, ${EVENT_METRICS}
  FROM kept GROUP BY g0, g1, g2
),
by_visit AS (
  SELECT g0, g1, g2, ${visitTotalsSql('s')}
  FROM (
    SELECT g0, g1, g2, session_id, MAX(s_bounce) AS bounce, MAX(s_duration) AS duration
    FROM kept GROUP BY g0, g1, g2, session_id
  ) AS s
  GROUP BY g0, g1, g2
)
SELECT e.g0, e.g1, e.g2, e.visitors, e.pageviews, e.events, v.visits, v.bounces, v.duration, e.revenue
FROM by_event e JOIN by_visit v ON e.g0 IS v.g0 AND e.g1 IS v.g1 AND e.g2 IS v.g2)`;
  return {
    sql,
    // In the order the placeholders appear: the group keys, the join, the conditions.
    params: [...groups.flatMap((g) => g.params), ...(join?.params ?? []), ...where.flatMap((w) => w.params)],
  };
}

/**
 * One aggregation over [start, end): per group of `dimensions`, the columns of
 * {@link groupedSelect}, with the query's filters and any extra conditions applied.
 */
export function aggregateSql(
  scope: RawScope,
  dimensions: readonly Dimension[],
  filters: readonly Filter[],
  /**
   * Conditions beyond the filters (goal filters), and the goals an `event:goal` dimension groups
   * by: each event joins every goal it completes, so one statement answers for all of them.
   */
  extra: { where?: Condition[]; goals?: readonly { name: string; condition: Condition }[] } = {},
): { sql: string; params: unknown[] } {
  const groups = dimensions.map((dimension) =>
    dimension === 'event:goal' ? { sql: 'goal_name', params: [] } : dimensionSql(dimension),
  );
  const goals = extra.goals ?? [];
  // The goal list is a subquery so that json_each's own columns (`path`, `key`…) never meet base's.
  const join = dimensions.includes('event:goal')
    ? {
        sql: `JOIN (SELECT key AS goal_index, value AS goal_name FROM json_each(?)) AS goal ON CASE goal.goal_index ${goals
          .map((goal, index) => `WHEN ${index} THEN (${goal.condition.sql})`)
          .join(' ')} ELSE 0 END`,
        params: [JSON.stringify(goals.map((goal) => goal.name)), ...goals.flatMap((goal) => goal.condition.params)],
      }
    : null;
  const grouped = groupedSelect(groups, [...filters.map((filter) => filterSql(filter)), ...(extra.where ?? [])], join);
  return {
    sql: `WITH ${baseCte(scope.start, scope.end, scope.timeZone)}\n${grouped.sql}`,
    // In the order the placeholders appear: base's currency and project, then the groups and conditions.
    params: [scope.currency, scope.projectId, ...grouped.params],
  };
}
