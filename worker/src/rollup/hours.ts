/**
 * Hourly rollups of the open day. Every closed hour of today is rolled up into `rollup_hours` as
 * what it adds to the day (`stats/segment-sql.ts`): one statement per kind of grouping reads the
 * hour's events and its visitors' earlier events of the day, never the whole day. A query for
 * today then reads those rows plus, raw, only what came after them (`query/rollup-read.ts`).
 *
 * A segment's rows stay right only while nothing changes before its end: an event written to an
 * earlier hour of the day (a late one) can change what its visitor's later events add. So the
 * job rolls from the first segment whose hour's mark moved since it was rolled (or that never was)
 * to the last closed one, one segment a batch, recording the mark each was rolled at in
 * `rolled_hours` and dropping the later segments' records; the reader uses rows only up to the
 * first segment not rolled at its hour's current mark (`hourlyRolledThrough`).
 * Nothing here changes an answer, so no cached answer is invalidated.
 */
import { CATALOG_VERSION, UNFILTERED_VERSION } from '@tally/sdk/catalog';
import { dayBounds, formatDate, hourSegments, type LocalDate, localDate } from '../shared/calendar.ts';
import { ROLLUP_COLUMNS } from '../stats/metric-sql.ts';
import { GOAL_DIMENSION, type RollupGoal } from '../stats/goal-keys.ts';
import { goalSegmentSql, readSegmentPaths } from '../stats/goal-segment-sql.ts';
import { EVENT_GROUPINGS, segmentSql, VISIT_GROUPINGS } from '../stats/segment-sql.ts';
import { goalsOf } from './goal-rollups.ts';
import {
  FUNNEL_DIMENSION,
  funnelSegmentSql,
  needsPaths as funnelNeedsPaths,
  type RollupFunnel,
} from '../stats/funnel-sql.ts';
import { isComplete, type ProjectDatabases } from '../store/index.ts';

const HOUR_MS = 3_600_000;

type KeyedGoal = RollupGoal & { key: string };
type KeyedFunnel = RollupFunnel & { key: string };

/** The `dimension`s of a day's hourly rows, as the JSON list their DELETE binds. */
export const HOURLY_GROUPINGS = JSON.stringify([
  ...VISIT_GROUPINGS,
  ...EVENT_GROUPINGS,
  GOAL_DIMENSION,
  FUNNEL_DIMENSION,
]);

const INSERT = `INSERT INTO rollup_hours (project_id, start, day, dimension, value, ${ROLLUP_COLUMNS.join(', ')})`;

/**
 * The statements that replace one segment's hourly rows (its old rows first); `goals` (and
 * funnels) with the pageview paths of the segment's visitors (`segmentPathsSql`).
 */
export function replaceSegmentStatements(
  d1: D1Database,
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  segment: { lo: number; hi: number },
  goals: { list: readonly KeyedGoal[]; funnels?: readonly KeyedFunnel[]; paths: readonly string[] } = {
    list: [],
    paths: [],
  },
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
    ...[
      ...(goals.list.length ? [goalSegmentSql(project, whole, goals.list, goals.paths, insert)] : []),
      ...(goals.funnels ?? []).map((funnel) => funnelSegmentSql(project, whole, funnel, goals.paths, insert)),
    ].map(({ sql, params }) => d1.prepare(sql).bind(...params)),
  ];
}

/** The statements that delete a day's hourly rows and their state (once its daily rows replace them). */
export function deleteDayHoursStatements(d1: D1Database, projectId: string, day: string): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        'DELETE FROM rollup_hours WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?2)) AND day = ?3',
      )
      .bind(projectId, HOURLY_GROUPINGS, day),
    d1.prepare('DELETE FROM rolled_hours WHERE project_id = ? AND day = ?').bind(projectId, day),
  ];
}

/**
 * An hour is rolled only this long after it ended: events still on their way (the queue, a
 * client's clock running behind) would otherwise roll it, and every later hour, again.
 */
export const HOUR_GRACE_MS = 5 * 60_000;

/** The open day of a project, if its closed hours need rolling, rolled; returns how many segments it rolled. */
export async function rollUpOpenDay(
  dbs: ProjectDatabases,
  project: { id: string; timezone: string; currency: string; rawFrom: number | null },
  now: number,
  deadline: number,
): Promise<number> {
  const today = localDate(now, project.timezone);
  if (!isComplete(formatDate(today), project.timezone, project.rawFrom)) return 0;
  return (await rollUpDayHours(dbs, project, today, now - HOUR_GRACE_MS, deadline)).rolled;
}

