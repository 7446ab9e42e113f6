/**
 * What a ProjectDO reads back from its admission log (`log.ts`) when it starts without the memory
 * of the run before. Where unsent events begin is the outbox's to find (`Outbox.resume`): a
 * successful send writes nothing, so rows an earlier run wrote after its last known send may or
 * may not have reached the queue, and D1 — which holds every event that was sent and consumed —
 * is asked about them here, by the alarm that would send them (never by a request: an object a
 * request starts does not wait on D1). The live view is read back here too, from the last minutes'
 * rows only.
 */
import type { StoredEvent } from '../pipeline/messages.ts';
import type { AdmissionLog, LogEntry } from './log.ts';
import type { SentCheck, Waiting } from './outbox.ts';
import { RECENT_EVENTS, type RecentEvent, type RecentEvents } from './recent.ts';
import { LIVE_WINDOW_MS, type VisitorStore } from './sessions.ts';

/** Event ids per D1 query: one bound JSON parameter, well under D1's statement and value limits. */
const IDS_PER_QUERY = 1_000;

/** The ids of the events in a row's body. */
function eventIds(body: string): string[] {
  return (JSON.parse(`[${body}]`) as { id: string }[]).map((event) => event.id);
}

/**
 * A check of rows that may have been sent against D1: those whose events it holds all of. When D1
 * cannot be asked, none: a row sent twice is inserted once (the consumer's insert is keyed by id).
 * NOTE: an event sent a moment ago may still be on the queue, and is then sent again.
 */
export function storedInD1(db: D1Database, projectId: string): SentCheck {
  return async (rows: readonly Waiting[]) => {
    const stored = new Set<string>();
    const ids = rows.flatMap((row) => eventIds(row.body));
    try {
      for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
        const { results } = await db
          .prepare('SELECT id FROM events WHERE project_id = ?1 AND id IN (SELECT value FROM json_each(?2))')
          .bind(projectId, JSON.stringify(ids.slice(start, start + IDS_PER_QUERY)))
          .all<{ id: string }>();
        for (const { id } of results) stored.add(id);
      }
    } catch (error) {
      console.warn('ProjectDO recovery could not read D1; sending the last flush again:', String(error));
      return new Set();
    }
    return new Set(rows.filter((row) => eventIds(row.body).every((id) => stored.has(id))));
  };
}

/**
 * Put the live visitors and the latest events of rows written by earlier runs back in memory (this
 * run's are there already). Reads the rows of the last minutes (the live window, and a minute for
 * clocks), not the whole log.
 */
export function restoreLive(
  log: AdmissionLog,
  visitors: VisitorStore,
  recent: RecentEvents,
  run: string,
  now: number,
): void {
  if (!visitors.needsRestore()) return;
  const since = now - LIVE_WINDOW_MS - 60_000;
  visitors.restore(log.writtenSince(since, run) as Iterable<LogEntry>, now);
  const events: RecentEvent[] = [];
  for (const body of log.newestBodies(RECENT_EVENTS, run)) {
    const stored = JSON.parse(`[${body}]`) as StoredEvent[];
    for (const { ts, name, path, country, source } of stored.reverse())
      events.push({ ts, name, path, country, source: source ?? null });
  }
  recent.restore(events.slice(0, RECENT_EVENTS).reverse());
}
