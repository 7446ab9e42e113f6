/**
 * Goal rollups: for each closed local day, one `rollups` row per goal of the project (dimension
 * `event:goal`), holding the goal's numbers for that day exactly as the raw goal query defines
 * them (docs/STATS.md, "Goals and funnels"): the events that complete the goal, their visitors,
 * the visits that have one (with those visits' bounces and durations) and their revenue.
 *
 * A row's `value` is the goal's key: its id and a digest of what it matches, never its name. A
 * rename keeps the key (the reader labels rows with the current name); an edit of the matching
 * changes it, so rows made for the old definition can never answer for the new one. Creating or
 * editing a goal marks every hour with events (`projects/goals.ts`), so until the cron has rolled
 * those days again they are read raw.
 */
import { dayBounds, formatDate, type LocalDate } from '../shared/calendar.ts';
import { GOAL_DIMENSION, goalRollupKey, type RollupGoal } from '../stats/goal-keys.ts';
import { goalDefinitions, goalMatchCtes } from '../stats/goal-segment-sql.ts';
import { EVENT_REVENUE, ROLLUP_INSERT, ROLLUP_VISIT, rollupMetricsSql } from '../stats/metric-sql.ts';
import { funnelRollupKey, needsPaths as funnelNeedsPaths } from '../stats/funnel-sql.ts';
import type { GoalStep } from '../stats/goal-matching.ts';
import type { ProjectDatabases } from '../store/index.ts';

/** The statement that reads a project's goals as the rollup needs them. */
export function rollupGoalsStatement(d1: D1Database, projectId: string): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT id, kind, path, event_name AS eventName, property_key AS propertyKey, property_value AS propertyValue
       FROM goals WHERE project_id = ?`,
    )
    .bind(projectId);
}

/** The distinct pageview paths of a project's local day (what its pageview goals are matched against). */
export function dayPathsStatement(
  d1: D1Database,
  projectId: string,
  day: LocalDate,
  timeZone: string,
): D1PreparedStatement {
  const { start, end } = dayBounds(day, timeZone);
  return d1
    .prepare("SELECT DISTINCT path FROM events WHERE project_id = ? AND ts >= ? AND ts < ? AND name = 'pageview'")
    .bind(projectId, start, end);
}

/**
 * The statement that writes a day's goal rows (after the day's old rows are deleted). Goals travel
 * as ONE bound JSON list, each pageview goal with the day's paths its pattern matches (matched
 * here: `*` stops at `/`, which GLOB cannot say), so no number of goals passes D1's 100 bound
 * parameters. Pageview goals join the day's events on the path, event goals on the name: an
 * event that completes two goals counts in both. NOTE: two terms of UNION ALL, well inside what
 * D1 accepts.
 */
export function goalDaySql(
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  goals: readonly (RollupGoal & { key: string })[],
  dayPaths: readonly string[],
): { sql: string; params: unknown[] } {
  const { start, end } = dayBounds(day, project.timezone);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new Error('day bounds must be integers');
  const sql = `WITH day_events AS MATERIALIZED (
  SELECT session_id, visitor_id, ts, name, path, props, ${EVENT_REVENUE}
  FROM events WHERE project_id = ? AND ts >= ${start} AND ts < ${end}
),
visits AS MATERIALIZED (
  SELECT session_id, ${ROLLUP_VISIT} FROM day_events GROUP BY session_id
),
${goalMatchCtes()}
${ROLLUP_INSERT}
SELECT ?, ?, '${GOAL_DIMENSION}', json_quote(p.goal_key), ${rollupMetricsSql('v', 'p')}
FROM grouped AS p JOIN visits AS v ON v.session_id = p.session_id
GROUP BY p.goal_key`;
  return {
    sql,
    params: [project.currency, project.id, goalDefinitions(goals, dayPaths), project.id, formatDate(day)],
  };
}

/**
 * A project's goals and funnels (settings: the control database), keyed, and a reader of a day's
 * pageview paths (data: the project's database) when any goal or funnel step needs them.
 */
export async function goalsOf({ control, data: d1 }: ProjectDatabases, project: { id: string; timezone: string }) {
  const [goalRows, funnelRows] = await control.batch([
    rollupGoalsStatement(control, project.id),
    control.prepare('SELECT id, steps FROM funnels WHERE project_id = ?').bind(project.id),
  ]);
  const results = (goalRows?.results ?? []) as RollupGoal[];
  const list = await Promise.all(results.map(async (goal) => ({ ...goal, key: await goalRollupKey(goal) })));
  const funnels = await Promise.all(
    ((funnelRows?.results ?? []) as { id: string; steps: string }[]).map(async (row) => {
      const funnel = { id: row.id, steps: JSON.parse(row.steps) as GoalStep[] };
      return { ...funnel, key: await funnelRollupKey(funnel) };
    }),
  );
  const needsPaths =
    list.some((goal) => goal.kind === 'pageview') || funnels.some((funnel) => funnelNeedsPaths(funnel.steps));
  return {
    list,
    funnels,
    dayPaths: async (day: LocalDate) =>
      needsPaths
        ? (await dayPathsStatement(d1, project.id, day, project.timezone).all<{ path: string }>()).results.map(
            (row) => row.path,
          )
        : [],
  };
}
