/**
 * Hourly rollups of the open day. Every closed hour of today is rolled up into `rollup_hours` as
 * what it adds to the day (`stats/segment-sql.ts`): one statement per kind of grouping reads the
 * hour's events and its visitors' earlier events of the day, never the whole day. A query for
 * today then reads those rows plus, raw, only what came after them (`query/hour-read.ts`).
 *
 * A segment's rows stay right only while nothing changes before its end: an event written to an
 * earlier hour of the day (a late one) can change what its visitor's later events add. So the
 * job rolls from the first hour whose mark moved since it was rolled (or that never was) to the
 * last closed hour, one hour a batch, and each batch forgets the later hours' state; the reader
 * uses rows only up to the first hour not rolled at its current mark (`hourlyRolledThrough`).
 * Nothing here changes an answer, so no cached answer is invalidated.
 */
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { dayBounds, formatDate, hourSegments, type LocalDate, localDate } from '../shared/calendar.ts';
import { ROLLUP_COLUMNS } from '../stats/metric-sql.ts';
import { GOAL_DIMENSION, type RollupGoal } from '../stats/goal-keys.ts';
import { goalSegmentSql, readSegmentPaths } from '../stats/goal-segment-sql.ts';
import { EVENT_GROUPINGS, segmentSql, VISIT_GROUPINGS } from '../stats/segment-sql.ts';
import { goalsOf } from './goal-rollups.ts';
import { type HourMark, isComplete } from '../store/index.ts';

const HOUR_MS = 3_600_000;

type KeyedGoal = RollupGoal & { key: string };

/** The `dimension`s of a day's hourly rows, as the JSON list their DELETE binds. */
export const HOURLY_GROUPINGS = JSON.stringify([...VISIT_GROUPINGS, ...EVENT_GROUPINGS, GOAL_DIMENSION]);

const INSERT = `INSERT INTO rollup_hours (project_id, start, day, dimension, value, ${ROLLUP_COLUMNS.join(', ')})`;

/**
 * The statements that replace one segment's hourly rows (its old rows first); `goals` with the
 * pageview paths of the segment's visitors (`segmentPathsSql`), when the project has goals.
 */
export function replaceSegmentStatements(
  d1: D1Database,
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  segment: { lo: number; hi: number },
  goals: { list: readonly KeyedGoal[]; paths: readonly string[] } = { list: [], paths: [] },
): D1PreparedStatement[] {
  const { start, end } = dayBounds(day, project.timezone);
  const label = formatDate(day);
  const whole = { day: label, dayStart: start, dayEnd: end, lo: segment.lo, hi: segment.hi };
  const insert = {
    sql: (select: string) => `${INSERT}\nSELECT ?, ${segment.lo}, * FROM (${select})`,
    params: [project.id],
  };
  return [
    d1
      .prepare(
        'DELETE FROM rollup_hours WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?2)) AND day = ?3 AND start = ?4',
      )
      .bind(project.id, HOURLY_GROUPINGS, label, segment.lo),
    ...(['visit', 'event'] as const).map((kind) => {
      const groupings = kind === 'visit' ? VISIT_GROUPINGS : EVENT_GROUPINGS;
      const { sql, params } = segmentSql(project, whole, kind, groupings, insert);
      return d1.prepare(sql).bind(...params);
    }),
    ...(goals.list.length ? [goalSegmentSql(project, whole, goals.list, goals.paths, insert)] : []).map(
      ({ sql, params }) => d1.prepare(sql).bind(...params),
    ),
  ];
}

/** The statement that deletes a day's hourly rows (once its daily rows replace them). */
export function deleteDayHoursStatement(d1: D1Database, projectId: string, day: string): D1PreparedStatement {
  return d1
    .prepare(
      'DELETE FROM rollup_hours WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?2)) AND day = ?3',
    )
    .bind(projectId, HOURLY_GROUPINGS, day);
}

/** Whether an hour's open-day part is in `rollup_hours` at its current count and catalog. */
export const isHourlyRolled = (mark: HourMark) => mark.hourly === mark.mark && mark.hourlyVersion === CATALOG_VERSION;

/**
 * Roll up the closed hours of a project's open day that need it, given the project's marks read
 * by this run; stops when `deadline` (ms) passes. Returns how many segments it rolled.
 */
