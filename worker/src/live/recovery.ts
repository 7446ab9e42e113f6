/**
 * What a ProjectDO reads back from its admission log (`log.ts`) when it starts without the memory
 * of the run before: the events that run may not have sent, and the live view.
 *
 * A successful send writes nothing, so after a restart "was this row sent?" has three sources:
 * the alarm's parity (an even alarm, or none, when a request woke the object: everything was —
 * `alarm.ts`), each row's `sent_below` (how far its run's sends had got when it was written), and
 * for the rows after that — the run's last flush — the events table in D1, which holds every
 * event that was sent and consumed. What a recovery established is written once (`sent` in
 * `meta`), so that the next restart does not ask again.
 */
import type { StoredEvent } from '../pipeline/messages.ts';
import type { AdmissionLog, LogEntry, UnsentRow } from './log.ts';
import type { Outbox } from './outbox.ts';
import type { ProjectBucket } from './project-bucket.ts';
import { RECENT_EVENTS, type RecentEvent, type RecentEvents } from './recent.ts';
import { decodeState, type VisitorStore } from './sessions.ts';

/** The ProjectDO's stores a recovery fills. */
export interface RecoveryStores {
  sql: SqlStorage;
  log: AdmissionLog;
  outbox: Outbox;
  visitors: VisitorStore;
  recent: RecentEvents;
  projectBucket: ProjectBucket;
}

/**
 * Read back from the log what the run before did not leave in memory: the events it may not have
 * sent (those D1 does not hold), the project's bucket after its last admission, the live view.
 * Returns the marks to write once what it put back is sent (null when it found nothing to ask).
 */
export async function recover(
  stores: RecoveryStores,
  db: D1Database,
  projectId: string | null,
): Promise<SentMarks | null> {
  const { sql, log, outbox } = stores;
  const entries = log.entries();
  const marks = readMarks(sql);
  const unsent = unsentEntries(entries, marks);
  const rows = unsent.map((entry) => ({ entry, body: log.body(entry) }));
  outbox.restore(projectId ? await notInD1(db, projectId, rows) : rows);
  const newest = entries.reduce<LogEntry | null>((a, b) => (!a || b.id > a.id ? b : a), null);
  stores.projectBucket.recovered(newest ? decodeState(newest.key, newest.state).project : null);
  restoreLive(log, stores.visitors, stores.recent, entries, outbox.run);
  return unsent.length ? marksFor(entries, unsent, marks) : null;
}

/** Per run, the highest id of its rows known to be sent. */
export type SentMarks = Record<string, number>;

/** The marks a recovery wrote (`meta` key `sent`). */
export function readMarks(sql: SqlStorage): SentMarks {
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'sent'").toArray()[0];
  return row ? (JSON.parse(row.value) as SentMarks) : {};
}

/** Record what a recovery established, for the runs whose rows are still in the log. */
export function writeMarks(sql: SqlStorage, marks: SentMarks): void {
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('sent', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    JSON.stringify(marks),
  );
}

/**
 * The rows that may not have been sent: per run, those at or above the highest `sent_below` its
 * rows carry, and above its mark. Oldest first.
 */
export function unsentEntries(entries: readonly LogEntry[], marks: SentMarks): LogEntry[] {
  const threshold = new Map<string, number>();
  for (const { run, sentBelow } of entries) {
    const mark = marks[run];
    threshold.set(run, Math.max(threshold.get(run) ?? 0, sentBelow, mark === undefined ? 0 : mark + 1));
  }
  return entries
    .filter((entry) => entry.events > 0 && entry.id >= (threshold.get(entry.run) ?? 0))
    .sort((a, b) => a.id - b.id);
}

/** Marks that say every row of `entries` up to the rows recovered is sent (once those are). */
export function marksFor(entries: readonly LogEntry[], recovered: readonly LogEntry[], marks: SentMarks): SentMarks {
  const runs = new Set(entries.map((entry) => entry.run));
  const next: SentMarks = Object.fromEntries(Object.entries(marks).filter(([run]) => runs.has(run)));
  for (const { run, id } of recovered) next[run] = Math.max(next[run] ?? 0, id);
  return next;
}

/** The ids of the events in a row's body. */
function eventIds(body: string): string[] {
  return (JSON.parse(`[${body}]`) as { id: string }[]).map((event) => event.id);
}

/**
 * Of rows that may not have been sent, those whose events D1 does not all hold. When D1 cannot
 * be asked, all of them: a row sent twice is inserted once (the consumer's insert is keyed by id).
 * NOTE: an event sent a moment ago may still be on the queue, and is then sent again.
 */
export async function notInD1(db: D1Database, projectId: string, rows: readonly UnsentRow[]): Promise<UnsentRow[]> {
  const ids = rows.flatMap((row) => eventIds(row.body));
  if (!ids.length) return [...rows];
  try {
    const { results } = await db
      .prepare('SELECT id FROM events WHERE project_id = ?1 AND id IN (SELECT value FROM json_each(?2))')
      .bind(projectId, JSON.stringify(ids))
      .all<{ id: string }>();
    const stored = new Set(results.map((row) => row.id));
    return rows.filter((row) => eventIds(row.body).some((id) => !stored.has(id)));
  } catch (error) {
    console.warn('ProjectDO recovery could not read D1; sending the last flush again:', String(error));
    return [...rows];
  }
}

/**
 * Put the visitors and the latest events of rows written before this run back in memory (this
 * run's are there already).
 */
export function restoreLive(
  log: AdmissionLog,
  visitors: VisitorStore,
  recent: RecentEvents,
  entries: readonly LogEntry[],
  run: string,
): void {
  if (!visitors.needsRestore()) return;
  visitors.restore(entries);
  const events: RecentEvent[] = [];
  const newestFirst = entries.filter((entry) => entry.events > 0 && entry.run !== run).sort((a, b) => b.id - a.id);
  for (const entry of newestFirst) {
    if (events.length >= RECENT_EVENTS) break;
    const stored = JSON.parse(`[${log.body(entry)}]`) as StoredEvent[];
    for (const { ts, name, path, country, source } of stored.reverse())
      events.push({ ts, name, path, country, source: source ?? null });
  }
  recent.restore(events.slice(0, RECENT_EVENTS).reverse());
}
