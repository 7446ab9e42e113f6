/**
 * The SQL of what a part of a local day adds to the day's numbers. Every number the stats API
 * reports is a sum over visitors of what that visitor's own events give (visitor ids change daily
 * and visits end at local midnight, so within a day no two visitors share a visit): distinct
 * visitors, visits, bounces, durations, entry and exit pages included. So for a segment
 * [lo, hi) of a day that starts at `dayStart`:
 *
 *   numbers(dayStart … hi) − numbers(dayStart … lo)
 *     = Σ over the visitors with an event in [lo, hi) of (their numbers up to hi − their numbers up to lo)
 *
 * and the segments of a day add up to the day so far, exactly. This is how the open day is rolled
 * up hour by hour (`rollup/hours.ts`) and how a query reads the part of it not rolled up yet
 * (`query/rollup-read.ts`): each reads the segment's events, then only its visitors' earlier events
 * of the day (through `events_project_visitor_idx`), never the whole day.
 *
 * Both sides are computed by one statement: every event of those visitors before `hi` appears with
 * `phase` 1, those before `lo` once more with `phase` 0; visit and visitor ids carry the phase, so
 * the two never meet, and each group's numbers are summed with sign +1 for phase 1, −1 for phase 0.
 * A difference can be negative (a visit that stopped bouncing) or zero (those rows are left out).
 */
import { DIMENSIONS, type Dimension, ROLLED_DIMENSIONS } from '@tally/sdk/catalog';
import { EVENT_METRICS, EVENT_REVENUE, ROLLUP_COLUMNS, ROLLUP_VISIT, rollupMetricsSql } from './metric-sql.ts';
import { dimensionSql, ENTRY_SOURCE_COLUMNS, entryExitCtes, localTimeSql } from './sql.ts';

/** The rolled visit dimensions: grouped one row per visit. */
export const VISIT_GROUPINGS: readonly string[] = ROLLED_DIMENSIONS.filter((name) => DIMENSIONS[name].kind === 'visit');
/** The day's totals (''), its hours, and the rolled event dimensions: grouped per value and visit. */
export const EVENT_GROUPINGS: readonly string[] = [
  '',
  'time:hour',
  ...ROLLED_DIMENSIONS.filter((name) => DIMENSIONS[name].kind === 'event'),
];

/** A grouping's value on a row holding the events' (or the visit's `v_…`) columns. */
export const groupingCaseSql = (names: readonly string[]) =>
  `CASE grouping ${names.map((name) => `WHEN '${name}' THEN ${dimensionSql(name as Dimension).sql}`).join(' ')} END`;

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/** A part [lo, hi) of the local day `day` (YYYY-MM-DD) that starts at `dayStart` and ends at `dayEnd`. */
export interface DaySegment {
  day: string;
  dayStart: number;
  dayEnd: number;
  lo: number;
  hi: number;
}

/** A statement of {@link segmentSql}: its text and bound parameters. */
export interface SegmentStatement {
  sql: string;
  params: unknown[];
}

/**
 * One statement giving, per grouping and value, what `segment` adds to its day (columns `day`,
 * `dimension`, `value` as JSON text like a rollup row's, then {@link ROLLUP_COLUMNS}), for the
 * groupings in `groupings` of one kind: `visit` ({@link VISIT_GROUPINGS}) or `event`
 * ({@link EVENT_GROUPINGS}). `wrap` turns that SELECT into the statement run (an INSERT, or the
 * query's own grouping); its `?` placeholders come after the segment's own.
 */
export function segmentSql(
  project: { id: string; currency: string; timezone: string },
  segment: DaySegment,
  kind: 'visit' | 'event',
  groupings: readonly string[],
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const head = segmentHead(project, segment);
  // Each kind's groupings are crossed with its rows in one more CTE, whose placeholder (the
  // groupings' JSON list) comes before the wrapper's.
  const grouped =
    kind === 'visit'
      ? `grouped AS (
  SELECT *, ${groupingCaseSql(VISIT_GROUPINGS)} AS value
  FROM (SELECT visits.*, g.value AS grouping FROM visits CROSS JOIN json_each(?) AS g)
)`
      : `grouped AS (
  SELECT grouping, ${groupingCaseSql(EVENT_GROUPINGS.slice(1))} AS value, session_id, ${EVENT_METRICS}
  FROM (SELECT day_events.*, g.value AS grouping FROM day_events CROSS JOIN json_each(?) AS g)
  GROUP BY grouping, value, session_id
)`;
  return {
    sql: `${head},\n${grouped}\n${wrap.sql(signedSums(segment.day, phasedSums(kind)))}`,
    params: [...headParams(project), JSON.stringify(groupings), ...wrap.params],
  };
}

