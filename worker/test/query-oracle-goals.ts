/**
 * Goals for the query oracle: the rows of D1's `goals` table as the oracle reads them, which goals
 * an event completes (the shared, separately tested `goalMatches`), random goal sets drawn from the
 * pools of test/query-oracle-data.ts, and the plumbing to insert them.
 *
 * The pools hold traps for an engine that matches in SQL: `/b_c` and `/caf%` are literal (LIKE
 * would let `_` and `%` match `/b/c` and `/caf%C3%A9`), `/*` must not cross a `/` (GLOB's `*`
 * does), a property key with a dot (not a JSON path), numbers and booleans compared as their
 * string form, and a float whose text has 17 digits.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { goalMatches } from '../src/stats/goal-matching.ts';
import type { Filter, OracleQuery, RawEvent } from './query-oracle.ts';

/** A `goals` row, as the query engine finds it by name. */
export interface OracleGoal {
  name: string;
  kind: 'pageview' | 'event';
  path: string | null;
  event_name: string | null;
  property_key: string | null;
  property_value: string | null;
}

/** Whether an event completes a goal (docs/STATS.md, "Goals and funnels"). */
export function completes(goal: OracleGoal, event: RawEvent): boolean {
  const props = event.props === null ? null : JSON.parse(event.props);
  const matchable = { name: event.name, path: event.path, props };
  if (goal.kind === 'pageview') return goalMatches({ kind: 'pageview', path: goal.path as string }, matchable);
  return goalMatches(
    {
      kind: 'event',
      eventName: goal.event_name as string,
      propertyKey: goal.property_key,
      propertyValue: goal.property_value,
    },
    matchable,
  );
}

/** The names of the goals an event completes, in the goals' order. */
export function goalsOf(goals: readonly OracleGoal[], event: RawEvent): string[] {
  return goals.filter((goal) => completes(goal, event)).map((goal) => goal.name);
}

/** Page patterns that match pool pages (`/b/*` takes `/b/c`), and traps that match none. */
export const GOAL_PATHS = ['/', '/a', '/b/*', '/**', '/b/**', '/*', '/docs/*', '/b/c/*'] as const;
export const TRAP_PATHS = ['/b', '/b_c', '/caf%'] as const;
/** [key, value] a custom-event goal may require; values are string forms (`1`, `true`). */
export const GOAL_PROPERTIES = [
  ['plan', 'pro'],
  ['plan', 'free'],
  ['n', '1'],
  ['n', '2.5'],
  ['flag', 'true'],
  ['ui.theme', 'dark'],
  ['price', '0.30000000000000004'],
  ['label', '👍 like'],
] as const;
/** Distinct names; they sort differently by UTF-16 code units and by locale. */
export const GOAL_NAMES = ['Signup', 'Visit /b/*', 'pro plan', 'Any page', '👍 goal', 'ｗｏｗ', 'Zed', 'home'] as const;

type Definition = Omit<OracleGoal, 'name'>;
const pageviewGoal: fc.Arbitrary<Definition> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom(...GOAL_PATHS) },
    { weight: 1, arbitrary: fc.constantFrom(...TRAP_PATHS) },
  )
  .map((path) => ({
    kind: 'pageview' as const,
    path,
    event_name: null,
    property_key: null,
    property_value: null,
  }));
const eventGoal: fc.Arbitrary<Definition> = fc
  .tuple(
    // The data's custom events, one that never happens, and a page view as a custom event.
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('signup', 'click') },
      { weight: 1, arbitrary: fc.constant('purchase') },
      { weight: 1, arbitrary: fc.constant('pageview') },
    ),
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom(...GOAL_PROPERTIES) },
    ),
  )
  .map(([eventName, property]) => ({
    kind: 'event' as const,
    path: null,
    event_name: eventName,
    property_key: property?.[0] ?? null,
    property_value: property?.[1] ?? null,
  }));

