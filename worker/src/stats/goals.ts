/**
 * Goals in queries: each goal of the project as a SQL condition on events. Pageview goals are
 * matched in the Worker against the distinct pageview paths of the spans read raw (wildcards that
 * stop at `/` have no SQL equivalent) and become a list; event goals are plain SQL.
 */
import type { goals } from '../db/index.ts';
import { pathMatches } from './goal-matching.ts';
import { type Condition, PROPERTY_TEXT } from './sql.ts';

/** A goal as queries use it. */
export type Goal = Pick<
  typeof goals.$inferSelect,
  'id' | 'name' | 'kind' | 'path' | 'eventName' | 'propertyKey' | 'propertyValue' | 'historyFrom'
>;

/** The statement that reads a project's goals, by name (so that it can join a batch). */
export function goalsStatement(d1: D1Database, projectId: string): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT id, name, kind, path, event_name AS eventName, property_key AS propertyKey, property_value AS propertyValue,
         history_from AS historyFrom
       FROM goals WHERE project_id = ? ORDER BY name`,
    )
    .bind(projectId);
}

/** Spans past which {@link pageviewPaths} reads their hull instead (bound parameters: 2 a span). */
const MAX_SPANS = 40;

/**
 * The distinct pageview paths of a project in some spans of time, each [start, end): the spans a
 * query reads raw (closed days read from rollups need none).
 */
export async function pageviewPaths(
  d1: D1Database,
  projectId: string,
  spans: readonly (readonly [number, number])[],
): Promise<string[]> {
  if (!spans.length) return [];
  const list: (readonly [number, number])[] =
    spans.length > MAX_SPANS
      ? [[Math.min(...spans.map(([start]) => start)), Math.max(...spans.map(([, end]) => end))]]
      : [...spans];
  const { results } = await d1
    .prepare(
      `SELECT DISTINCT path FROM events WHERE project_id = ? AND name = 'pageview'
       AND (${list.map(() => '(ts >= ? AND ts < ?)').join(' OR ')})`,
    )
    .bind(projectId, ...list.flat())
    .all<{ path: string }>();
  return results.map((row) => row.path);
}

/** The paths among `paths` that a pageview goal matches: in the Worker, as its `*` stops at `/` (GLOB's does not). */
export function goalPaths(goal: Pick<Goal, 'path'>, paths: readonly string[]): string[] {
  return paths.filter((path) => pathMatches(goal.path ?? '', path));
}

/**
 * SQL: an event (columns `name`, `props`) completes a custom-event goal — it has the goal's name
 * and, if the goal names a property, that property with the goal's value (as text). The goal's
 * fields are SQL expressions: bound parameters in queries ({@link goalCondition}), columns of the
 * goal list in a day's goal rows (`rollup/goal-rollups.ts`), where the key is `nullable`: NULL
 * there means the goal names no property. `property` is null for a goal known to name none.
 */
export function eventGoalSql(
  eventName: string,
  property: { key: string; value: string; nullable?: boolean } | null,
): string {
  if (property === null) return `(name = ${eventName})`;
  // json_each reads the key as data, so no key needs quoting inside a JSON path.
  const { key, value, nullable } = property;
  const has = `EXISTS (SELECT 1 FROM json_each(props) WHERE key = ${key} AND ${PROPERTY_TEXT} = ${value})`;
  return `(name = ${eventName} AND ${nullable ? `(${key} IS NULL OR ${has})` : has})`;
}

/** The condition an event meets when it completes `goal`. */
export function goalCondition(
  goal: Pick<Goal, 'kind' | 'path' | 'eventName' | 'propertyKey' | 'propertyValue'>,
  paths: readonly string[],
): Condition {
  if (goal.kind === 'pageview') {
    return {
      sql: `(name = 'pageview' AND path IN (SELECT value FROM json_each(?)))`,
      params: [JSON.stringify(goalPaths(goal, paths))],
    };
  }
  if (goal.propertyKey === null) return { sql: eventGoalSql('?', null), params: [goal.eventName] };
  return {
    sql: eventGoalSql('?', { key: '?', value: '?' }),
    params: [goal.eventName, goal.propertyKey, goal.propertyValue],
  };
}

/** Events that complete any of these goals (nothing, for none). */
export function anyGoalCondition(list: readonly Goal[], paths: readonly string[]): Condition {
  if (!list.length) return { sql: '0', params: [] };
  const conditions = list.map((goal) => goalCondition(goal, paths));
  return { sql: `(${conditions.map((c) => c.sql).join(' OR ')})`, params: conditions.flatMap((c) => c.params) };
}
