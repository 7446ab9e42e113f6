/**
 * What a segment of a local day adds to the day's goal numbers (`segment-sql.ts` explains the
 * difference): per goal, the events that complete it, their visitors, the visits that have one
 * (with those visits' bounces and durations) and their revenue — as a day's goal rows hold them
 * (`rollup/goal-rollups.ts`), keyed by the goal's key.
 */
import { GOAL_DIMENSION, type RollupGoal } from './goal-keys.ts';
import { eventGoalSql, goalPaths } from './goals.ts';
import { EVENT_METRICS, rollupMetricsSql } from './metric-sql.ts';
export type { DaySegment } from './segment-sql.ts';
import { type DaySegment, headParams, type SegmentStatement, segmentHead, signedSums } from './segment-sql.ts';

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/**
 * The distinct pageview paths of the segment's visitors up to its end: all a segment's pageview
 * goals can match (both sides of the difference read exactly those events).
 */
export function segmentPathsSql(projectId: string, segment: DaySegment): SegmentStatement {
  return {
    sql: `SELECT DISTINCT e.path FROM (
  SELECT DISTINCT visitor_id FROM events INDEXED BY events_project_ts_idx WHERE project_id = ? AND ts >= ${int(segment.lo)} AND ts < ${int(segment.hi)}
) AS a CROSS JOIN events AS e INDEXED BY events_project_visitor_idx
WHERE e.project_id = ? AND e.visitor_id = a.visitor_id AND e.ts >= ${int(segment.dayStart)} AND e.ts < ${int(segment.hi)}
  AND e.name = 'pageview'`,
    params: [projectId, projectId],
  };
}

/** Run {@link segmentPathsSql}. */
export async function readSegmentPaths(d1: D1Database, projectId: string, segment: DaySegment): Promise<string[]> {
  const { sql, params } = segmentPathsSql(projectId, segment);
  const { results } = await d1
    .prepare(sql)
    .bind(...params)
    .all<{ path: string }>();
  return results.map((row) => row.path);
}

/**
 * The goal list as ONE bound JSON parameter (each pageview goal with the `paths` its pattern
 * matches: in the Worker, as its `*` stops at `/`, which GLOB's does not), so no number of goals
 * passes D1's 100 bound parameters.
 */
export function goalDefinitions(goals: readonly (RollupGoal & { key: string })[], paths: readonly string[]): string {
  return JSON.stringify(
    goals.map((goal) => ({
      k: goal.key,
      kind: goal.kind,
      paths: goal.kind === 'pageview' ? goalPaths(goal, paths) : [],
      e: goal.eventName,
      pk: goal.propertyKey,
      pv: goal.propertyValue,
    })),
  );
}

/**
 * CTEs over `day_events` (columns `session_id`, `name`, `path`, `props`, `revenue`): `defs` (the
 * goals of {@link goalDefinitions}, its one placeholder), `goal_paths`, and `grouped`, one row per
 * goal and visit with the {@link EVENT_METRICS} of the visit's events that complete the goal. An
 * event that completes two goals counts in both. NOTE: two terms of UNION ALL, well inside what D1
 * accepts.
 */
export function goalMatchCtes(): string {
  // The event's `name` and `props`: neither `defs` nor json_each has such a column.
  const completesEventGoal = eventGoalSql('d.event_name', {
    key: 'd.property_key',
    value: 'd.property_value',
    nullable: true,
  });
  return `defs AS MATERIALIZED (
  SELECT value ->> '$.k' AS goal_key, value ->> '$.kind' AS kind, value -> '$.paths' AS paths,
    value ->> '$.e' AS event_name, value ->> '$.pk' AS property_key, value ->> '$.pv' AS property_value
  FROM json_each(?)
),
goal_paths AS MATERIALIZED (
  SELECT d.goal_key, p.value AS page FROM defs AS d, json_each(d.paths) AS p WHERE d.kind = 'pageview'
),
matches AS (
  SELECT gp.goal_key, e.session_id, e.name, e.revenue
  FROM day_events AS e JOIN goal_paths AS gp ON gp.page = e.path WHERE e.name = 'pageview'
  UNION ALL
  SELECT d.goal_key, e.session_id, e.name, e.revenue
  FROM day_events AS e JOIN defs AS d
    ON d.kind = 'event' AND ${completesEventGoal}
),
grouped AS (
  SELECT goal_key, session_id, ${EVENT_METRICS} FROM matches GROUP BY goal_key, session_id
)`;
}

/**
 * One statement giving, per goal, what `segment` adds to its day, as {@link segmentSql}'s rows
 * (dimension `event:goal`, value the goal's key as JSON text). Goals travel as ONE bound JSON list,
 * each pageview goal with the segment's `paths` (`segmentPathsSql`) its pattern matches.
 */
export function goalSegmentSql(
  project: { id: string; currency: string; timezone: string },
  segment: DaySegment,
  goals: readonly (RollupGoal & { key: string })[],
  paths: readonly string[],
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const sql = `${segmentHead(project, segment)},
${goalMatchCtes()}
${wrap.sql(
  signedSums(
    segment.day,
    `SELECT v.phase * 2 - 1 AS sign, '${GOAL_DIMENSION}' AS grouping, p.goal_key AS value, ${rollupMetricsSql('v', 'p')}
  FROM grouped AS p JOIN visits AS v ON v.session_id = p.session_id
  GROUP BY v.phase, p.goal_key`,
  ),
)}`;
  return { sql, params: [...headParams(project), goalDefinitions(goals, paths), ...wrap.params] };
}
