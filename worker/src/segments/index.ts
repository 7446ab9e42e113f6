/**
 * Saved segments: named sets of dashboard filters per project, shared with its members. Above
 * `query/` in the layers, because a segment's filters are the query API's own (`FilterSchema`).
 */
export { MAX_SEGMENT_FILTERS, MAX_SEGMENTS, type SegmentView } from './segments.ts';
export { segmentRoutes } from './routes.ts';
