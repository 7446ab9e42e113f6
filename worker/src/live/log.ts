/**
 * The admission log: one row per visitor per admitted request, holding that visitor's events
 * (the outbox: what the queue has not had yet) and its state after them (visit, bucket, presence).
 * One write makes a request durable and keeps its visitor's state; nothing is deleted row by row.
 *
 * Rows go to the newest of a few tables, generations, each taking rows for {@link GENERATION_MS}
 * or {@link GENERATION_ROWS} rows, whichever comes first; a generation whose rows can no longer
 * matter is dropped whole. NOTE: SQLite in a Durable Object bills each row a `DELETE` removes,
 * while `DROP TABLE` is billed nothing per row and `CREATE TABLE` two rows (measured:
 * worker/test/project-do-rows.test.ts).
 *
 * Ids grow across generations and across the object's runs (a new run starts above the largest
 * id it finds), so "every row from id X on" is a suffix of the log: where a restart resumes
 * sending (`outbox.ts`). A table is keyed by (visitor key, id), so that a visitor's latest state is
 * one seek away; a read by id scans a generation, which is why generations have a row cap, and
 * why a table's name says its first id: which generation holds an id is known without a read.
 */
import { generationTable, generationTableSql, generationTables, parseGenerationTable } from './schema.ts';

/** How long one generation takes new rows. */
export const GENERATION_MS = 40 * 60_000;

/**
 * Rows one generation takes at most: what a scan by id (a restart's, or a backlog's page) reads.
 * A new generation costs two rows written (its `CREATE TABLE`), 0.0004 per row at this size.
 */
export const GENERATION_ROWS = 5_000;

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
  return generation * 1000 + GENERATION_MS + STATE_HORIZON_MS;
}

/** A row of the log. */
export interface LogRow {
  /** Today's visitor id of the visitor the row is about. */
  key: string;
  /** Time-ordered (ms × 1000, then counting), growing across the log: a key's latest row has its largest id. */
  id: number;
  /** The object run (start) that wrote it. */
  run: string;
  /** Every row of the log with a smaller id had been sent to the queue when this one was written. */
  sentBelow: number;
  /** Events in `body` (JSON objects joined by commas); 0 for a state carried over without events. */
  events: number;
  body: string;
  /** The visitor's state after the request, and the project's bucket (JSON, `sessions.ts`). */
  state: string;
}

/** A row without its events (what a scan reads). */
export type LogEntry = Omit<LogRow, 'body'> & { generation: number };

/** A row with events, where it is. */
export interface EventRow {
  generation: number;
  key: string;
  id: number;
  events: number;
  body: string;
}

/** A place in the log: the row `id` (or the first after it) from generation `generation` on. */
export interface LogPosition {
  generation: number;
  id: number;
}

const COLUMNS = 'key, id, run, sent_below AS sentBelow, events, state';

/** Generations one statement looks a key up in. NOTE: SQLite allows a function 127 arguments. */
const GENERATIONS_PER_LOOKUP = 100;

/**
 * A generation: its number (the second it was created, or one past the one before: a busy log
 * fills one in seconds), first id and table.
 */
interface Generation {
  second: number;
  first: number;
  table: string;
}

/** The log's generations in this object's SQLite. */
export class AdmissionLog {
  /** Numbers of the generations (the seconds since the epoch they were created), oldest first. */
  private generations: number[];
  private readonly byNumber = new Map<number, Generation>();
  /** Generations written before this object started: the only rows not also in its memory. */
  private readonly older: Set<number>;
  /** The newest generation's rows and largest id; null until read (it was written before this object started). */
  private tail: { rows: number; maxId: number } | null = null;

  /** Tables come from `migrateProjectStorage` (`schema.ts`) and from {@link append}. */
  constructor(private readonly sql: SqlStorage) {
    for (const table of generationTables(sql)) {
      const parsed = parseGenerationTable(table);
      if (parsed) this.byNumber.set(parsed.second, { ...parsed, table });
    }
    this.generations = [...this.byNumber.keys()].sort((a, b) => a - b);
    this.older = new Set(this.generations);
  }

  /** Write rows to the current generation (starting a new one when it is due); returns that generation. */
  append(rows: readonly LogRow[], now: number): number {
    const generation = this.current(now, rows);
    const table = this.table(generation);
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
    const tail = this.readTail();
    tail.rows += rows.length;
    for (const row of rows) tail.maxId = Math.max(tail.maxId, row.id);
    return generation;
  }

  /** Whether the log has any generation (an object with none has nothing to send or restore). */
  hasRows(): boolean {
    return this.generations.length > 0;
  }

  /** The largest id in the log (0 when empty): every new row's id is above it. */
  maxId(): number {
    return this.generations.length ? this.readTail().maxId : 0;
  }

