/**
 * Reading a filtered view from filtered rollups (`stats/pair-sql.ts`): a filter `is` of one value
 * on a `filtered` dimension beside a breakdown by a panel's first tab (or the hour), or by goals. Closed days
 * come from `pair_rollups`, days with marked hours (the open day among them) raw with the same
 * filter, summed per group as `rollup-read.ts` does for unfiltered views.
 */
import { DIMENSIONS, type Filter } from '@tally/sdk/catalog';
import type { Span } from './budget.ts';
import { addDays, dayBounds, daysBetween, formatDate, type LocalDate } from '../shared/calendar.ts';
import type { Dimension } from './schema.ts';
import { aggregateSql, type RawScope } from '../stats/sql.ts';
import { PAIR_KEY_SQL, pairKind, pairRowsSql, pairSince } from '../stats/pair-sql.ts';
import { dayHead } from '../rollup/day-head.ts';
import {
  type AggregateRow,
  goalGroups,
  mergeRows,
  rawRuns,
  rollupDimensionSql,
  SUMMED,
  valueConditions,
} from './rollup-read.ts';

/** A filtered view that filtered rollups hold (`pairFilter`). */
export interface PairRead {
  /** `[F, f, B]`: the rows' `dimension`, bound to {@link PAIR_KEY_SQL}. */
  key: [string, string | null, string];
  /** The `is` filter on F. */
  filter: Filter;
  /** Filters on B itself, tested on each row's value. */
  keep: readonly Filter[];
}

/**
 * Whether every day of the range rolled up before the pair existed can still be read raw: a day
 * rolled with an older catalog is read raw while its raw events are all there (`markedDays`), but a
 * purged one has no filtered rows to read, and the view must go raw (and say what it cannot know).
 */
export function pairsHeld(
  key: PairRead['key'],
  range: { from: LocalDate; to: LocalDate },
  stale: ReadonlyMap<string, number>,
  complete: (day: string) => boolean,
): boolean {
  const needed = Math.max(pairSince(key[2]), DIMENSIONS[key[0] as keyof typeof DIMENSIONS]?.since ?? 1);
  const [first, last] = [formatDate(range.from), formatDate(range.to)];
  return [...stale].every(([day, version]) => version >= needed || day < first || day > last || complete(day));
}

/**
 * The statements of one filtered aggregation from filtered rollups plus raw runs (days with marked
 * hours, the open day among them), and how to merge their answers; null when too many days are
 * marked for that to pay off.
 */
export function planFromPairRollups(
  d1: D1Database,
  scope: Omit<RawScope, 'start' | 'end'>,
  range: { from: LocalDate; to: LocalDate },
  dimensions: readonly Dimension[],
  pair: PairRead,
  marked: Set<string>,
): { statements: D1PreparedStatement[]; merge: (answers: AggregateRow[][]) => AggregateRow[]; spans: Span[] } | null {
  const runs = rawRuns(range, marked);
  if (!runs) return null;
  const spans = runs.map(
    ([first, last]): Span => [dayBounds(first, scope.timeZone).start, dayBounds(last, scope.timeZone).end],
  );
  const groups = [0, 1, 2]
    .map((i) => {
      const dimension = dimensions[i];
      return dimension ? `${rollupDimensionSql(dimension)} AS g${i}` : `NULL AS g${i}`;
    })
    .join(', ');
  const kept = valueConditions(pair.keep, 'r');
  // Marked days (today among them) from their raw events, by the SQL that writes their rows: it
  // reads each event once, where the general raw query reads it many times (window functions,
  // sorts). A long run of them goes the general way, a statement per run.
  const days = daysOf(runs);
  const statements =
    days.length <= MAX_DAYS_FROM_EVENTS
      ? days.map((day) => {
          const head = { sql: dayHead({ timezone: scope.timeZone }, day), params: [scope.currency, scope.projectId] };
          const wrap = {
            sql: (select: string) =>
              `SELECT ${groups}, ${SUMS} FROM (${select}) AS r WHERE r.dimension = ${PAIR_KEY_SQL} ${kept.sql} GROUP BY g0, g1, g2`,
            params: [...pair.key, ...kept.params],
          };
          const [filter, , breakdown] = pair.key as [Dimension, string | null, Dimension];
          const { sql, params } = pairRowsSql(
            { ...head, day: formatDate(day) },
            pairKind(filter, breakdown),
            [[filter, breakdown]] as const,
            wrap,
          );
          return d1.prepare(sql).bind(...params);
        })
      : spans.map(([start, end]) => {
          const { sql, params } = aggregateSql({ ...scope, start, end }, dimensions, [pair.filter, ...pair.keep]);
          return d1.prepare(sql).bind(...params);
        });
  statements.push(
    d1
      .prepare(
        `SELECT ${groups}, ${SUMS} FROM pair_rollups AS r
         WHERE r.project_id = ? AND r.day IN (SELECT value FROM json_each(?)) AND r.dimension = ${PAIR_KEY_SQL} ${kept.sql}
         GROUP BY g0, g1, g2`,
      )
      .bind(scope.projectId, unmarkedDays(range, marked), ...pair.key, ...kept.params),
  );
  return { statements, merge: mergeRows, spans };
}