export async function rollUpOpenDay(
  d1: D1Database,
  project: { id: string; timezone: string; currency: string; rawFrom: number | null },
  marks: readonly HourMark[],
  now: number,
  deadline: number,
): Promise<number> {
  const today = localDate(now, project.timezone);
  if (!isComplete(formatDate(today), project.timezone, project.rawFrom)) return 0;
  return (await rollUpDayHours(d1, project, today, marks, now, deadline)).rolled;
}

/**
 * Roll up the hours of `day` that ended by `now` and need it, from the first whose mark moved
 * since it was rolled (or that never was), one hour a batch, until `deadline` (ms). `complete`:
 * every hour of the day is now in `rollup_hours` at the count this run read.
 */
export async function rollUpDayHours(
  d1: D1Database,
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  marks: readonly HourMark[],
  now: number,
  deadline: number,
): Promise<{ rolled: number; complete: boolean }> {
  const segments = hourSegments(day, project.timezone);
  const byHour = new Map(marks.map((mark) => [mark.hour, mark]));
  const first = segments.findIndex(({ lo }) => {
    const mark = byHour.get(Math.floor(lo / HOUR_MS));
    return mark !== undefined && !isHourlyRolled(mark);
  });
  if (first < 0) return { rolled: 0, complete: (segments[segments.length - 1]?.hi ?? 0) <= now };
  const lastHour = Math.floor(((segments[segments.length - 1]?.hi ?? now) - 1) / HOUR_MS);
  let rolled = 0;
  const goals = (await goalsOf(d1, project)).list;
  const { start, end } = dayBounds(day, project.timezone);
  for (const segment of segments.slice(first)) {
    if (segment.hi > now || Date.now() > deadline) return { rolled, complete: false };
    const hour = Math.floor(segment.lo / HOUR_MS);
    const mark = byHour.get(hour);
    // No mark: no events in this hour (or its marks were not among those read this run: then a
    // later hour stays unrolled, which only means the reader reads more of the day raw).
    if (!mark) continue;
    const segmentOfDay = { day: formatDate(day), dayStart: start, dayEnd: end, ...segment };
    const paths = goals.some((goal) => goal.kind === 'pageview')
      ? await readSegmentPaths(d1, project.id, segmentOfDay)
      : [];
    await d1.batch([
      ...replaceSegmentStatements(d1, project, day, segment, { list: goals, paths }),
      // Rolled at the count read before the batch: a write since then leaves the hour unrolled.
      d1
        .prepare(
          `UPDATE rollup_dirty SET hourly = ?3, hourly_version = ${CATALOG_VERSION} WHERE project_id = ?1 AND hour = ?2 AND mark = ?3`,
        )
        .bind(project.id, hour, mark.mark),
      // What later hours add was computed without this hour's latest events: forget it.
      d1
        .prepare(
          'UPDATE rollup_dirty SET hourly = NULL WHERE project_id = ?1 AND hour > ?2 AND hour <= ?3 AND hourly IS NOT NULL',
        )
        .bind(project.id, hour, lastHour),
    ]);
    rolled += 1;
  }
  return { rolled, complete: true };
}

/**
 * Statements that make a closed day's rollups the sum of its hourly rows (every hour of it rolled
 * at its current count): no statement reads the day's raw events. The caller deletes the hourly
 * rows in the same batch.
 */
export function compactDayStatements(
  d1: D1Database,
  projectId: string,
  day: string,
  rolledGroupings: string,
): D1PreparedStatement[] {
  const sums = ROLLUP_COLUMNS.map((column) => `SUM(${column})`).join(', ');
  return [
    d1
      .prepare(
        'DELETE FROM rollups WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?3)) AND day = ?2',
      )
      .bind(projectId, day, rolledGroupings),
    d1
      .prepare(
        `INSERT INTO rollups (project_id, day, dimension, value, ${ROLLUP_COLUMNS.join(', ')})
         SELECT project_id, day, dimension, value, ${sums} FROM rollup_hours
         WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?3)) AND day = ?2
         GROUP BY dimension, value HAVING SUM(events) != 0`,
      )
      .bind(projectId, day, HOURLY_GROUPINGS),
    rolledDayStatement(d1, projectId, day),
  ];
}

/** The statement recording the catalog a day was rolled with: a dimension added later is not in its rows. */
export function rolledDayStatement(d1: D1Database, projectId: string, day: string): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO rolled_days (project_id, day, version) VALUES (?, ?, ${CATALOG_VERSION})
       ON CONFLICT (project_id, day) DO UPDATE SET version = excluded.version`,
    )
    .bind(projectId, day);
}
