/**
 * The stats API's building blocks. Today: local-time buckets in the project's timezone and date
 * range resolution (definitions in docs/STATS.md). The query engine and rollups build on these.
 */
export * from './calendar.ts';
export * from './date-range.ts';