/**
 * The CTEs every segment statement starts with: `day_events` (the events of the segment's visitors
 * up to its end, twice over: `phase` 1 up to `hi`, `phase` 0 up to `lo`, with phased visit and
 * visitor ids), `entries`, `exits` and `visits` (one row per phased visit, with its `phase`).
 * Binds {@link headParams}.
 */
export function segmentHead(project: { timezone: string }, segment: DaySegment): string {
  const { day, dayStart, dayEnd, lo, hi } = segment;
  if (!/^\d{4,5}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a day: ${day}`);
  const visitColumns = VISIT_GROUPINGS.map((name) => `v_${name}`).join(', ');
  // NOTE: without INDEXED BY, SQLite answers DISTINCT visitor_id from the covering visitor index,
  // reading every event the project has (20M rows read for a 10M-event project's "today").
  return `WITH active AS MATERIALIZED (
  SELECT DISTINCT visitor_id FROM events INDEXED BY events_project_ts_idx WHERE project_id = ? AND ts >= ${int(lo)} AND ts < ${int(hi)}
),
seg_events AS MATERIALIZED (
  SELECT e.session_id, e.visitor_id, e.seq, e.ts, e.name, e.path, e.hostname, e.props, ${EVENT_REVENUE},
    ${localTimeSql(dayStart, dayEnd, project.timezone)} AS lt,
    ${ENTRY_SOURCE_COLUMNS.map((column) => `e.${column}`).join(', ')}
  FROM active AS a CROSS JOIN events AS e INDEXED BY events_project_visitor_idx
  WHERE e.project_id = ? AND e.visitor_id = a.visitor_id AND e.ts >= ${int(dayStart)} AND e.ts < ${int(hi)}
),
day_events AS MATERIALIZED (
  SELECT p.value AS phase, s.session_id || '/' || p.value AS session_id, s.visitor_id || '/' || p.value AS visitor_id,
    s.seq, s.ts, s.name, s.path, s.path AS page, s.hostname, s.props, s.lt, s.revenue, ${ENTRY_SOURCE_COLUMNS.map((column) => `s.${column}`).join(', ')}
  FROM seg_events AS s CROSS JOIN json_each('[0,1]') AS p WHERE p.value = 1 OR s.ts < ${int(lo)}
),
${entryExitCtes('day_events', 'entries', 'exits')},
visits AS MATERIALIZED (
  SELECT s.*, ${visitColumns}
  FROM (
    SELECT session_id, MIN(phase) AS phase, ${ROLLUP_VISIT}, ${EVENT_METRICS}
    FROM day_events GROUP BY session_id
  ) AS s JOIN entries USING (session_id) JOIN exits USING (session_id)
)`;
}

/**
 * Per phase, grouping and value of the CTE `grouped`, a rollup row's numbers with their `sign`: a
 * visit grouping's row is the (phased) visit; an event grouping's, its events of one visit.
 */
export function phasedSums(kind: 'visit' | 'event'): string {
  return kind === 'visit'
    ? `SELECT v.phase * 2 - 1 AS sign, v.grouping, v.value, ${rollupMetricsSql('v', 'v')}
  FROM grouped AS v GROUP BY v.phase, v.grouping, v.value`
    : `SELECT v.phase * 2 - 1 AS sign, p.grouping, p.value, ${rollupMetricsSql('v', 'p')}
  FROM grouped AS p JOIN visits AS v ON v.session_id = p.session_id
  GROUP BY v.phase, p.grouping, p.value`;
}

/** The parameters of {@link segmentHead}, in order. */
export const headParams = (project: { id: string; currency: string }) => [project.id, project.currency, project.id];

/**
 * Per `grouping` and `value` of `inner`'s rows (each with a `sign`), the signed sums, as rows shaped
 * like a rollup row (`day`, `dimension`, `value` as JSON text, {@link ROLLUP_COLUMNS}), zeros left out.
 */
export function signedSums(day: string, inner: string): string {
  const signed = ROLLUP_COLUMNS.map((column) => `SUM(sign * ${column}) AS ${column}`).join(', ');
  const nonzero = ROLLUP_COLUMNS.map((column) => `${column} != 0`).join(' OR ');
  return `SELECT * FROM (SELECT '${day}' AS day, grouping AS dimension, json_quote(value) AS value, ${signed}
FROM (${inner}) GROUP BY grouping, value) WHERE ${nonzero}`;
}