  /**
   * The row with the largest id, or null when the log is empty: one scan of the newest generation,
   * which also counts its rows (where the next row goes).
   */
  last(): LogEntry | null {
    for (const generation of [...this.generations].reverse()) {
      // With one max() in the query, SQLite takes the bare columns from the row that has it.
      const row = this.sql
        .exec<Omit<LogEntry, 'generation' | 'id'> & { rows: number; id: number | null }>(
          `SELECT COUNT(*) AS rows, MAX(id) AS id, key, run, sent_below AS sentBelow, events, state
           FROM ${this.table(generation)}`,
        )
        .one();
      if (generation === this.generations.at(-1)) this.tail ??= { rows: row.rows, maxId: row.id ?? 0 };
      if (row.id !== null) {
        const { rows: _rows, id, ...entry } = row;
        return { ...entry, id, generation };
      }
    }
    return null;
  }

  /** Where the rows from `id` on begin: the newest generation whose first id is not above it (no read). */
  positionOf(id: number): LogPosition {
    const generation = this.generations.findLast((number) => this.first(number) <= id) ?? this.generations[0] ?? 0;
    return { generation, id };
  }

  /**
   * Rows with events from `from` on, in id order, until `maxRows` rows or `maxChars` characters
   * of bodies; `next` is where the rest begins, or null when the log has no more. Each generation
   * read is scanned (at most {@link GENERATION_ROWS} rows), and rows are read one at a time, so
   * memory holds no more than the page.
   */
  page(from: LogPosition, maxRows: number, maxChars: number): { rows: EventRow[]; next: LogPosition | null } {
    const rows: EventRow[] = [];
    let chars = 0;
    for (const generation of this.generations) {
      if (generation < from.generation) continue;
      const cursor = this.sql.exec<{ key: string; id: number; events: number; body: string }>(
        `SELECT key, id, events, body FROM ${this.table(generation)} WHERE id >= ? AND events > 0 ORDER BY id`,
        from.id,
      );
      for (const row of cursor) {
        if (rows.length && (rows.length >= maxRows || chars + row.body.length > maxChars)) {
          return { rows, next: { generation, id: row.id } };
        }
        rows.push({ generation, ...row });
        chars += row.body.length;
      }
    }
    return { rows, next: null };
  }

  /** Events in the rows from `from` on. */
  eventsFrom(from: LogPosition): number {
    let events = 0;
    for (const generation of this.generations) {
      if (generation < from.generation) continue;
      events += this.sql
        .exec<{ n: number }>(
          `SELECT COALESCE(SUM(events), 0) AS n FROM ${this.table(generation)} WHERE id >= ?`,
          from.id,
        )
        .one().n;
    }
    return events;
  }

  /** Whether rows written before this object started remain: a state missing from memory may be there. */
  hasOlder(): boolean {
    return this.generations.some((generation) => this.older.has(generation));
  }

  /**
   * A key's latest row, or null: a seek per generation, newest first, in one statement per
   * {@link GENERATIONS_PER_LOOKUP} generations — only those written before this object started
   * unless `all` (its memory let the key go).
   */
  latest(key: string, all: boolean): LogEntry | null {
    const searched = this.generations.filter((generation) => all || this.older.has(generation)).reverse();
    for (let start = 0; start < searched.length; start += GENERATIONS_PER_LOOKUP) {
      // COALESCE stops at the first generation that has the key: the seeks after it do not run.
      const seeks = searched.slice(start, start + GENERATIONS_PER_LOOKUP).map(
        (generation) =>
          `(SELECT json_object('key', key, 'id', id, 'run', run, 'sentBelow', sent_below, 'events', events,
                               'state', state, 'generation', ${generation})
            FROM ${this.table(generation)} WHERE key = ?1 ORDER BY id DESC LIMIT 1)`,
      );
      const { row } = this.sql
        .exec<{ row: string | null }>(`SELECT COALESCE(${seeks.join(', ')}, NULL) AS row`, key)
        .one();
      if (row !== null) return JSON.parse(row) as LogEntry;
    }
    return null;
  }

  /**
   * Rows (without events) written at or after `since` (ms) by an earlier run, at most `limit`,
   * read one at a time from the generations that can hold them, the newest generation first (the
   * live view after a restart). Only generations written before this object started are read, so
   * what this reads is bounded by `limit` and a generation's rows, not by the log's traffic.
   */
  *writtenSince(since: number, run: string, limit: number): Generator<LogEntry> {
    const { generations } = this;
    let left = limit;
    for (let index = generations.length - 1; index >= 0 && left > 0; index--) {
      const generation = generations[index] as number;
      // A generation holds no id at or above the next one's first: this one and all before are older.
      const next = generations[index + 1];
      if (next !== undefined && this.first(next) <= since * 1000) break;
      if (!this.older.has(generation)) continue;
      // NOTE: LIMIT, not a break in the loop: a cursor left open keeps its table locked. In key
      // order, not by id: a sort would read each row twice.
      // One row past the limit: if it shares the last key, that key was cut and only its older
      // rows were read, so it is left out whole (its latest row is looked up when it returns).
      const rows = this.sql
        .exec<Omit<LogEntry, 'generation'>>(
          `SELECT ${COLUMNS} FROM ${this.table(generation)} WHERE id >= ? AND run != ? LIMIT ?`,
          since * 1000,
          run,
          left + 1,
        )
        .toArray();
      const cut = rows.length > left ? (rows[left] as Omit<LogEntry, 'generation'>).key : undefined;
      for (const row of rows.slice(0, left)) {
        if (cut !== undefined && row.key === cut) continue;
        yield { ...row, generation };
      }
      left = cut === undefined ? left - rows.length : 0;
    }
  }

