/**
 * The live feed's latest events, in the ProjectDO's SQLite storage. They are stored rather than
 * kept in memory because an object holding only hibernated live sockets is evicted after a few
 * idle seconds, and the feed must still be there when the next socket opens.
 */

/** Events the live feed keeps (and sends). */
export const RECENT_EVENTS = 50;

/** A recent event as the live feed shows it: what happened where, never who. */
export interface RecentEvent {
  ts: number;
  name: string;
  path: string;
  country: string | null;
  source: string | null;
}

/** The newest events admitted, at most {@link RECENT_EVENTS}. */
export class RecentEvents {
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Add events in the order they were admitted, and forget all but the newest. */
  append(events: readonly RecentEvent[]): void {
    if (!events.length) return;
    for (const event of events) {
      this.sql.exec(
        'INSERT INTO recent_events (ts, name, path, country, source) VALUES (?, ?, ?, ?, ?)',
        event.ts,
        event.name,
        event.path,
        event.country,
        event.source,
      );
    }
    this.sql.exec('DELETE FROM recent_events WHERE id <= (SELECT MAX(id) FROM recent_events) - ?', RECENT_EVENTS);
  }

  /** The kept events, newest (last admitted) first. */
  list(): RecentEvent[] {
    return this.sql
      .exec<RecentEvent & Record<string, SqlStorageValue>>(
        'SELECT ts, name, path, country, source FROM recent_events ORDER BY id DESC LIMIT ?',
        RECENT_EVENTS,
      )
      .toArray()
      .map(({ ts, name, path, country, source }) => ({ ts, name, path, country, source }));
  }
}
