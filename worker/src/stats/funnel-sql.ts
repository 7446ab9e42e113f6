/**
 * The SQL of a funnel (docs/STATS.md, "Goals and funnels"): per visit, each step takes the earliest
 * matching event after the previous step's (time order, ties by arrival) — the greedy choice, which
 * reaches the furthest step any choice could. One place for the three reads of it: raw events over
 * a range (`query/funnel.ts`), a closed day's rollup rows (`rollup/rollups.ts`), and what a part of
 * the open day adds (`rollup/hours.ts`, and `query/funnel.ts` for the part not rolled yet).
 *
 * A funnel is counted in visits, and visits end at local midnight, so a range's count at each step
 * is the sum of its days' — and, within a day, of what its segments add (`segment-sql.ts`): rollup
 * rows hold, per day (or segment) and step, the visits that reached it, in `visits`.
 */
import type { GoalStep } from './goal-matching.ts';
import { stepColumns } from './goal-matching.ts';
import { goalCondition } from './goals.ts';
import { ROLLUP_COLUMNS } from './metric-sql.ts';
import { type DaySegment, headParams, type SegmentStatement, segmentHead } from './segment-sql.ts';
import { type Condition, visitOrderSql } from './sql.ts';

/** The `dimension` of funnel rollup rows. */
export const FUNNEL_DIMENSION = 'funnel:step';

/** A funnel as its rollup needs it: its id and steps. */
export interface RollupFunnel {
  id: string;
  steps: readonly GoalStep[];
}

/**
 * The key of a funnel's rollup rows: `id:digest`, the digest (64 bits of SHA-256) over its steps'
 * matching, so rows made for an older definition never answer for the new one.
 */
export async function funnelRollupKey(funnel: RollupFunnel): Promise<string> {
  const definition = JSON.stringify(funnel.steps.map(stepColumns));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(definition)));
  const hex = [...digest.slice(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${funnel.id}:${hex}`;
}

/** The `value` (JSON text) of a funnel's rollup row for step `index` (from 0). */
export const funnelStepValue = (key: string, index: number): string => JSON.stringify(`${key}:${index}`);

/** Each step's condition on an event, a pageview step matched against `paths` (its `*` stops at `/`). */
export function stepConditions(steps: readonly GoalStep[], paths: readonly string[]): Condition[] {
  return steps.map((step) => goalCondition(stepColumns(step), paths));
}

/** Whether matching these steps needs the pageview paths of what is read. */
export const needsPaths = (steps: readonly GoalStep[]): boolean => steps.some((step) => step.kind === 'pageview');

/**
 * CTEs `s0`…`sN` over the rows of `source` (session_id, ts, seq, name, path, props; and `phase` when
 * `phased`): one row per visit that reached the step, with the position it did so at.
 */
export function stepCtes(source: string, conditions: readonly Condition[], phased: boolean): Condition {
  const position = visitOrderSql(`${source}.`);
  const phase = phased ? `, MIN(${source}.phase) AS phase` : '';
  const sql = conditions.map((condition, index) =>
    index === 0
      ? `s0 AS (SELECT ${source}.session_id${phase}, MIN(${position}) AS position FROM ${source} WHERE ${condition.sql} GROUP BY ${source}.session_id)`
      : `s${index} AS (SELECT ${source}.session_id${phase}, MIN(${position}) AS position FROM ${source}
          JOIN s${index - 1} AS previous ON ${source}.session_id = previous.session_id AND ${position} > previous.position
          WHERE ${condition.sql} GROUP BY ${source}.session_id)`,
  );
  return { sql: sql.join(',\n'), params: conditions.flatMap((condition) => condition.params) };
}

/** Columns `n0`…`nN`: the visits at each step (phased: phase-1 visits minus phase-0 ones). */
export function stepCounts(steps: number, phased: boolean): string {
  const count = phased ? 'COALESCE(SUM(phase * 2 - 1), 0)' : 'COUNT(*)';
  return Array.from({ length: steps }, (_, index) => `(SELECT ${count} FROM s${index}) AS n${index}`).join(', ');
}

/** The CTE `counts`: the funnel's key (bound) and its step counts. */
const countsCte = (steps: number, phased: boolean) =>
  `counts AS (SELECT ? AS funnel_key, ${stepCounts(steps, phased)})`;

/**
 * Rows shaped like a rollup row (`day`, `dimension`, `value`, {@link ROLLUP_COLUMNS}), one per step
 * whose count is not zero, from the one row of `counts`.
 */
function stepRows(day: string, steps: number): string {
  if (!/^\d{4,5}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a day: ${day}`);
  const indexes = Array.from({ length: steps }, (_, index) => index);
  const count = `CASE j.value ${indexes.map((index) => `WHEN ${index} THEN n${index}`).join(' ')} END`;
  const columns = ROLLUP_COLUMNS.map((column) => (column === 'visits' ? 'n AS visits' : `0 AS ${column}`));
  return `SELECT '${day}' AS day, '${FUNNEL_DIMENSION}' AS dimension, value, ${columns.join(', ')} FROM (
  SELECT json_quote(counts.funnel_key || ':' || j.value) AS value, ${count} AS n FROM counts CROSS JOIN json_each('${JSON.stringify(indexes)}') AS j
) WHERE n != 0`;
}

/**
 * The statement that writes a closed day's rows of one funnel into `rollups` (after the day's old
 * rows are deleted), reading the day's events once; `dayPaths` are its pageview paths.
 */
export function funnelDaySql(
  project: { id: string },
  day: { label: string; start: number; end: number },
  funnel: RollupFunnel & { key: string },
  dayPaths: readonly string[],
): SegmentStatement {
  const { start, end } = day;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new Error('day bounds must be integers');
  const steps = stepCtes('day_events', stepConditions(funnel.steps, dayPaths), false);
  const columns = ['project_id', 'day', 'dimension', 'value', ...ROLLUP_COLUMNS].join(', ');
  return {
    sql: `WITH day_events AS MATERIALIZED (
  SELECT session_id, ts, seq, name, path, props FROM events WHERE project_id = ? AND ts >= ${start} AND ts < ${end}
),
${steps.sql},
${countsCte(funnel.steps.length, false)}
INSERT INTO rollups (${columns})
SELECT ?, * FROM (${stepRows(day.label, funnel.steps.length)})`,
    params: [project.id, ...steps.params, funnel.key, project.id],
  };
}

/**
 * One statement giving what `segment` adds to each step of a funnel (rows shaped like a rollup
 * row), from its visitors' events of the day (`segmentHead`); `paths` are those visitors' pageview
 * paths (`segmentPathsSql`). `wrap` turns the SELECT into the statement run; its `?` come last.
 */
export function funnelSegmentSql(
  project: { id: string; currency: string; timezone: string },
  segment: DaySegment,
  funnel: RollupFunnel & { key: string },
  paths: readonly string[],
  wrap: { sql: (select: string) => string; params: unknown[] },
): SegmentStatement {
  const steps = stepCtes('day_events', stepConditions(funnel.steps, paths), true);
  return {
    sql: `${segmentHead(project, segment)},
${steps.sql},
${countsCte(funnel.steps.length, true)}
${wrap.sql(stepRows(segment.day, funnel.steps.length))}`,
    params: [...headParams(project), ...steps.params, funnel.key, ...wrap.params],
  };
}
