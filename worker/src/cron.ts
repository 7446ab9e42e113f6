/**
 * Cron work. Each run is bounded so that it fits one invocation even after a long outage: a
 * salt-rotation backstop in the first hour of each UTC day (each ProjectDO rotates its own at
 * midnight), an hourly purge of expired sessions, refresh tokens and sign-in throttles, an hourly
 * retention purge of raw events and archive objects, rollups of the closed days that received events
 * on every tick, then the move of days past each project's hot window to the R2 archive, and a share
 * of the moves between pool databases under way.
 */
import { purgeExpiredAuth } from './auth/cleanup.ts';
import type { ProjectDO } from './live/index.ts';
import { archivePool, purgeExpiredEvents, rollUp } from './rollup/index.ts';
import { d1CallFault } from './shared/db-errors.ts';
import { continueMoves, purgePoolArchives, reportD1Fault, reportD1Recovered } from './store/index.ts';

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
/** NOTE: the tick's D1 calls are 1,000 at most (Workers Paid), the rollups and archive's included. */
const MOVE_CALLS = 200;

/**
 * Run the scheduled work for the cron tick at `scheduledTime`. Each step runs even when another
 * failed; a failure is logged, and the run throws once every step has had its turn. D1's health is
 * told either way: a D1 step failing with D1 at fault is reported, and a tick whose D1 steps all
 * succeeded clears a reported fault.
 */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  const firstTickOfHour = scheduledTime % HOUR_MS < TICK_MS;
  // [name, run, whether its errors are D1's: the archive's may be R2's, so they are not told as D1's]
  const steps: [string, () => Promise<unknown>, boolean][] = [
    ['salt rotation', () => rotateSaltsSlice(env, scheduledTime), false],
    ['auth cleanup', async () => firstTickOfHour && purgeExpiredAuth(env.DB, scheduledTime), true],
    // Bounded by days and wall time; a backlog after an outage is worked off over several ticks,
    // and until then the stats API reads those days raw (exact, only slower).
    ['rollups', () => rollUp(env, scheduledTime), true],
    // The retention purge probes every project, so it runs once an hour: retention is counted in
    // days, an hour late costs nothing. Each run deletes at most 50,000 rows (`exhausted` says more
    // remain) and the next carries on. NOTE: that caps the purge at 1.2M rows a day; a deployment
    // whose events expire faster needs a larger budget or, with a little state, extra runs.
    ['retention purge', async () => firstTickOfHour && purgeExpiredEvents(env, scheduledTime), true],
    // Archive objects past retention go with the raw events, hourly; at most 500 days a run.
    ['archive purge', async () => firstTickOfHour && purgePoolArchives(env, scheduledTime), false],
    // After the rollups: a day leaves D1 only once it is rolled up. Bounded by rows and wall time;
    // a backlog (the first run after enabling it) is worked off over several ticks.
    ['archive', () => archivePool(env, scheduledTime), false],
    // A move the operator started carries on here between their calls (`store/move.ts`), bounded too.
    ['project moves', () => continueMoves(env, MOVE_BUDGET_MS, Date.now(), MOVE_CALLS), true],
  ];
  const failed: string[] = [];
  let d1Failed = false;
  for (const [name, run, callsD1] of steps) {
    try {
      await run();
    } catch (error) {
      console.error(`cron: ${name} failed:`, error instanceof Error ? error.message : String(error));
      failed.push(name);
      // Each step's writes are batches that commit whole, and what a step left undone (marks,
      // expired rows) is still there for the next tick; GET /api/health says why meanwhile.
      const fault = callsD1 ? d1CallFault(error) : null;
      if (fault) await reportD1Fault(env, fault);
      d1Failed ||= callsD1;
    }
  }
  if (!d1Failed) await reportD1Recovered(env);
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
