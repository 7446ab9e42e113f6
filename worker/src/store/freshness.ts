/**
 * Freshness: which of a project's stored events are not yet in its rollups, and how cached answers
 * learn that its numbers changed. One module owns the invariant **every stored event is in the
 * rollups or in a marked hour**: events are written with their hours' marks (`events.ts`), goal
 * and timezone changes re-mark hours here, the rollup job clears marks here only when their count
 * is unchanged, and every change to stored numbers bumps the project's version here.
 *
 * `rollup_dirty` holds one row per marked UTC hour: `mark` counts writes, `rolled` records the mark
 * at which an hour cut by a local midnight had its earlier, closed day rolled up. `rollup_state`
 * holds each project's version, part of every cached answer's key.
 */
import { CATALOG_VERSION, UNFILTERED_VERSION } from '@tally/sdk/catalog';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { type Db, events, rollupDirty, rollupState } from '../db/index.ts';
import { firstInstantAt, formatDate, type LocalDate, localDate, parseDate } from '../shared/calendar.ts';

const HOUR_MS = 3_600_000;

/**
 * SQL that marks the UTC hours of the events in the JSON array `?1` (each with `projectId` and
 * `ts`). It runs in the same batch (one transaction) as the insert of
 * those events; `mark` counts the writes, so the rollup job clears a mark only if no write came
 * after it read the hour.
 */
export const MARK_EVENT_HOURS_SQL = `INSERT INTO rollup_dirty (project_id, hour, mark)
SELECT value ->> '$.projectId', (value ->> '$.ts') / ${HOUR_MS}, 1 FROM json_each(?1)
GROUP BY 1, 2
ON CONFLICT (project_id, hour) DO UPDATE SET mark = mark + 1`;

/**
 * Statements that mark every hour holding a project's events (so the cron rolls their days up
 * again, and until then they are read raw) and tell cached answers, optionally only when
 * `condition` holds (an SQL expression, e.g. that a goal was written).
 */
export function remarkEventHoursStatements(db: Db, projectId: string, now: number, condition?: SQL) {
  const hours = db
    .select({
      projectId: events.projectId,
      hour: sql<number>`${events.ts} / 3600000`.as('hour'),
      mark: sql<number>`1`.as('mark'),
      // drizzle's INSERT … SELECT names every column of the table, in order.
      rolled: sql<number | null>`NULL`.as('rolled'),
    })
    .from(events)
    .where(
      and(
        eq(events.projectId, projectId),
        // Only hours after the retention purge's cut: a day it left partial must not be rolled up again.
        sql`${events.ts} >= COALESCE((SELECT ${rollupState.rawFrom} FROM ${rollupState} WHERE ${rollupState.projectId} = ${projectId}), 0)`,
        condition,
      ),
    )
    .groupBy(sql`1`, sql`2`);
  return [
    db
      .insert(rollupDirty)
      .select(hours)
      .onConflictDoUpdate({
        target: [rollupDirty.projectId, rollupDirty.hour],
        set: { mark: sql`${rollupDirty.mark} + 1` },
      }),
    db
      .insert(rollupState)
      .values({ projectId, version: 1, updatedAt: now })
      .onConflictDoUpdate({
        target: rollupState.projectId,
        set: { version: sql`${rollupState.version} + 1`, updatedAt: now },
      }),
  ] as const;
}

