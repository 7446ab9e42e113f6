/**
 * Whether an event completes a goal or a funnel step. Pure functions with no database and no zod,
 * so the query engine and its brute-force test oracle can share them.
 */
import { PAGEVIEW, type PropValue } from '@tally/sdk/protocol';

/** What a goal or a funnel step matches: page views of a path pattern, or a custom event. */
export type GoalStep =
  | { kind: 'pageview'; path: string }
  | {
      kind: 'event';
      eventName: string;
      /** When set, the event must carry this property with `propertyValue` as its string form. */
      propertyKey?: string | null | undefined;
      propertyValue?: string | null | undefined;
    };

/** The parts of a stored event a goal looks at. */
export interface MatchableEvent {
  name: string;
  path: string;
  props: Record<string, PropValue> | null;
}

/**
 * NOTE: goals come from every project this isolate has served, so the cache is bounded; dropping
 * it all when full is cheap because compiling is cheap — the cache only saves per-event work.
 */
const CACHE_LIMIT = 1_000;
const compiled = new Map<string, RegExp>();

/**
 * A path pattern as an anchored RegExp: `**` matches anything (including `/`), `*` any run of
 * characters except `/`, and every other character itself.
 *
 * @example
 * ```ts
 * pathPatternRegExp('/blog/*').source; // '^\\/blog\\/[^/]*$' (give or take escaping)
 * ```
 */
export function pathPatternRegExp(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (regexp) return regexp;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char !== '*') {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (pattern[i + 1] === '*') {
      // `**`, and any longer run of stars, matches across segments.
      while (pattern[i + 1] === '*') i++;
      source += '.*';
    } else {
      source += '[^/]*';
    }
  }
  // `s`: a path never holds a line break, but if one did, `**` must still match it.
  regexp = new RegExp(`^${source}$`, 's');
  if (compiled.size >= CACHE_LIMIT) compiled.clear();
  compiled.set(pattern, regexp);
  return regexp;
}

/**
 * Whether a page path matches a goal's path pattern (Plausible's wildcards): `*` within one path
 * segment, `**` across segments, anchored at both ends.
 *
 * @example
 * ```ts
 * pathMatches('/blog/*', '/blog/hello'); // true
 * pathMatches('/blog/*', '/blog/2024/hello'); // false
 * pathMatches('/blog/**', '/blog/2024/hello'); // true
 * ```
 */
export function pathMatches(pattern: string, path: string): boolean {
  return pathPatternRegExp(pattern).test(path);
}

/**
 * Whether an event completes a goal (or reaches a funnel step). A pageview goal wants a page view
 * whose path matches; an event goal wants its event name and, when it names a property, that
 * property's value as a string (`42`, `true`) equal to the goal's.
 *
 * @example
 * ```ts
 * goalMatches({ kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
 *   { name: 'signup', path: '/join', props: { plan: 'pro' } }); // true
 * ```
 */
export function goalMatches(goal: GoalStep, event: MatchableEvent): boolean {
  if (goal.kind === 'pageview') return event.name === PAGEVIEW && pathMatches(goal.path, event.path);
  if (event.name !== goal.eventName) return false;
  if (goal.propertyKey === undefined || goal.propertyKey === null) return true;
  // Own properties only: `constructor` or `toString` must not be found on the prototype.
  const props = event.props;
  if (props === null || !Object.hasOwn(props, goal.propertyKey)) return false;
  return String(props[goal.propertyKey]) === goal.propertyValue;
}

/** A step's columns: a kind's unused ones are NULL. */
export function stepColumns(step: GoalStep) {
  return step.kind === 'pageview'
    ? { kind: step.kind, path: step.path, eventName: null, propertyKey: null, propertyValue: null }
    : {
        kind: step.kind,
        path: null,
        eventName: step.eventName,
        propertyKey: step.propertyKey ?? null,
        propertyValue: step.propertyKey == null ? null : (step.propertyValue ?? ''),
      };
}

/** Characters of a goal's name. */
export const GOAL_NAME_CHARS = 120;

/** The name a goal gets when none is given, cut to the limit. */
export function defaultGoalName(step: GoalStep): string {
  const name =
    step.kind === 'pageview'
      ? `Visit ${step.path}`
      : step.propertyKey == null
        ? step.eventName
        : `${step.eventName} (${step.propertyKey}: ${step.propertyValue ?? ''})`;
  return name.slice(0, GOAL_NAME_CHARS);
}
