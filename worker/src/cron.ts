/**
 * Cron work. Each run is bounded so that it fits one invocation even after a long outage: a
 * salt-rotation backstop in the first hour of each UTC day (each ProjectDO rotates its own at
 * midnight), an hourly purge of expired sessions, refresh tokens and sign-in throttles, an hourly
 * retention purge of raw events, rollups of the closed days that received events and a share of the
 * moves between pool databases under way on every tick.
 */
import { purgeExpiredAuth } from './auth/cleanup.ts';
import type { ProjectDO } from './live/index.ts';
import { purgeExpiredEvents, rollUp } from './rollup/index.ts';
import { continueMoves } from './store/index.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The cron runs every 5 minutes (wrangler.toml). */
const TICK_MS = 5 * 60_000;
/**
 * Salt rotations per tick. NOTE: every Durable Object call is a subrequest, and an invocation may
 * make 50 on the free plan; the first hour's 12 ticks cover 480 projects. The ProjectDO's own
 * midnight alarm is what rotates salts; this backstop only covers objects that lost their alarm.
 */
const ROTATIONS_PER_TICK = 40;
const ROTATION_TICKS = 12;
/** Wall time (ms) per tick for moves between pool databases, after the rollups' 20 s. */
const MOVE_BUDGET_MS = 10_000;

/**
 * Run the scheduled work for the cron tick at `scheduledTime`. Each step runs even when another
 * failed; a failure is logged and reported once every step has had its turn.
 */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  const firstTickOfHour = scheduledTime % HOUR_MS < TICK_MS;
  const steps: [string, () => Promise<unknown>][] = [
    ['salt rotation', () => rotateSaltsSlice(env, scheduledTime)],
    ['auth cleanup', async () => firstTickOfHour && purgeExpiredAuth(env.DB, scheduledTime)],
    // Bounded by days and wall time; a backlog after an outage is worked off over several ticks,
    // and until then the stats API reads those days raw (exact, only slower).
    ['rollups', () => rollUp(env, scheduledTime)],
    // The retention purge probes every project, so it runs once an hour: retention is counted in
    // days, an hour late costs nothing. Each run deletes at most 50,000 rows (`exhausted` says more
    // remain) and the next carries on. NOTE: that caps the purge at 1.2M rows a day; a deployment
    // whose events expire faster needs a larger budget or, with a little state, extra runs.
    ['retention purge', async () => firstTickOfHour && purgeExpiredEvents(env, scheduledTime)],
    // A move the owner started carries on here between their calls (`store/move.ts`), bounded too.
    ['project moves', () => continueMoves(env, MOVE_BUDGET_MS)],
  ];
  const failed: string[] = [];
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (error) {
      console.error(`cron: ${name} failed:`, error instanceof Error ? error.message : String(error));
      failed.push(name);
    }
  }
  if (failed.length) throw new Error(`cron steps failed: ${failed.join(', ')}`);
}

/**
 * In the first hour of each UTC day, ask the next slice of projects' DOs to draw today's salt and
 * delete older ones: tick n of the day takes projects n × 40 … n × 40 + 39 in id order. Stateless,
 * and bounded by the subrequest limit. Returns the projects rotated.
 */
export async function rotateSaltsSlice(env: Env, scheduledTime: number): Promise<number> {
  const tick = Math.floor((scheduledTime % DAY_MS) / TICK_MS);
  if (tick >= ROTATION_TICKS) return 0;
  const { results } = await env.DB.prepare('SELECT id FROM projects ORDER BY id LIMIT ? OFFSET ?')
    .bind(ROTATIONS_PER_TICK, tick * ROTATIONS_PER_TICK)
    .all<{ id: string }>();
  await Promise.all(
    results.map(({ id }) =>
      (env.PROJECT.get(env.PROJECT.idFromName(id)) as DurableObjectStub<ProjectDO>).rotateSalts(scheduledTime),
    ),
  );
  return results.length;
}
