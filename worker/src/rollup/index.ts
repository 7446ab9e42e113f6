/**
 * Cron work. Each run is bounded so that it fits one invocation even after a long outage.
 * Today: the daily salt rotation for every project (a backstop to each ProjectDO's own midnight
 * alarm). Rollups and the retention purge arrive with the stats issue.
 */
import type { ProjectDO } from '../live/index.ts';

const DAY_MS = 86_400_000;
/** The first run of each UTC day rotates; the cron runs every 5 minutes. */
const ROTATION_WINDOW_MS = 5 * 60_000;
/** Projects touched per run. */
const MAX_PROJECTS = 1_000;

/** Run the scheduled work for the cron tick at `scheduledTime`. */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  if (scheduledTime % DAY_MS < ROTATION_WINDOW_MS) await rotateAllSalts(env, scheduledTime);
}

/** Ask every project's DO to draw today's salt and delete older ones. */
export async function rotateAllSalts(env: Env, now: number): Promise<number> {
  const { results } = await env.DB.prepare('SELECT id FROM projects ORDER BY id LIMIT ?').bind(MAX_PROJECTS).all<{ id: string }>();
  await Promise.all(
    results.map(({ id }) => (env.PROJECT.get(env.PROJECT.idFromName(id)) as DurableObjectStub<ProjectDO>).rotateSalts(now)),
  );
  return results.length;
}
