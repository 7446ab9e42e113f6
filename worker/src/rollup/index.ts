/**
 * Rollups of closed days (`rollups.ts`, `goal-rollups.ts`), the retention purge of raw events
 * (`retention.ts`) and the R2 archive of old days (`archive.ts`); `cron.ts` runs them.
 */
export { type ArchiveResult, archiveOldDays, archivePool } from './archive.ts';
export { type PurgeResult, purgeExpiredEvents } from './retention.ts';
export { ROLLUP_DIMENSIONS, type RollupResult, rollUp, rollUpAll } from './rollups.ts';
