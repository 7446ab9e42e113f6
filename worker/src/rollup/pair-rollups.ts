/**
 * Writing filtered rollups (`stats/pair-sql.ts`): a closed day's `pair_rollups`, an open day's
 * hour segments' `pair_rollup_hours`, and a closed day's compaction of the latter into the former.
 * Each travels in the batch that writes the same day's or segment's other rollup rows
 * (`rollups.ts`, `hours.ts`), so the two never disagree about which events they count.
 */
import { ROLLUP_COLUMNS } from '../stats/metric-sql.ts';
import { PAIR_STATEMENTS, pairSegmentSql } from '../stats/pair-sql.ts';
import type { DaySegment } from '../stats/segment-sql.ts';

type Project = { id: string; currency: string; timezone: string };

const COLUMNS = ROLLUP_COLUMNS.join(', ');

/** The statements that replace a closed day's filtered rows: the day is the segment with nothing before it. */
export function pairDayStatements(d1: D1Database, project: Project, day: DaySegment): D1PreparedStatement[] {
  const insert = {
    sql: (select: string) =>
      `INSERT INTO pair_rollups (project_id, day, dimension, value, ${COLUMNS})\nSELECT ?, * FROM (${select})`,
    params: [project.id],
  };
  return [
    d1.prepare('DELETE FROM pair_rollups WHERE project_id = ? AND day = ?').bind(project.id, day.day),
    ...PAIR_STATEMENTS.map(({ kind, pairs }) => {
      const { sql, params } = pairSegmentSql(
        project,
        { ...day, lo: day.dayStart, hi: day.dayEnd },
        kind,
        pairs,
        insert,
      );
      return d1.prepare(sql).bind(...params);
    }),
  ];
}

/** The statements that replace one hour segment's filtered rows (what it adds to its day). */
export function pairSegmentStatements(d1: D1Database, project: Project, segment: DaySegment): D1PreparedStatement[] {
  const insert = {
    sql: (select: string) =>
      `INSERT INTO pair_rollup_hours (project_id, start, day, dimension, value, ${COLUMNS})\nSELECT ?, ${segment.lo}, * FROM (${select})`,
    params: [project.id],
  };
  return [
    d1
      .prepare('DELETE FROM pair_rollup_hours WHERE project_id = ? AND day = ? AND start = ?')
      .bind(project.id, segment.day, segment.lo),
    ...PAIR_STATEMENTS.map(({ kind, pairs }) => {
      const { sql, params } = pairSegmentSql(project, segment, kind, pairs, insert);
      return d1.prepare(sql).bind(...params);
    }),
  ];
}

/** The statement that deletes a day's filtered hourly rows (once its daily rows replace them). */
export function deletePairHoursStatement(d1: D1Database, projectId: string, day: string): D1PreparedStatement {
  return d1.prepare('DELETE FROM pair_rollup_hours WHERE project_id = ? AND day = ?').bind(projectId, day);
}

/** The statements that make a closed day's filtered rows the sum of its hourly ones (the caller deletes those). */
export function compactPairStatements(d1: D1Database, projectId: string, day: string): D1PreparedStatement[] {
  const sums = ROLLUP_COLUMNS.map((column) => `SUM(${column})`).join(', ');
  return [
    d1.prepare('DELETE FROM pair_rollups WHERE project_id = ? AND day = ?').bind(projectId, day),
    d1
      .prepare(
        `INSERT INTO pair_rollups (project_id, day, dimension, value, ${COLUMNS})
         SELECT project_id, day, dimension, value, ${sums} FROM pair_rollup_hours
         WHERE project_id = ?1 AND day = ?2
         GROUP BY dimension, value HAVING SUM(events) != 0 OR SUM(visits) != 0`,
      )
      .bind(projectId, day),
  ];
}
