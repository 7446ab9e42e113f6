/**
 * What live sockets carry. The server speaks; a client only ever sends `ping`, which the runtime
 * answers with `pong` without waking the ProjectDO (a keep-alive, and a way for tests to know
 * that every earlier message has arrived).
 */
import type { RecentEvent } from './recent.ts';
import type { LiveSnapshot } from './sessions.ts';

/** Who is on the site now and what just happened: the dashboard's view. */
export interface LiveView extends LiveSnapshot {
  /** The last 50 events, newest first. */
  recent: RecentEvent[];
}

/**
 * A dashboard socket's message: a `snapshot` when it opens, then an `update` whenever the view
 * changed, at most one a second.
 *
 * @example
 * ```json
 * { "type": "update", "visitors": 2, "pages": [{ "path": "/", "visitors": 2 }],
 *   "countries": [{ "country": "DE", "visitors": 1 }, { "country": null, "visitors": 1 }],
 *   "recent": [{ "ts": 1778760000000, "name": "pageview", "path": "/", "country": "DE", "source": "Google" }] }
 * ```
 */
export interface LiveMessage extends LiveView {
  type: 'snapshot' | 'update';
}

/**
 * A counter's message (the public counter, and a share link's view): the number of visitors alone,
 * on open and whenever it changes.
 */
export interface CountMessage {
  type: 'count';
  visitors: number;
}

/**
 * Which sockets a message is for: signed-in members, anyone (the public counter), or a share link's
 * viewers — who get the count alone, as the public counter does: a link shows the project's
 * numbers, not the pages and places of the visitors on the site this minute.
 */
export type LiveAudience = 'dashboard' | 'public' | 'share';

/** The keep-alive a client may send, and the runtime's answer. */
export const PING = 'ping';
export const PONG = 'pong';

/** Close codes a client can act on (4000–4999 are the application's). */
export const CLOSE_CODES = {
  /** The project was deleted: do not reconnect. */
  projectDeleted: 4404,
  /** The project turned its public counter off, or the share link was revoked. */
  publicDisabled: 4403,
  /** The client sent something other than `ping`. */
  unexpectedMessage: 1003,
} as const;