  /** The bodies of these rows (found by key and id: a seek each), newest first. */
  bodiesOf(rows: readonly Pick<LogEntry, 'generation' | 'key' | 'id'>[]): { events: number; body: string }[] {
    const found: { id: number; events: number; body: string }[] = [];
    for (const generation of new Set(rows.map((row) => row.generation))) {
      const keys = rows.filter((row) => row.generation === generation).map((row) => [row.key, row.id]);
      found.push(
        ...this.sql
          .exec<{ id: number; events: number; body: string }>(
            `SELECT log.id AS id, log.events AS events, log.body AS body
             FROM json_each(?) AS wanted JOIN ${this.table(generation)} AS log
               ON log.key = wanted.value ->> 0 AND log.id = wanted.value ->> 1`,
            JSON.stringify(keys),
          )
          .toArray(),
      );
    }
    return found.sort((a, b) => b.id - a.id).map(({ events, body }) => ({ events, body }));
  }

  /**
   * The bodies of the newest rows with events written by an earlier run below id `below`, newest
   * first, until `events` events (when the last minutes' rows held too few). Each generation read
   * is scanned once, its newest rows kept by a bounded sort.
   */
  newestBodies(events: number, run: string, below: number): string[] {
    const bodies: string[] = [];
    let found = 0;
    for (const generation of [...this.generations].reverse()) {
      if (this.first(generation) >= below || !this.older.has(generation)) continue;
      const cursor = this.sql.exec<{ events: number; body: string }>(
        `SELECT events, body FROM ${this.table(generation)}
         WHERE id < ? AND events > 0 AND run != ? ORDER BY id DESC LIMIT ?`,
        below,
        run,
        events - found,
      );
      for (const row of cursor) {
        bodies.push(row.body);
        found += row.events;
      }
      if (found >= events) break;
    }
    return bodies;
  }

  /**
   * Drop the generations whose rows can no longer matter at `now`, except those holding rows not
   * yet sent: every generation from `heldFrom` on (null: none).
   */
  drop(now: number, heldFrom: number | null): void {
    const expired = this.generations.filter(
      (generation) => expiry(generation) <= now && (heldFrom === null || generation < heldFrom),
    );
    for (const generation of expired) {
      this.sql.exec(`DROP TABLE ${this.table(generation)}`);
      this.byNumber.delete(generation);
    }
    if (!expired.length) return;
    this.generations = this.generations.filter((generation) => !expired.includes(generation));
    if (!this.generations.length) this.tail = null;
  }

  /**
   * When the oldest generation can be dropped, or null when there is none or it holds rows not yet
   * sent (from `heldFrom` on): the flush that sends them comes back by itself, and a past expiry
   * must not bring the alarm back at once, again and again, while the queue is down.
   */
  nextExpiry(heldFrom: number | null): number | null {
    const oldest = this.generations[0];
    if (oldest === undefined || (heldFrom !== null && oldest >= heldFrom)) return null;
    return expiry(oldest);
  }

  /**
   * The generation `rows` more rows go to at `now`: the newest, unless it is {@link GENERATION_MS}
   * old or full (or there is none).
   */
  private current(now: number, rows: readonly LogRow[]): number {
    const newest = this.generations.at(-1);
    if (
      newest !== undefined &&
      newest * 1000 > now - GENERATION_MS &&
      (this.readTail().rows === 0 || this.readTail().rows + rows.length <= GENERATION_ROWS)
    ) {
      return newest;
    }
    const maxId = this.maxId();
    // Never a number in use, even if this object's clock is behind the one that wrote the last.
    const generation = Math.max(Math.floor(now / 1000), (newest ?? 0) + 1);
    const first = rows[0]?.id ?? maxId + 1;
    const table = generationTable(generation, first);
    this.sql.exec(generationTableSql(table));
    this.byNumber.set(generation, { second: generation, first, table });
    this.generations.push(generation);
    this.tail = { rows: 0, maxId };
    return generation;
  }

  private table(generation: number): string {
    return (this.byNumber.get(generation) as Generation).table;
  }

  private first(generation: number): number {
    return this.byNumber.get(generation)?.first ?? 0;
  }

  /** The newest generation's size and largest id, read once per object start (a scan of one generation). */
  private readTail(): { rows: number; maxId: number } {
    if (!this.tail) {
      const newest = this.generations.at(-1);
      const row =
        newest === undefined
          ? null
          : this.sql
              .exec<{ rows: number; maxId: number | null }>(
                `SELECT COUNT(*) AS rows, MAX(id) AS maxId FROM ${this.table(newest)}`,
              )
              .one();
      this.tail = { rows: row?.rows ?? 0, maxId: row?.maxId ?? 0 };
    }
    return this.tail;
  }
}
