/**
 * Rollups: for each closed local day of a project, the stats API's numbers per dimension value,
 * computed by the very SQL that answers queries over raw events (`query/sql.ts`), so that a day
 * read from rollups and the same day read raw are equal by construction.
 *
 * Which days need rolling up is what the consumer marks: the UTC hours that received events
 * (`rollup_dirty`). Each run takes the oldest marked hours, recomputes every closed local day they
 * touch (`DELETE` + `INSERT … SELECT` in one transaction: idempotent, safe to run twice or
 * concurrently), and clears a mark only if no event was written to its hour since it was read.
 * The open day is never rolled up; it is always read raw.
 */
import { dayBounds, formatDate, type LocalDate, localDate, parseDate } from '../query/calendar.ts';
import { type Dimension, VISIT_DIMENSIONS } from '../query/schema.ts';
import { baseCte, dimensionSql, groupedSelect } from '../query/sql.ts';

/** The breakdown dimensions rolled up per day: every dimension the dashboard's panels show. */
export const ROLLUP_DIMENSIONS = [
  ...VISIT_DIMENSIONS,
  'page',
  'hostname',
  'event:name',
] as const satisfies readonly Dimension[];
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** What is written per day: the day's totals (`''`), its hours, and each breakdown dimension. */
const GROUPINGS: readonly { name: string; dimension: Dimension | null }[] = [
  { name: '', dimension: null },
  { name: 'time:hour', dimension: 'time:hour' },
  ...ROLLUP_DIMENSIONS.map((dimension) => ({ name: dimension, dimension })),
];

const HOUR_MS = 3_600_000;
/** Marked hours read per run, oldest first (so that the open day's hours never starve old ones). */
const MARKS_PER_RUN = 2_000;

/** The project facts a rollup needs. */
export interface RollupProject {
  id: string;
  timezone: string;
  currency: string;
}

/** What one run did. */
export interface RollupResult {
  /** Project days recomputed. */
  days: number;
  /** Marks cleared. */
  cleared: number;
  /** The budget ran out with closed days still marked: the next run carries on. */
  exhausted: boolean;
}

/**
 * The statement that writes one local day's rollups (after its old rows are deleted). One
 * statement and one pass: each of the day's events is read once and stands in every grouping
 * (a cross join with the list of groupings), and one GROUP BY makes every grouping's rows.
 * NOTE: D1 refuses compound SELECTs of many terms, so the groupings are rows, not UNION ALL.
 */
export function rollupDaySql(project: RollupProject, day: LocalDate): { sql: string; params: unknown[] } {
  const { start, end } = dayBounds(day, project.timezone);
  const cases = GROUPINGS.filter((grouping) => grouping.dimension).map(({ name, dimension }) => {
    const value = dimensionSql(dimension as Dimension);
    if (value.params.length) throw new Error(`rollups cannot group by ${name}`);
    return `WHEN '${name}' THEN ${value.sql}`;
  });
  const grouped = groupedSelect(
    [
      { sql: `CASE grouping ${cases.join(' ')} END`, params: [] },
      { sql: 'grouping', params: [] },
    ],
    [],
    {
      sql: '(SELECT base.*, g.value AS grouping FROM base CROSS JOIN json_each(?) AS g)',
      params: [JSON.stringify(GROUPINGS.map((grouping) => grouping.name))],
    },
  );
  return {
    sql: `WITH ${baseCte(start, end, project.timezone)}
INSERT INTO rollups (project_id, day, dimension, value, visitors, visits, pageviews, events, bounces, duration, revenue)
SELECT ?, ?, g1, json_quote(g0), visitors, visits, pageviews, events, bounces, duration, revenue FROM (${grouped.sql})`,
    params: [project.currency, project.id, project.id, formatDate(day), ...grouped.params],
  };
}

/** Statements that replace one day's rollups, in one batch (one transaction). */
export function replaceDayStatements(d1: D1Database, project: RollupProject, day: LocalDate): D1PreparedStatement[] {
  const { sql, params } = rollupDaySql(project, day);
  return [
    d1.prepare('DELETE FROM rollups WHERE project_id = ? AND day = ?').bind(project.id, formatDate(day)),
    d1.prepare(sql).bind(...params),
  ];
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

interface Mark {
  projectId: string;
  hour: number;
  mark: number;
  timezone: string;
  currency: string;
}

/**
 * Roll up the closed days that marked hours touch, oldest first, within a budget of days and of
 * wall time (each day is one transaction; what is left stays marked for the next run).
 *
 * @example
 * ```ts
 * await rollUp(env.DB, scheduledTime); // in the cron: bounded, resumes next run
 * ```
 */
export async function rollUp(
  d1: D1Database,
  now: number,
  budget: { days: number; ms: number } = { days: 40, ms: 20_000 },
): Promise<RollupResult> {
  const started = Date.now();
  const { results: marks } = await d1
    .prepare(
      `SELECT d.project_id AS projectId, d.hour, d.mark, p.timezone, p.currency
       FROM rollup_dirty d JOIN projects p ON p.id = d.project_id ORDER BY d.hour LIMIT ?`,
    )
    .bind(MARKS_PER_RUN)
    .all<Mark>();
  const result: RollupResult = { days: 0, cleared: 0, exhausted: false };

  // Per project, the closed days its marks touch (oldest first) and the marks touching each.
  const byProject = new Map<string, { project: RollupProject; days: Map<string, Mark[]> }>();
  for (const mark of marks) {
    const entry = byProject.get(mark.projectId) ?? {
      project: { id: mark.projectId, timezone: mark.timezone, currency: mark.currency },
      days: new Map<string, Mark[]>(),
    };
    byProject.set(mark.projectId, entry);
    for (const day of daysOfHour(mark.hour, mark.timezone)) entry.days.set(day, [...(entry.days.get(day) ?? []), mark]);
  }

  for (const { project, days } of byProject.values()) {
    const today = formatDate(localDate(now, project.timezone));
    const rolled = new Set<string>();
    for (const [label, dayMarks] of [...days].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (label >= today) continue;
      if (result.days >= budget.days || Date.now() - started >= budget.ms) {
        result.exhausted = true;
        return result;
      }
      const day = parseDate(label) as LocalDate;
      rolled.add(label);
      // A mark is cleared once every day its hour touches is rolled up, and only if unchanged.
      const done = dayMarks.filter((mark) => daysOfHour(mark.hour, project.timezone).every((d) => rolled.has(d)));
      const answers = await d1.batch([
        ...replaceDayStatements(d1, project, day),
        ...done.map((mark) =>
          d1
            .prepare('DELETE FROM rollup_dirty WHERE project_id = ? AND hour = ? AND mark = ?')
            .bind(project.id, mark.hour, mark.mark),
        ),
        bumpVersionsStatement(d1, [project.id], now),
      ]);
      result.days += 1;
      result.cleared += answers.slice(2, 2 + done.length).reduce((sum, answer) => sum + answer.meta.changes, 0);
    }
  }
  return result;
}

/** Every closed day that is still marked, rolled up however many runs it takes (tests, the demo seed). */
export async function rollUpAll(d1: D1Database, now: number): Promise<number> {
  let days = 0;
  for (;;) {
    const run = await rollUp(d1, now, { days: 1_000, ms: Number.POSITIVE_INFINITY });
    days += run.days;
    if (!run.exhausted && run.days === 0) return days;
  }
}
