/**
 * A brute-force oracle for `POST /api/v1/funnel` (docs/STATS.md, "Goals and funnels"): plain
 * TypeScript over the raw event rows, written from the page without looking at the engine. Also
 * random funnels drawn from the pools of test/query-oracle-data.ts and the plumbing to insert one.
 *
 * Readings of docs/STATS.md where it leaves room (listed in the report):
 *
 * 1. A visit is a session id with at least one event in the date range; only those events count,
 *    walked in time order (by `ts`, ties by arrival, `seq`). Its entry and exit page (for filters)
 *    are the query oracle's (`visitOf`, reading 1 there): the first event in the range and the
 *    last pageview's path, `null` without one.
 * 2. The walk is greedy: each event, in order, completes the next step if it matches it, and then
 *    no other step. Greedy is as good as any choice of events here (a subsequence match), so
 *    "reaches step n" does not depend on which matching event is taken.
 * 3. A step is reached only through the steps before it: `visits` never grows from step to step,
 *    and `drop_off` is never negative.
 * 4. Step 1's `conversion_rate` is 100 when it has visits (visits ÷ itself), else 0; rounding is
 *    `Math.round(x × 100) / 100` as for goals.
 * 5. Filters on visit dimensions (`entry_page`, `exit_page`, the entry columns) keep whole visits;
 *    anything else is refused (400), which the oracle models by throwing.
 */
import { env } from 'cloudflare:workers';
import { VISIT_DIMENSIONS } from '../src/query/schema.ts';
import fc from 'fast-check';
import { type GoalStep, goalMatches } from '../src/stats/goal-matching.ts';
import { defaultGoalName } from '../src/stats/goal-matching.ts';
import type { DateRangeSpec } from '../src/query/date-range.ts';
import { resolveDateRange } from '../src/query/date-range.ts';
import { dimensionValue, type Filter, inVisitOrder, keeps, type RawEvent, visitOf } from './query-oracle.ts';
import { GOAL_PATHS, GOAL_PROPERTIES, TRAP_PATHS } from './query-oracle-goals.ts';

/** The dimensions a funnel filter may use: those whose value is the visit's. */
export const FUNNEL_FILTER_DIMENSIONS = VISIT_DIMENSIONS;

export interface FunnelRequest {
  date_range: DateRangeSpec;
  filters?: Filter[];
}
export interface FunnelStepResult {
  name: string;
  visits: number;
  conversion_rate: number;
  drop_off: number;
}
export interface FunnelResponse {
  steps: FunnelStepResult[];
}

/** Whether an event completes a funnel step (the shared, separately tested `goalMatches`). */
export function stepMatches(step: GoalStep, event: RawEvent): boolean {
  const props = event.props === null ? null : JSON.parse(event.props);
  return goalMatches(step, { name: event.name, path: event.path, props });
}

/** How many steps a visit's events (in the range, in time order) reach, walking greedily (reading 2). */
export function stepsReached(steps: readonly GoalStep[], events: readonly RawEvent[]): number {
  let reached = 0;
  for (const event of [...events].sort(inVisitOrder)) {
    if (reached < steps.length && stepMatches(steps[reached] as GoalStep, event)) reached += 1;
  }
  return reached;
}

const rounded = (x: number) => Math.round(x * 100) / 100;

/**
 * Answer a funnel request over raw events exactly as docs/STATS.md defines it.
 *
 * @example
 * ```ts
 * runFunnelOracle(events, [{ kind: 'pageview', path: '/a' }, { kind: 'event', eventName: 'signup' }],
 *   { date_range: ['2026-03-10', '2026-03-10'] }, 'UTC');
 * ```
 */
export function runFunnelOracle(
  all: readonly RawEvent[],
  steps: readonly GoalStep[],
  request: FunnelRequest,
  timezone: string,
  now = Date.now(),
): FunnelResponse {
  const range = resolveDateRange(request.date_range, timezone, now, { year: 2026, month: 1, day: 1 });
  const filters = request.filters ?? [];
  for (const [, dimension] of filters) {
    if (!(FUNNEL_FILTER_DIMENSIONS as readonly string[]).includes(dimension)) {
      throw new Error(`oracle: a funnel filter on ${dimension} is refused`);
    }
  }
  const bySession = new Map<string, RawEvent[]>();
  for (const event of all) {
    if (event.ts < range.start || event.ts >= range.end) continue;
    bySession.set(event.session_id, [...(bySession.get(event.session_id) ?? []), event]);
  }
  const counts = steps.map(() => 0);
  for (const events of bySession.values()) {
    const visit = visitOf(events);
    const kept = filters.every(([operator, dimension, values]) =>
      keeps(operator, values, dimensionValue(visit.entry, visit, dimension)),
    );
    if (!kept) continue;
    const reached = stepsReached(steps, visit.events);
    for (let n = 0; n < reached; n++) counts[n] = (counts[n] as number) + 1;
  }
  const first = counts[0] as number;
  return {
    steps: steps.map((step, n) => ({
      name: defaultGoalName(step),
      visits: counts[n] as number,
      conversion_rate: first === 0 ? 0 : rounded(((counts[n] as number) / first) * 100),
      drop_off: n === 0 ? 0 : (counts[n - 1] as number) - (counts[n] as number),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Random funnels

/** Page steps: mostly patterns that match pool pages, some plain pool pages, some traps. */
const pageviewStep: fc.Arbitrary<GoalStep> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...GOAL_PATHS) },
    { weight: 3, arbitrary: fc.constantFrom('/', '/a', '/b/c', '/b/c/d') },
    { weight: 1, arbitrary: fc.constantFrom(...TRAP_PATHS) },
  )
  .map((path) => ({ kind: 'pageview' as const, path }));
const eventStep: fc.Arbitrary<GoalStep> = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('signup', 'click') },
      { weight: 1, arbitrary: fc.constant('purchase') },
      { weight: 1, arbitrary: fc.constant('pageview') },
    ),
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom(...GOAL_PROPERTIES) },
    ),
  )
  .map(
    ([eventName, property]): GoalStep =>
      property === null
        ? { kind: 'event', eventName }
        : { kind: 'event', eventName, propertyKey: property[0], propertyValue: property[1] },
  );
const step = fc.oneof({ weight: 2, arbitrary: pageviewStep }, { weight: 1, arbitrary: eventStep });

/** 2–4 steps; now and then a step repeats the one before (one event must not complete both). */
export const funnelSteps: fc.Arbitrary<GoalStep[]> = fc
  .tuple(fc.array(step, { minLength: 2, maxLength: 4 }), fc.nat({ max: 4 }))
  .map(([steps, repeat]) => {
    if (repeat === 0 || repeat >= steps.length) return steps;
    return steps.map((one, index) => (index === repeat ? (steps[index - 1] as GoalStep) : one));
  });

/** Insert a funnel straight into D1, its steps stored as the funnels module stores them. */
export async function insertFunnel(projectId: string, steps: readonly GoalStep[], name = 'Funnel'): Promise<string> {
  const id = `f-${crypto.randomUUID()}`;
  const stored = steps.map((one) =>
    one.kind === 'pageview'
      ? { kind: one.kind, path: one.path }
      : {
          kind: one.kind,
          eventName: one.eventName,
          ...(one.propertyKey == null ? {} : { propertyKey: one.propertyKey, propertyValue: one.propertyValue }),
        },
  );
  await env.DB.prepare('INSERT INTO funnels (id, project_id, name, steps, created_at) VALUES (?, ?, ?, ?, ?)')
    .bind(id, projectId, name, JSON.stringify(stored), Date.now())
    .run();
  return id;
}
