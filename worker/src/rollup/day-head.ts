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
 * With `bucket`, only the visitors whose id's last hex digit falls in it modulo its count:
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
  if (bucket && !(Number.isSafeInteger(bucket.of) && Number.isSafeInteger(bucket.is))) throw new Error('bad bucket');
  // Visitor ids are hex: their last digit's value spreads visitors evenly over 1, 2, 4, 8 or 16
  // buckets (an id ending otherwise — tests' — goes to the last digit's bucket, 15 modulo the count).
  const only = bucket
    ? `AND ((instr('0123456789abcdef', lower(substr(visitor_id, -1))) + 15) % 16) % ${bucket.of} = ${bucket.is}`
    : '';
  // Entry values and exit pages come from the SQL the raw queries use (`entryExitCtes`).
  return `WITH day_events AS MATERIALIZED (
  SELECT session_id, visitor_id, seq, ts, name, path, path AS page, hostname, ${localTimeSql(start, end, project.timezone)} AS lt,
    ${EVENT_REVENUE}, ${ENTRY_SOURCE_COLUMNS.join(', ')}${props ? ', props' : ''}
  FROM events WHERE project_id = ? AND ts >= ${start} AND ts < ${end} ${only}
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
