/** The custom property keys a project's recent events carry, for the dashboard's breakdown picker. */

const DAY_MS = 86_400_000;
/** How far back keys are looked for: a month of events, read through the (project_id, ts) index. */
const WINDOW_DAYS = 30;
const MAX_KEYS = 100;

/**
 * Distinct property keys of the last 30 days, by name, at most 100; of one event name if given.
 *
 * @example
 * ```ts
 * await propertyKeys(env.DB, 'demo', 'signup', Date.now()); // ['plan', 'seats']
 * ```
 */
export async function propertyKeys(
  d1: D1Database,
  projectId: string,
  eventName: string | null,
  now: number,
): Promise<string[]> {
  const { results } = await d1
    .prepare(
      `SELECT DISTINCT p.key AS key FROM events e, json_each(e.props) p
       WHERE e.project_id = ? AND e.ts >= ? AND e.props IS NOT NULL AND (? IS NULL OR e.name = ?)
       ORDER BY 1 LIMIT ${MAX_KEYS}`,
    )
    .bind(projectId, now - WINDOW_DAYS * DAY_MS, eventName, eventName)
    .all<{ key: string }>();
  return results.map((row) => row.key);
}