/** The statement that tells cached answers of these projects that their stored numbers changed. */
export function bumpVersionsStatement(d1: D1Database, projectIds: readonly string[], now: number): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO rollup_state (project_id, version, updated_at) SELECT value, 1, ?1 FROM json_each(?2) WHERE true
       ON CONFLICT (project_id) DO UPDATE SET version = version + 1, updated_at = excluded.updated_at`,
    )
    .bind(now, JSON.stringify(projectIds));
}

/** The local days (one, or two where a local midnight falls inside it) a UTC hour touches. */
export function daysOfHour(hour: number, timeZone: string): string[] {
  const first = formatDate(localDate(hour * HOUR_MS, timeZone));
  const last = formatDate(localDate(hour * HOUR_MS + HOUR_MS - 1, timeZone));
  return first === last ? [first] : [first, last];
}

/**
 * The local days a mark still makes raw: every day its hour touches, or only the later one once
 * the earlier, closed day was rolled up at the current mark (`rolled`).
 */
export function dirtyDaysOfMark(mark: { hour: number; mark: number; rolled: number | null }, timeZone: string) {
  const days = daysOfHour(mark.hour, timeZone);
  return mark.rolled === mark.mark ? days.slice(-1) : days;
}

/** The project's marked hours near a span: the freshness of its stored numbers. */
export interface Marks {
  /** Hour → write count, for the marked hours between the span's first and last hour. */
  hours: Map<number, number>;
  /** Hours cut by a local midnight whose earlier, closed day is rolled up at their current count. */
  settled: Set<number>;
}

/**
 * Where the open day's hourly rollups stop being usable: the start of its first segment (of
 * `segments`, in order, each [lo, hi) inside one UTC hour) whose hour is marked but not rolled at
 * its current count. A segment's rows are computed from its visitors' earlier events, so one
 * stale hour makes every later one unusable too (the cron re-rolls from there, and clears the
 * later hours' state as it does). An hour without a mark has no events: it adds nothing.
 */
export function hourlyRolledThrough(
  marks: Marks,
  segments: readonly { lo: number; hi: number }[],
  /** Segment start → the mark it was rolled at (`rolled_hours`, current catalog only). */
  rolled: ReadonlyMap<number, number>,
): number {
  for (const { lo } of segments) {
    const mark = marks.hours.get(Math.floor(lo / HOUR_MS));
    if (mark !== undefined && rolled.get(lo) !== mark) return lo;
  }
  return segments[segments.length - 1]?.hi ?? 0;
}

/**
 * The local days in `from`…`to` that a marked hour touches: those are read raw. A day that starts
 * before `rawFrom` is not among them, marked or not: its raw events may be partly purged, so its
 * rollups are the whole truth about it.
 */
export function markedDays(
  marks: Marks,
  from: LocalDate,
  to: LocalDate,
  timeZone: string,
  rawFrom: number | null = null,
  stale: ReadonlyMap<string, number> = new Map(),
): Set<string> {
  const [first, last] = [formatDate(from), formatDate(to)];
  const days = new Set<string>();
  // Rolled up with an older catalog: read raw (exact for every dimension) while it is complete.
  for (const day of stale.keys()) {
    if (day >= first && day <= last && isComplete(day, timeZone, rawFrom)) days.add(day);
  }
  for (const [hour, mark] of marks.hours) {
    const rolled = marks.settled.has(hour) ? mark : null;
    for (const day of dirtyDaysOfMark({ hour, mark, rolled }, timeZone)) {
      if (day >= first && day <= last && isComplete(day, timeZone, rawFrom)) days.add(day);
    }
  }
  return days;
}

/** The days of `stale` (day → catalog version it was rolled with) rolled before `version`. */
export function staleBefore(stale: ReadonlyMap<string, number>, version: number): Map<string, number> {
  return new Map([...stale].filter(([, rolled]) => rolled < version));
}

/** Whether a local day still has all its raw events: it starts at or after `rawFrom`. */
export function isComplete(day: string, timeZone: string, rawFrom: number | null): boolean {
  return rawFrom === null || firstInstantAt(parseDate(day) as LocalDate, timeZone) >= rawFrom;
}

/** What a project's stored numbers look like right now, for one span of time. */
export interface Freshness {
  version: number;
  marks: Marks;
  /**
   * Days of the span rolled up with an older catalog, and that catalog's version: a dimension
   * added since is not in their rows, so they are read raw while complete (until the cron has
   * rolled them up again) and are "not available" for it once their raw events are gone.
   */
  stale: Map<string, number>;
  /** Raw events before this instant may be purged: days that start earlier are read from rollups only. */
  rawFrom: number | null;
  /** Hour segments of the span's days in `rollup_hours`: start → the mark they were rolled at. */
  rolledHours: Map<number, number>;
}

/** The reads that tell how fresh a project's numbers are over [start, end) of its calendar. */
export function freshnessStatements(d1: D1Database, projectId: string, start: number, end: number, timeZone: string) {
  return [
    d1.prepare('SELECT version, raw_from FROM rollup_state WHERE project_id = ?').bind(projectId),
    // A local day reaches at most 14 hours beyond its UTC day; an hour either side covers the
    // hours that straddle the span's first and last local midnight.
    d1
      .prepare('SELECT hour, mark, rolled FROM rollup_dirty WHERE project_id = ? AND hour >= ? AND hour <= ?')
      .bind(projectId, Math.floor(start / HOUR_MS) - 1, Math.floor(end / HOUR_MS) + 1),
    d1
      .prepare(`SELECT day, version FROM rolled_days WHERE project_id = ? AND day >= ? AND day <= ? AND version < ?`)
      .bind(
        projectId,
        formatDate(localDate(start, timeZone)),
        formatDate(localDate(end - 1, timeZone)),
        CATALOG_VERSION,
      ),
    d1
      // Only unfiltered reads read hourly rows (filtered ones read the open day raw).
      .prepare('SELECT start, mark FROM rolled_hours WHERE project_id = ? AND day >= ? AND day <= ? AND version >= ?')
      .bind(
        projectId,
        formatDate(localDate(start, timeZone)),
        formatDate(localDate(end - 1, timeZone)),
        UNFILTERED_VERSION,
      ),
  ];
}

/** Read the answers of {@link freshnessStatements}. */
export function readFreshness(answers: D1Result[]): Freshness {
  const state = answers[0]?.results[0] as { version?: number; raw_from?: number | null } | undefined;
  const version = state?.version ?? 0;
  const rows = (answers[1]?.results ?? []) as { hour: number; mark: number; rolled: number | null }[];
  const hours = new Map(rows.map((row) => [row.hour, row.mark]));
  const settled = new Set(rows.filter((row) => row.rolled === row.mark).map((row) => row.hour));
  const segments = (answers[3]?.results ?? []) as { start: number; mark: number }[];
  const stale = (answers[2]?.results ?? []) as { day: string; version: number }[];
  return {
    version,
    marks: { hours, settled },
    rolledHours: new Map(segments.map((row) => [row.start, row.mark])),
    rawFrom: state?.raw_from ?? null,
    stale: new Map(stale.map((row) => [row.day, row.version])),
  };
}

/**
 * SQL that marks every hour holding events of project `?1` in [`?2`, `?3`) ms, for events that
 * reached the table without {@link MARK_EVENT_HOURS_SQL} beside them: an import, the demo seed, the
 * bench's dataset, a test's hand-written rows. A mark that exists is bumped, so a rollup in flight
 * cannot clear it.
 */
export const MARK_SPAN_HOURS_SQL = `INSERT INTO rollup_dirty (project_id, hour, mark)
SELECT project_id, ts / ${HOUR_MS}, 1 FROM events WHERE project_id = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY 1, 2
ON CONFLICT (project_id, hour) DO UPDATE SET mark = mark + 1`;

/** The statement of {@link MARK_SPAN_HOURS_SQL} over all of a project's events. */
export function markAllEventHoursStatement(d1: D1Database, projectId: string): D1PreparedStatement {
  return d1.prepare(MARK_SPAN_HOURS_SQL).bind(projectId, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * {@link MARK_SPAN_HOURS_SQL} as text with its values written in, for a script that runs SQL from
 * a file (`wrangler d1 execute --file`), where nothing can be bound.
 */
export function markSpanHoursSqlText(projectId: string, start: number, end: number): string {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new Error('span bounds must be integers');
  const quoted = `'${projectId.replaceAll("'", "''")}'`;
  const sql = MARK_SPAN_HOURS_SQL.replace('?1', quoted).replace('?2', String(start)).replace('?3', String(end));
  // One line: the seed's SQL files hold one statement a line.
  return `${sql.replace(/\s*\n\s*/g, ' ')};`;
}

