/**
 * Live state of each project: the ProjectDO (admission, visits, live visitors, outbox, live
 * sockets), the rate limits it enforces, and the live routes (tickets, sockets, `/live.js`).
 */
export { UPDATE_INTERVAL_MS } from './feed.ts';
export { CLOSE_CODES, type CountMessage, type LiveMessage, type LiveView, PING, PONG } from './messages.ts';
export { FLUSH_DELAY_MS } from './outbox.ts';
export { type AdmitRequest, type AdmitResult, ProjectDO } from './project-do.ts';
export { DEFAULT_RATE_LIMITS, parseRateLimits, type RateLimits } from './rate-limit.ts';
export { RECENT_EVENTS, type RecentEvent } from './recent.ts';
export { liveRoutes } from './routes.ts';
export { LIVE_WINDOW_MS, type LiveSnapshot, SESSION_TIMEOUT_MS } from './sessions.ts';
export { LIVE_TICKET_TTL_MS, type LiveTicket } from './tickets.ts';
export { LIVE_SCRIPT_PATH } from './widget.ts';
