/**
 * The admission log: one row per visitor per admitted request, holding that visitor's events
 * (the outbox: what the queue has not had yet) and its state after them (visit, bucket, presence).
 * One write makes a request durable and keeps its visitor's state; nothing is deleted row by row.
 *
 * Rows go to the newest of a few tables, generations, each written for {@link GENERATION_MS}; a
 * generation whose rows can no longer matter is dropped whole. NOTE: SQLite in a Durable Object
 * bills each row a `DELETE` removes, while `DROP TABLE` is billed nothing per row and `CREATE TABLE`
 * two rows (measured: worker/test/project-do-rows.test.ts).
 */
import { generationMinute, generationTable, generationTableSql, generationTables } from './schema.ts';

/** How long one generation takes new rows. */
export const GENERATION_MS = 40 * 60_000;

/**
 * How long after it was written a row's state can still matter: a visit continues up to 30 minutes
 * after its last event, whose (clamped) time may run 5 minutes ahead of the server's; a visitor is
 * live for 5 minutes; a bucket refills (10 s with the default limits).
 */
export const STATE_HORIZON_MS = 40 * 60_000;

/**
 * When a generation's rows can no longer matter: a generation takes rows for {@link GENERATION_MS}
 * from its creation (never later), and each matters for {@link STATE_HORIZON_MS}.
 */
function expiry(generation: number): number {
  return generation * 60_000 + GENERATION_MS + STATE_HORIZON_MS;
}

/** A row of the log. */
export interface LogRow {
  /** Today's visitor id of the visitor the row is about. */
  key: string;
  /** Time-ordered (ms × 1000, then counting): a key's latest row has its largest id. */
  id: number;
  /** The object run (start) that wrote it, and below which of that run's ids everything was sent by then. */
  run: string;
  sentBelow: number;
  /** Events in `body` (JSON objects joined by commas); 0 for a state carried over without events. */
  events: number;
  body: string;
  /** The visitor's state after the request, and the project's bucket (JSON, `sessions.ts`). */
  state: string;
}

/** A row without its events (what a scan reads). */
export type LogEntry = Omit<LogRow, 'body'> & { generation: number };

const COLUMNS = 'key, id, run, sent_below AS sentBelow, events, state';

/** The log's generations in this object's SQLite. */
export class AdmissionLog {
  /** Minutes (since the epoch) of the generations' creation, oldest first. */
  private generations: number[];
  /** Generations written before this object started: the only rows not also in its memory. */
  private readonly older: Set<number>;

  /** Tables come from `migrateProjectStorage` (`schema.ts`) and from {@link append}. */
  constructor(private readonly sql: SqlStorage) {
    this.generations = generationTables(sql)
      .map(generationMinute)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    this.older = new Set(this.generations);
  }

  /** Write rows to the current generation (starting a new one when it is due); returns that generation. */
  append(rows: readonly LogRow[], now: number): number {
    const generation = this.current(now);
    const table = generationTable(generation);
    if (rows.length === 1) {
      const [row] = rows as [LogRow];
      this.sql.exec(
        `INSERT INTO ${table} (key, id, run, sent_below, events, body, state) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        row.key,
        row.id,
        row.run,
        row.sentBelow,
        row.events,
        row.body,
        row.state,
      );
    } else if (rows.length) {
      // One statement, one bound parameter, whatever the number of visitors in the request.
      this.sql.exec(
        `INSERT INTO ${table} (key, id, run, sent_below, events, body, state)
         SELECT value ->> '$.key', value ->> '$.id', value ->> '$.run', value ->> '$.sentBelow',
                value ->> '$.events', value ->> '$.body', value ->> '$.state'
         FROM json_each(?)`,
        JSON.stringify(rows),
      );
    }
    return generation;
  }

  /** Whether rows written before this object started remain: a state missing from memory may be there. */
  hasOlder(): boolean {
    return this.generations.some((generation) => this.older.has(generation));
  }

  /** A key's latest row among the generations written before this object started, or null. */
  latestOlder(key: string): LogEntry | null {
    for (const generation of [...this.generations].reverse()) {
      if (!this.older.has(generation)) continue;
      const row = this.sql
        .exec<Omit<LogEntry, 'generation'>>(
          `SELECT ${COLUMNS} FROM ${generationTable(generation)} WHERE key = ? ORDER BY id DESC LIMIT 1`,
          key,
        )
        .toArray()[0];
      if (row) return { ...row, generation };
    }
    return null;
  }

  /**
   * Every row without its events. Read only when an object starts without what its memory held:
   * to find events a crash left unsent, or to show the live view again (`project-do.ts`).
   */
  entries(): LogEntry[] {
    return this.generations.flatMap((generation) =>
      this.sql
        .exec<Omit<LogEntry, 'generation'>>(`SELECT ${COLUMNS} FROM ${generationTable(generation)}`)
        .toArray()
        .map((row) => ({ ...row, generation })),
    );
  }

  /** The events of one row (JSON objects joined by commas). */
  body(entry: Pick<LogEntry, 'key' | 'id' | 'generation'>): string {
    return (
      this.sql
        .exec<{ body: string }>(
          `SELECT body FROM ${generationTable(entry.generation)} WHERE key = ? AND id = ?`,
          entry.key,
          entry.id,
        )
        .toArray()[0]?.body ?? ''
    );
  }

  /** Drop the generations whose rows can no longer matter at `now`, except those holding rows not yet sent (`keep`). */
  drop(now: number, keep: ReadonlySet<number>): void {
    const expired = this.generations.filter((generation) => expiry(generation) <= now && !keep.has(generation));
    for (const generation of expired) this.sql.exec(`DROP TABLE ${generationTable(generation)}`);
    if (expired.length) this.generations = this.generations.filter((generation) => !expired.includes(generation));
  }

  /** When the oldest generation can be dropped (null when there is none). */
  nextExpiry(): number | null {
    const oldest = this.generations[0];
    return oldest === undefined ? null : expiry(oldest);
  }

  /** Forget the generations (the object's storage was deleted). */
  forget(): void {
    this.generations = [];
    this.older.clear();
  }

  /** The generation rows go to at `now`, created when the newest is {@link GENERATION_MS} old (or there is none). */
  private current(now: number): number {
    const newest = this.generations.at(-1);
    if (newest !== undefined && newest * 60_000 > now - GENERATION_MS) return newest;
    // Never a name in use, even if this object's clock is behind the one that wrote the last.
    const generation = Math.max(Math.floor(now / 60_000), (newest ?? 0) + 1);
    this.sql.exec(generationTableSql(generationTable(generation)));
    this.generations.push(generation);
    return generation;
  }
}

/** A row that may not have been sent, with its events. */
export interface UnsentRow {
  entry: LogEntry;
  body: string;
}
