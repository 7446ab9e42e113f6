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

/** The newest events admitted, at most {@link RECENT_EVENTS} listed. */
export class RecentEvents {
  /** Rows added since the table was last trimmed (the object's memory; a restart trims at once). */
  private sinceTrim = RECENT_EVENTS;

  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Add events in the order they were admitted. One statement per request, whatever its size:
   * admission runs on every ingest request, and each storage statement costs the object CPU.
   * Old rows are trimmed once per {@link RECENT_EVENTS} added, so the table keeps at most twice that.
   */
  append(events: readonly RecentEvent[]): void {
    if (!events.length) return;
    this.sql.exec(
      `INSERT INTO recent_events (ts, name, path, country, source)
       SELECT value ->> '$.ts', value ->> '$.name', value ->> '$.path', value ->> '$.country', value ->> '$.source'
       FROM json_each(?) ORDER BY key`,
      JSON.stringify(events.map(({ ts, name, path, country, source }) => ({ ts, name, path, country, source }))),
    );
    this.sinceTrim += events.length;
    if (this.sinceTrim < RECENT_EVENTS) return;
    this.sinceTrim = 0;
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
