/**
 * The head of a closed day's rollup statements (`rollups.ts`, `pair-rollups.ts`): the day's events
 * and visits, read once per statement.
 */
import { dayBounds, type LocalDate } from '../shared/calendar.ts';
import { EVENT_METRICS, EVENT_REVENUE, ROLLUP_VISIT } from '../stats/metric-sql.ts';
import { ENTRY_SOURCE_COLUMNS, entryExitCtes, localTimeSql } from '../stats/sql.ts';
import { VISIT_GROUPINGS } from '../stats/segment-sql.ts';

/**
 * The CTEs a day's rollup statements start with: `day_events` (the day's events, with local time
 * and revenue), `entries`, `exits` and `visits` (one row per visit: its visitor, bounce, duration,
 * entry values and exit page; `phase` 1, as the difference SQL's rows of the day so far have),
 * and with `props` the events' properties.
 * With `bucket`, only the visitors whose id falls in its share of the ids' order (`bucketRange`):
 * every number is a sum over visitors, so a day's rows are the sums of its buckets'. Binds two
 * parameters, the currency and the project id.
 */
export function dayHead(
  project: { timezone: string },
  day: LocalDate,
  bucket: { of: number; is: number } | null = null,
  /** Whether `day_events` holds `props` too (what property goals match). */
  props = false,
): string {
  const { start, end } = dayBounds(day, project.timezone);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new Error('day bounds must be integers');
  // A bucket's statement reads the day through the time index and keeps its visitors' events.
  // NOTE: not through the visitor index, though a range of ids is a seek there: `ts` is not, so
  // each statement would read its share of every event the project has in D1 (measured: slower
  // from 30 days of history on), not of the day.
  const only = bucket ? `AND ${bucketRange(bucket)}` : '';
  const from = bucket ? 'events INDEXED BY events_project_ts_idx' : 'events';
  // Entry values and exit pages come from the SQL the raw queries use (`entryExitCtes`).
  return `WITH day_events AS MATERIALIZED (
  SELECT session_id, visitor_id, seq, ts, name, path, path AS page, hostname, ${localTimeSql(start, end, project.timezone)} AS lt,
    ${EVENT_REVENUE}, ${ENTRY_SOURCE_COLUMNS.join(', ')}${props ? ', props' : ''}
  FROM ${from} WHERE project_id = ? AND ts >= ${start} AND ts < ${end} ${only}
),
${entryExitCtes('day_events', 'entries', 'exits')},
visits AS MATERIALIZED (
  SELECT s.*, 1 AS phase, ${VISIT_GROUPINGS.map((name) => `v_${name}`).join(', ')}
  FROM (
    SELECT session_id, ${ROLLUP_VISIT}, ${EVENT_METRICS}
    FROM day_events GROUP BY session_id
  ) AS s JOIN entries USING (session_id) JOIN exits USING (session_id)
)`;
}

/**
 * The visitor ids of bucket `is` of `of` (a power of two up to 16) as a range of the ids' order:
 * visitor ids are hex digests, so their first digit spreads them evenly; the first bucket has no
 * lower bound and the last no upper one, so that any id (a test's) is in exactly one.
 */
export function bucketRange(bucket: { of: number; is: number }): string {
  const { of, is } = bucket;
  if (
    !(
      Number.isSafeInteger(of) &&
      Number.isSafeInteger(is) &&
      of >= 1 &&
      of <= 16 &&
      16 % of === 0 &&
      is >= 0 &&
      is < of
    )
  ) {
    throw new Error('bad bucket');
  }
  const digit = (n: number) => `'${n.toString(16)}'`;
  const bounds = [
    ...(is > 0 ? [`visitor_id >= ${digit((16 / of) * is)}`] : []),
    ...(is < of - 1 ? [`visitor_id < ${digit((16 / of) * (is + 1))}`] : []),
  ];
  return bounds.length ? `(${bounds.join(' AND ')})` : 'true';
}
