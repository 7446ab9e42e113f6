/**
 * The stats API: `POST /api/v1/query` over raw events (docs/STATS.md defines every number), the
 * DST-correct calendar it buckets by, and date range resolution. Rollups come next.
 */
export * from './date-range.ts';
export { dropCounts, dropRoutes } from './drops.ts';
export { EXPORT_FILES, exportRoutes, exportZip } from './export.ts';
export { funnelRoutes, runFunnel } from './funnel.ts';
export { queryRoutes } from './routes.ts';
export { type QueryResponse, runQuery } from './run.ts';
export { type Query, QuerySchema } from './schema.ts';
