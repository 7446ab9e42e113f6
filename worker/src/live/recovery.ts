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
import { projectDb } from '../store/index.ts';

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
export function storedInD1(env: Env, projectId: string): SentCheck {
  return async (rows: readonly Waiting[]) => {
    const stored = new Set<string>();
    const ids = rows.flatMap((row) => eventIds(row.body));
    try {
      // The project's database of the pool, read when asked: a move may have switched it.
      const db = await projectDb(env, projectId);
      if (!db) return new Set();
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
 * clocks), newest first and no more than memory has room for states, and the bodies of the newest
 * of them by key and id — not the whole log, nor a sort of a generation.
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
  // The newest rows with events seen on the way (a row has at least one event), newest first.
  const newest: LogEntry[] = [];
  function* noting(entries: Iterable<LogEntry>): Generator<LogEntry> {
    for (const entry of entries) {
      if (entry.events > 0 && (newest.length < RECENT_EVENTS || entry.id > (newest.at(-1) as LogEntry).id)) {
        const at = newest.findIndex((row) => row.id < entry.id);
        newest.splice(at === -1 ? newest.length : at, 0, entry);
        if (newest.length > RECENT_EVENTS) newest.pop();
      }
      yield entry;
    }
  }
  visitors.restore(noting(log.writtenSince(since, run, visitors.room())), now);
  const bodies = log.bodiesOf(newest);
  const found = bodies.reduce((n, row) => n + row.events, 0);
  const older = found < RECENT_EVENTS ? log.newestBodies(RECENT_EVENTS - found, run, since * 1000) : [];
  const events: RecentEvent[] = [];
  for (const body of [...bodies.map((row) => row.body), ...older]) {
    const stored = JSON.parse(`[${body}]`) as StoredEvent[];
    for (const { ts, name, path, country, source } of stored.reverse())
      events.push({ ts, name, path, country, source: source ?? null });
  }
  recent.restore(events.slice(0, RECENT_EVENTS).reverse());
}