/** 1–4 goals with distinct names and distinct definitions (the table's two unique indexes). */
export const goalSet: fc.Arbitrary<OracleGoal[]> = fc
  .tuple(
    fc.uniqueArray(fc.oneof(pageviewGoal, eventGoal), {
      minLength: 1,
      maxLength: 4,
      selector: (goal) =>
        JSON.stringify([goal.kind, goal.path, goal.event_name, goal.property_key, goal.property_value]),
    }),
    fc.shuffledSubarray([...GOAL_NAMES], { minLength: 4, maxLength: 4 }),
  )
  .map(([definitions, names]) =>
    definitions.map((definition, index) => ({ name: names[index] as string, ...definition })),
  );

/** Insert a project's goals straight into D1. */
export async function insertGoals(projectId: string, goals: readonly OracleGoal[]): Promise<void> {
  if (!goals.length) return;
  const statement = env.DB.prepare(
    'INSERT INTO goals (id, project_id, name, kind, path, event_name, property_key, property_value, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  await env.DB.batch(
    goals.map((goal, index) =>
      statement.bind(
        `${projectId}-g${index}`,
        projectId,
        goal.name,
        goal.kind,
        goal.path,
        goal.event_name,
        goal.property_key,
        goal.property_value,
        Date.now() + index,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Queries

/**
 * How a query uses goals: `event:goal` as a dimension (at `dimension` among at most one other),
 * goal filters (one, seldom two, which must both hold) by index into the scenario's goals (one
 * past the end: an unknown name), and where `conversion_rate` goes among the metrics (only with
 * a goal dimension or filter).
 */
export interface GoalShape {
  dimension: number | null;
  filter: number[][] | null;
  conversionRate: number | null;
}

const maybe = <T>(arbitrary: fc.Arbitrary<T>, odds: { value: number; none: number }) =>
  fc.oneof({ weight: odds.none, arbitrary: fc.constant(null) }, { weight: odds.value, arbitrary });

const goalIndexes = fc.uniqueArray(fc.nat({ max: 4 }), { minLength: 1, maxLength: 2 });

/** A goal dimension, a goal filter, or both; with `conversion_rate` two times in three. */
export const usedGoalShape: fc.Arbitrary<GoalShape> = fc
  .record({
    dimension: maybe(fc.nat({ max: 1 }), { value: 2, none: 1 }),
    filter: maybe(
      fc.oneof(
        { weight: 4, arbitrary: fc.tuple(goalIndexes) },
        { weight: 1, arbitrary: fc.tuple(goalIndexes, goalIndexes) },
      ),
      { value: 1, none: 1 },
    ),
    conversionRate: maybe(fc.nat(), { value: 2, none: 1 }),
  })
  .map((shape) => (shape.dimension === null && shape.filter === null ? { ...shape, dimension: 0 } : shape));

export const goalShape: fc.Arbitrary<GoalShape> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ dimension: null, filter: null, conversionRate: null }) },
  { weight: 4, arbitrary: usedGoalShape },
);

/** A shape's metrics, dimensions and filters with its goal parts put in, by the scenario's goal names. */
export function withGoals(
  shape: { metrics: OracleQuery['metrics']; dimensions: string[]; filters: Filter[]; goal: GoalShape },
  goalNames: readonly string[],
): { metrics: OracleQuery['metrics']; dimensions: string[]; filters: Filter[] } {
  const { goal } = shape;
  const dimensions = [...shape.dimensions];
  // With two dimensions the goal takes the place of one; with fewer it joins them.
  if (goal.dimension !== null) dimensions.splice(goal.dimension, dimensions.length > 1 ? 1 : 0, 'event:goal');
  // With goals, at most one other filter, so that goal groups are seldom empty.
  const used = goal.dimension !== null || goal.filter !== null;
  const filters = used ? shape.filters.slice(0, 1) : [...shape.filters];
  // Names are exact: a goal's name in capitals is unknown (no pool name is all capitals).
  const unknown = goalNames[0]?.toUpperCase() ?? 'No such goal';
  for (const indexes of goal.filter ?? []) {
    const names = indexes.map((index) => goalNames[index % (goalNames.length + 1)] ?? unknown);
    filters.push(['is', 'event:goal', [...new Set(names)]]);
  }
  const metrics = [...shape.metrics];
  if (goal.conversionRate !== null && used) {
    metrics.splice(goal.conversionRate % (metrics.length + 1), 0, 'conversion_rate');
  }
  return { metrics, dimensions, filters };
}
