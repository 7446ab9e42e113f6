/**
 * The keys of goal rollup rows: a goal's id and a digest of what it matches. The rollup writes
 * them, the stats API reads them, and creating or editing a goal compares them: all three take
 * them from here.
 */

/** The `dimension` of goal rollup rows. */
export const GOAL_DIMENSION = 'event:goal';

/** What a goal matches, with its id: all a goal rollup depends on. */
export interface RollupGoal {
  id: string;
  kind: 'pageview' | 'event';
  path: string | null;
  eventName: string | null;
  propertyKey: string | null;
  propertyValue: string | null;
}

/**
 * The key of a goal's rollup rows: `id:digest`, the digest (64 bits of SHA-256) over the goal's
 * matching. Two definitions of one goal get different keys; a new name keeps it.
 *
 * @example
 * ```ts
 * await goalRollupKey({ id: 'g1', kind: 'event', path: null, eventName: 'signup', propertyKey: null, propertyValue: null });
 * // 'g1:3f0c…' (16 hex digits)
 * ```
 */
export async function goalRollupKey(goal: RollupGoal): Promise<string> {
  const definition = JSON.stringify([goal.kind, goal.path, goal.eventName, goal.propertyKey, goal.propertyValue]);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(definition)));
  const hex = [...digest.slice(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${goal.id}:${hex}`;
}

/** The `value` a goal rollup row of this key holds (JSON text, like every rollup value). */
export const goalRollupValue = (key: string): string => JSON.stringify(key);
