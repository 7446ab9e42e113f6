/**
 * Rollups of closed days (`rollups.ts`, `goal-rollups.ts`) and the retention purge of raw events
 * (`retention.ts`); `cron.ts` runs them on every tick.
 */
export { type PurgeResult, purgeExpiredEvents } from './retention.ts';
export { ROLLUP_DIMENSIONS, type RollupResult, rollUp, rollUpAll } from './rollups.ts';
