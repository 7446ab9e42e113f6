/**
 * Cron work. Each run is bounded so that it fits one invocation even after a long outage.
 * Today: the daily salt rotation for every project (a backstop to each ProjectDO's own midnight
 * alarm), and an hourly purge of expired sessions, refresh tokens and sign-in throttles. Rollups and the retention purge arrive with the stats issue.
 */
import { purgeExpiredAuth } from '../auth/cleanup.ts';
import type { ProjectDO } from '../live/index.ts';

const DAY_MS = 86_400_000;
/** The first run of each UTC day rotates; the cron runs every 5 minutes. */
const ROTATION_WINDOW_MS = 5 * 60_000;
/** Projects read per page, and DO calls in flight at once. */
const PAGE_SIZE = 500;
const CONCURRENCY = 50;

const HOUR_MS = 3_600_000;

/** Run the scheduled work for the cron tick at `scheduledTime`. */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  if (scheduledTime % DAY_MS < ROTATION_WINDOW_MS) await rotateAllSalts(env, scheduledTime);
  if (scheduledTime % HOUR_MS < ROTATION_WINDOW_MS) await purgeExpiredAuth(env.DB, scheduledTime);
}

/**
 * Ask every project's DO to draw today's salt and delete older ones, a page of projects at a time
 * (keyset paging, so the work per query stays bounded however many projects there are).
 */
export async function rotateAllSalts(env: Env, now: number): Promise<number> {
  let after = '';
  let rotated = 0;
  for (;;) {
    const { results } = await env.DB.prepare('SELECT id FROM projects WHERE id > ? ORDER BY id LIMIT ?')
      .bind(after, PAGE_SIZE)
      .all<{ id: string }>();
    for (let start = 0; start < results.length; start += CONCURRENCY) {
      await Promise.all(
        results
          .slice(start, start + CONCURRENCY)
          .map(({ id }) =>
            (env.PROJECT.get(env.PROJECT.idFromName(id)) as DurableObjectStub<ProjectDO>).rotateSalts(now),
          ),
      );
    }
    rotated += results.length;
    const last = results[results.length - 1];
    if (!last || results.length < PAGE_SIZE) return rotated;
    after = last.id;
  }
}
