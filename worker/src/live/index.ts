/**
 * Live state of each project: the ProjectDO (admission, visits, live visitors, outbox) and the
 * rate limits it enforces.
 */
export { type AdmitRequest, type AdmitResult, FLUSH_DELAY_MS, ProjectDO, type RecentEvent } from './project-do.ts';
export { DEFAULT_RATE_LIMITS, parseRateLimits, type RateLimits } from './rate-limit.ts';
export { LIVE_WINDOW_MS, type LiveSnapshot, SESSION_TIMEOUT_MS } from './sessions.ts';
