/** Messages of the live WebSocket (`GET /api/projects/:id/live`), checked before the card trusts them. */
import type { LiveMessage } from '../api/types.ts';

/**
 * A server message, or null for anything else (a `connected` hello, a malformed frame). Lists
 * that are missing become empty, so a partial message never breaks the card.
 */
export function parseLiveMessage(text: unknown): LiveMessage | null {
  if (typeof text !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const message = value as Partial<LiveMessage> | null;
  if (!message || (message.type !== 'snapshot' && message.type !== 'update') || typeof message.visitors !== 'number') {
    return null;
  }
  return {
    type: message.type,
    visitors: message.visitors,
    pages: Array.isArray(message.pages) ? message.pages : [],
    countries: Array.isArray(message.countries) ? message.countries : [],
    recent: Array.isArray(message.recent) ? message.recent : [],
  };
}

/** Visitors now on pages beyond the first `shown` listed (each visitor counts on their current page). */
export function visitorsElsewhere(message: Pick<LiveMessage, 'visitors' | 'pages'>, shown: number): number {
  return Math.max(0, message.visitors - message.pages.slice(0, shown).reduce((sum, page) => sum + page.visitors, 0));
}