/** A marked hour as the rollup job reads it, with its project's settings (from the control database). */
export interface HourMark {
  projectId: string;
  hour: number;
  mark: number;
  /** The mark at which the hour's closed day was rolled up, for an hour cut by a local midnight. */
  rolled: number | null;
  /** The project's calendar (`shared/calendar.ts`). */
  timezone: string;
  currency: string;
  /** The project's `raw_from`: days that start earlier are never rolled up again. */
  rawFrom: number | null;
}

/**
 * The oldest `limit` marked hours in one pool database, of projects not fenced there (a move out of
 * it is under way: their rows must hold still) and not among `movingIn` (`pool.ts`,
 * `projectsMovingInto`: a copy in progress, whose marks would take the places of the database's own
 * projects), without their settings: those are in the control database (`pool.ts`, `projectSettings`).
 */
export function oldestMarksStatement(d1: D1Database, limit: number, movingIn: readonly string[]): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT d.project_id AS projectId, d.hour, d.mark, d.rolled, s.raw_from AS rawFrom
       FROM rollup_dirty d LEFT JOIN rollup_state s ON s.project_id = d.project_id
       WHERE NOT EXISTS (SELECT 1 FROM project_fences f WHERE f.project_id = d.project_id)
         AND d.project_id NOT IN (SELECT value FROM json_each(?2))
       ORDER BY d.hour LIMIT ?1`,
    )
    .bind(limit, JSON.stringify(movingIn));
}

/**
 * The projects of one pool database with marks in the last 27 hours (every open day of every zone
 * starts within them), not fenced there, with their `raw_from`: the hourly rollups' work list (their
 * settings come from the control database).
 */
export function recentlyMarkedProjectsStatement(d1: D1Database, now: number): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT d.project_id AS id, s.raw_from AS rawFrom
       FROM (SELECT DISTINCT project_id FROM rollup_dirty WHERE hour >= ?) d
       LEFT JOIN rollup_state s ON s.project_id = d.project_id
       WHERE NOT EXISTS (SELECT 1 FROM project_fences f WHERE f.project_id = d.project_id)`,
    )
    .bind(Math.floor(now / HOUR_MS) - 27);
}

/**
 * Statements that settle marks once their days are rolled up: `done` marks go (each only if its
 * count is unchanged: a write racing the job keeps its mark), `settled` ones (hours whose later day
 * is still open) record that their closed day is rolled up at this count.
 */
export function settleMarksStatements(
  d1: D1Database,
  projectId: string,
  done: readonly { hour: number; mark: number }[],
  settled: readonly { hour: number; mark: number }[],
): D1PreparedStatement[] {
  return [
    ...done.map((mark) =>
      d1
        .prepare('DELETE FROM rollup_dirty WHERE project_id = ? AND hour = ? AND mark = ?')
        .bind(projectId, mark.hour, mark.mark),
    ),
    ...settled.map((mark) =>
      d1
        .prepare('UPDATE rollup_dirty SET rolled = mark WHERE project_id = ? AND hour = ? AND mark = ?')
        .bind(projectId, mark.hour, mark.mark),
    ),
  ];
}
