/**
 * The SQL of every metric, written once (docs/STATS.md, "Metrics"; the names are `METRICS` in
 * `sdk/src/catalog.ts`). Raw queries (`sql.ts`), a closed day's rollup rows (`rollup/rollups.ts`)
 * and its goal rows (`rollup/goal-rollups.ts`) are all built from these fragments, so changing
 * what a metric means is one edit here, and the three cannot drift apart.
 *
 * Three levels, each reading the columns the one before names:
 * 1. one event: {@link EVENT_REVENUE};
 * 2. a group of events: {@link EVENT_METRICS}, {@link visitorsSql}, and over one visit's events
 *    {@link VISIT_METRICS} (in a rollup, {@link ROLLUP_VISIT});
 * 3. rows of one visit each: {@link visitTotalsSql}, and a rollup row's numbers,
 *    {@link rollupMetricsSql} (written by {@link ROLLUP_INSERT}).
 */

/** A fragment's (column, expression) pairs as a select list. */
const selectList = (pairs: readonly (readonly [string, string])[]) =>
  pairs.map(([column, sql]) => `${sql} AS ${column}`).join(', ');

const PAGEVIEWS = "SUM(name = 'pageview')";

/**
 * `revenue` of one event, as column `revenue`: its amount when its currency is the one bound here
 * (the project's), else NULL — amounts in other currencies are not converted, so they never count.
 * Binds ONE parameter, the currency.
 */
export const EVENT_REVENUE = 'CASE WHEN revenue_currency = ? THEN revenue_amount END AS revenue';

/** {@link EVENT_METRICS} as (column, expression) pairs, which a rollup row's sums follow. */
const EVENT_METRIC_PAIRS = [
  ['pageviews', PAGEVIEWS],
  ['events', 'COUNT(*)'],
  ['revenue', 'COALESCE(SUM(revenue), 0)'],
] as const;

/** `pageviews`, `events` and `revenue` of a group of events (columns `name` and {@link EVENT_REVENUE}'s `revenue`). */
export const EVENT_METRICS = selectList(EVENT_METRIC_PAIRS);

/**
 * A visit's `bounce` (exactly one pageview and no other event) and `duration` (its last event's
 * time − its first's, in ms), over the visit's events (`GROUP BY session_id`; columns `name`, `ts`).
 */
export const VISIT_METRICS = selectList([
  ['bounce', `${PAGEVIEWS} = 1 AND COUNT(*) = 1`],
  ['duration', 'MAX(ts) - MIN(ts)'],
]);

/**
 * Over one visit's events: what {@link rollupMetricsSql} reads of the visit — its {@link VISIT_METRICS}
 * and its `visitor_id` (all its events carry the id the visit began with, even across UTC midnight,
 * so MIN picks that one).
 */
export const ROLLUP_VISIT = `MIN(visitor_id) AS visitor_id, ${VISIT_METRICS}`;

/**
 * `visitors` (the expression): distinct visitor ids per local day, summed over the days — ids
 * change every day, so the same person on two days counts twice. `visitor` and `day` are SQL
 * expressions for a row's visitor id and local day; `day` is null where all rows are of one day
 * (a rollup), which spares concatenating a key per row.
 */
export function visitorsSql(visitor: string, day: string | null): string {
  return `COUNT(DISTINCT ${day === null ? visitor : `${day} || ' ' || ${visitor}`})`;
}

const visitTotals = (v: string) =>
  [
    ['visits', 'COUNT(*)'],
    ['bounces', `SUM(${v}.bounce)`],
    ['duration', `SUM(${v}.duration)`],
  ] as const;

/**
 * `visits`, `bounces` and `duration` (ms, summed over visits) from rows of one visit each: table
 * `v`, holding {@link VISIT_METRICS}.
 */
export function visitTotalsSql(v: string): string {
  return selectList(visitTotals(v));
}

/** {@link rollupMetricsSql} as (column, expression) pairs, which {@link ROLLUP_INSERT}'s columns follow. */
const rollupMetrics = (v: string, e: string): (readonly [string, string])[] => {
  const [visits, bounces, duration] = visitTotals(v);
  const sum = ([column]: readonly [string, string]) => [column, `SUM(${e}.${column})`] as const;
  const [pageviews, events, revenue] = EVENT_METRIC_PAIRS;
  // The table's own column order, so that SQLite writes each row without reordering it.
  return [
    ['visitors', visitorsSql(`${v}.visitor_id`, null)],
    visits,
    sum(pageviews),
    sum(events),
    bounces,
    duration,
    sum(revenue),
  ];
};

/**
 * A rollup row's numbers (a group's, within one day), in the column order of {@link ROLLUP_INSERT},
 * from rows of one visit each: table `v` holds the visit ({@link ROLLUP_VISIT}), table `e` the
 * {@link EVENT_METRICS} of the group's events in that visit.
 */
export function rollupMetricsSql(v: string, e: string): string {
  return selectList(rollupMetrics(v, e));
}

/** A rollup row's numbers, in the table's column order (`rollups`, `rollup_hours`). */
export const ROLLUP_COLUMNS: readonly string[] = rollupMetrics('v', 'e').map(([column]) => column);

/** The head of an `INSERT … SELECT` of rollup rows: the key, then the numbers of {@link rollupMetricsSql}. */
export const ROLLUP_INSERT = `INSERT INTO rollups (project_id, day, dimension, value, ${ROLLUP_COLUMNS.join(', ')})`;
