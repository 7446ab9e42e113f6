/** The custom property keys a project's recent events carry, for the dashboard's breakdown picker. */

const DAY_MS = 86_400_000;
/** How far back keys are looked for: a month of events, read through the (project_id, ts) index. */
const WINDOW_DAYS = 30;
const MAX_KEYS = 100;
/**
 * The newest events looked at, at most: the read is bounded whatever a month holds (a key seen only
 * in older events of a busy month is missing from the picker, and can still be typed).
 */
const MAX_SCANNED = 100_000;

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
      `SELECT DISTINCT p.key AS key
       FROM (SELECT name, props FROM events WHERE project_id = ? AND ts >= ? ORDER BY ts DESC LIMIT ${MAX_SCANNED}) e,
         json_each(e.props) p
       WHERE e.props IS NOT NULL AND (? IS NULL OR e.name = ?)
       ORDER BY 1 LIMIT ${MAX_KEYS}`,
    )
    .bind(projectId, now - WINDOW_DAYS * DAY_MS, eventName, eventName)
    .all<{ key: string }>();
  return results.map((row) => row.key);
}