const SUMS = SUMMED.map((column) => `SUM(r.${column}) AS ${column}`).join(', ');
/** Marked days read from their events one statement each, at most (a late event can mark many). */
export const MAX_DAYS_FROM_EVENTS = 7;

/** The days of these runs of days. */
export function daysOf(runs: readonly [LocalDate, LocalDate][]): LocalDate[] {
  return runs.flatMap(([first, last]) =>
    Array.from({ length: daysBetween(first, last) + 1 }, (_, offset) => addDays(first, offset)),
  );
}

/** A day's head for reading its filtered rows from its events (`dayHead`, with `props` for goals and steps). */
export function dayFromEvents(
  project: { id: string; currency: string; timezone: string },
  day: LocalDate,
): { sql: string; params: unknown[]; day: string } {
  return { sql: dayHead(project, day, null, true), params: [project.currency, project.id], day: formatDate(day) };
}

/**
 * The range's days but the marked ones, as the JSON list the reads bind: one seek per day, since
 * the key leads with the day (the days are listed rather than ranged).
 */
export function unmarkedDays(range: { from: LocalDate; to: LocalDate }, marked: Set<string>): string {
  const days: string[] = [];
  for (let offset = 0; offset <= daysBetween(range.from, range.to); offset++) {
    const day = formatDate(addDays(range.from, offset));
    if (!marked.has(day)) days.push(day);
  }
  return JSON.stringify(days);
}

/**
 * The statements of a goal breakdown (by day, week or month too) filtered to one value of a
 * `filtered` dimension: each goal's filtered rows (`pairGoalRowsSql`) of the unmarked days whose
 * key is the goal's current one, labelled with its current name, plus `raw` for each run of marked
 * days (the open day among them), as `planGoalsFromRollups` does unfiltered; null when too many
 * days are marked.
 */
export function planGoalsFromPairRollups(
  d1: D1Database,
  projectId: string,
  range: { from: LocalDate; to: LocalDate },
  dimensions: readonly Dimension[],
  pair: PairRead,
  goals: readonly { key: string; name: string }[],
  marked: Set<string>,
  raw: (span: [LocalDate, LocalDate]) => D1PreparedStatement[],
): { statements: D1PreparedStatement[]; merge: (answers: AggregateRow[][]) => AggregateRow[] } | null {
  const runs = rawRuns(range, marked);
  if (!runs) return null;
  // NOTE: marked days raw, not by `pairGoalRowsSql` over `dayHead` as breakdowns and funnels are:
  // measured on the bench's open day, that read 490k rows where the raw goal query reads 130k (its
  // goal matching joins every event to every goal path).
  const statements = runs.flatMap(raw);
  const { groups, keyed } = goalGroups(dimensions, goals);
  const join = `JOIN (SELECT value ->> '$[0]' AS value, value ->> '$[1]' AS name FROM json_each(?)) AS g ON g.value = r.value`;
  statements.push(
    d1
      .prepare(
        `SELECT ${groups.join(', ')}, ${SUMS} FROM pair_rollups AS r ${join}
         WHERE r.project_id = ? AND r.day IN (SELECT value FROM json_each(?)) AND r.dimension = ${PAIR_KEY_SQL}
         GROUP BY g0, g1, g2`,
      )
      .bind(JSON.stringify(keyed), projectId, unmarkedDays(range, marked), ...pair.key),
  );
  return { statements, merge: mergeRows };
}