/** What {@link rollUpDayHours} did: segments rolled, whether every segment with events is now current. */
export interface DayHours {
  rolled: number;
  complete: boolean;
  /** Whether the day had any segment rolled before this run (`rolled_hours`). */
  started: boolean;
}

/**
 * Roll up the hour segments of `day` that ended by `until` and need it: from the first whose hour's
 * mark moved since it was rolled (or that never was), one segment a batch, until `deadline` (ms).
 * The day's marks and segment state are read here, whole (the cron's own read is bounded).
 */
export async function rollUpDayHours(
  dbs: ProjectDatabases,
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  until: number,
  deadline: number,
  /** Roll nothing unless the day already has rolled segments (a closed day rolled while open). */
  options: { onlyIfStarted?: boolean } = {},
): Promise<DayHours> {
  const d1 = dbs.data;
  const label = formatDate(day);
  const { start, end } = dayBounds(day, project.timezone);
  const [marks, rolledRows] = await d1.batch([
    d1
      .prepare('SELECT hour, mark FROM rollup_dirty WHERE project_id = ? AND hour >= ? AND hour < ?')
      .bind(project.id, Math.floor(start / HOUR_MS), Math.ceil(end / HOUR_MS)),
    d1
      // Hourly rows hold no filtered rows: hours rolled since the unfiltered rows last changed are current.
      .prepare('SELECT start, mark FROM rolled_hours WHERE project_id = ? AND day = ? AND version >= ?')
      .bind(project.id, label, UNFILTERED_VERSION),
  ]);
  const markOf = new Map(((marks?.results ?? []) as { hour: number; mark: number }[]).map((r) => [r.hour, r.mark]));
  const rolled = new Map(
    ((rolledRows?.results ?? []) as { start: number; mark: number }[]).map((r) => [r.start, r.mark]),
  );
  const segments = hourSegments(day, project.timezone);
  const stale = (lo: number) => {
    const mark = markOf.get(Math.floor(lo / HOUR_MS));
    return mark !== undefined && rolled.get(lo) !== mark;
  };
  const first = segments.findIndex(({ lo }) => stale(lo));
  const result: DayHours = { rolled: 0, complete: first < 0, started: rolled.size > 0 };
  if (first < 0 || (options.onlyIfStarted && !result.started)) return result;
  const { list: goals, funnels } = await goalsOf(dbs, project);
  const pathsNeeded =
    goals.some((goal) => goal.kind === 'pageview') || funnels.some((funnel) => funnelNeedsPaths(funnel.steps));
  for (const segment of segments.slice(first)) {
    if (segment.hi > until || Date.now() > deadline) return result;
    const hour = Math.floor(segment.lo / HOUR_MS);
    const mark = markOf.get(hour);
    // No mark: no events in this segment. A segment after a rolled one is rolled again even if
    // its own mark did not move: its visitors' earlier events may have.
    if (mark === undefined) continue;
    const whole = { day: label, dayStart: start, dayEnd: end, ...segment };
    const paths = pathsNeeded ? await readSegmentPaths(d1, project.id, whole) : [];
    const answers = await d1.batch([
      ...replaceSegmentStatements(d1, project, day, segment, { list: goals, funnels, paths }),
      // Current at the count read before the batch: a write since then leaves the segment stale.
      d1
        .prepare(
          `INSERT INTO rolled_hours (project_id, day, start, mark, version)
           SELECT ?1, ?2, ?3, mark, ${CATALOG_VERSION} FROM rollup_dirty WHERE project_id = ?1 AND hour = ?4 AND mark = ?5
           ON CONFLICT (project_id, day, start) DO UPDATE SET mark = excluded.mark, version = excluded.version`,
        )
        .bind(project.id, label, segment.lo, hour, mark),
      // What later segments add was computed without this one's latest events.
      d1
        .prepare('DELETE FROM rolled_hours WHERE project_id = ? AND day = ? AND start > ?')
        .bind(project.id, label, segment.lo),
    ]);
    result.rolled += 1;
    // The state row was not written (a write came in since the marks were read): not current.
    if ((answers[answers.length - 2]?.meta.changes ?? 0) === 0) return result;
  }
  result.complete = true;
  return result;
}

/**
 * Statements that make a closed day's rollups the sum of its hourly rows (every segment with
 * events rolled at its hour's current count): no statement reads the day's raw events. The caller
 * deletes the hourly rows in the same batch.
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
         GROUP BY dimension, value HAVING SUM(events) != 0 OR SUM(visits) != 0`,
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
