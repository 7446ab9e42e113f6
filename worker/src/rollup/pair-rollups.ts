/**
 * Writing filtered rollups (`stats/pair-sql.ts`): a closed day's `pair_rollups` (its goals' and
 * funnels' among them), in the batch that writes the day's other rows (`rollups.ts`), so the two
 * never disagree about which events they count — whether the day is rolled from raw events or
 * compacted from its hours.
 */
import { formatDate, type LocalDate } from '../shared/calendar.ts';
import { ROLLUP_COLUMNS } from '../stats/metric-sql.ts';
import type { RollupGoal } from '../stats/goal-keys.ts';
import { goalDefinitions } from '../stats/goal-segment-sql.ts';
import { PAIR_STATEMENTS, pairFunnelRowsSql, pairGoalRowsSql, pairRowsSql } from '../stats/pair-sql.ts';
import type { RollupFunnel } from '../stats/funnel-sql.ts';
import { dayHead } from './day-head.ts';

/**
 * Events a day's pair statements read at most each: past it the day's visitors are split into
 * buckets (up to {@link MAX_BUCKETS}), one statement each, so that each stays well within D1's 30 s.
 */
const EVENTS_PER_BUCKET = 250_000;
const MAX_BUCKETS = 16;
/** Past this many events a day takes the most buckets: its count need go no further. */
export const PAIR_BUCKET_EVENTS_MAX = (MAX_BUCKETS / 2) * EVENTS_PER_BUCKET + 1;

/** How many visitor buckets a day of `events` events is rolled in: a power of two. */
export function pairBuckets(events: number): number {
  let buckets = 1;
  while (buckets < MAX_BUCKETS && events > buckets * EVENTS_PER_BUCKET) buckets *= 2;
  return buckets;
}

const COLUMNS = ROLLUP_COLUMNS.join(', ');
// A bucket's rows add to the rows of the buckets before it: their visitors are disjoint.
const ADD = ROLLUP_COLUMNS.map((column) => `${column} = ${column} + excluded.${column}`).join(', ');

/**
 * The statements that replace a closed day's filtered rows, its visitors in `buckets` buckets: the
 * breakdowns' and, with goals and funnels, each goal's and each funnel step's (matched against the
 * day's pageview paths, `dayPaths`).
 */
export function pairDayStatements(
  d1: D1Database,
  project: { id: string; timezone: string; currency: string },
  day: LocalDate,
  buckets = 1,
  goals: {
    list: readonly (RollupGoal & { key: string })[];
    funnels?: readonly (RollupFunnel & { key: string })[];
    dayPaths: readonly string[];
  } = { list: [], dayPaths: [] },
): D1PreparedStatement[] {
  const label = formatDate(day);
  const insert = {
    // `WHERE true` lets SQLite parse the upsert after a SELECT (its documented ambiguity with ON).
    sql: (select: string) =>
      `INSERT INTO pair_rollups (project_id, day, dimension, value, ${COLUMNS})
SELECT ?, * FROM (${select}) WHERE true
ON CONFLICT (project_id, day, dimension, value) DO UPDATE SET ${ADD}`,
    params: [project.id],
  };
  const statements = [d1.prepare('DELETE FROM pair_rollups WHERE project_id = ? AND day = ?').bind(project.id, label)];
  const definitions = goals.list.length ? goalDefinitions(goals.list, goals.dayPaths) : null;
  for (let bucket = 0; bucket < buckets; bucket++) {
    const part = buckets > 1 ? { of: buckets, is: bucket } : null;
    const head = { sql: dayHead(project, day, part), params: [project.currency, project.id], day: label };
    for (const { kind, pairs } of PAIR_STATEMENTS) {
      const { sql, params } = pairRowsSql(head, kind, pairs, insert);
      statements.push(d1.prepare(sql).bind(...params));
    }
    // Property goals and steps match on `props`, which the other statements need not read.
    const withProps = { ...head, sql: dayHead(project, day, part, true) };
    if (definitions) {
      const { sql, params } = pairGoalRowsSql(withProps, definitions, insert);
      statements.push(d1.prepare(sql).bind(...params));
    }
    for (const funnel of goals.funnels ?? []) {
      const { sql, params } = pairFunnelRowsSql(withProps, funnel, goals.dayPaths, insert);
      statements.push(d1.prepare(sql).bind(...params));
    }
  }
  return statements;
}
