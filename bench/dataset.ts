/**
 * Writing events straight into SQLite with `node:sqlite`: the fast path that fills D1's own file
 * with millions of rows for the query benchmark (while workerd is stopped), and the raw-SQLite
 * reference the drain figure is compared with.
 */
import { statSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { random } from './events.ts';
import { dayRows, EVENT_COLUMNS, type Row } from './rows.ts';
import { MARK_SPAN_HOURS_SQL } from '../worker/src/store/freshness.ts';

/** Open a SQLite file for bulk writing. */
export function openSqlite(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 10000');
  // ~1 GB of page cache: the events table's indexes stay in memory while they grow.
  db.exec('PRAGMA cache_size = -1000000');
  return db;
}

/**
 * Fail early, and say why, when the events table and the drizzle schema the rows are built from
 * disagree (a migration not generated, or not applied): the rows would be refused anyway.
 */
export function checkColumns(db: DatabaseSync): void {
  const columns = db.prepare('PRAGMA table_info(events)').all() as {
    name: string;
    notnull: number;
    dflt_value: unknown;
  }[];
  const known = new Set<string>(EVENT_COLUMNS);
  const missing = columns.filter((c) => c.notnull && c.dflt_value === null && !known.has(c.name)).map((c) => c.name);
  const gone = EVENT_COLUMNS.filter((name) => !columns.some((c) => c.name === name));
  if (missing.length || gone.length) {
    throw new Error(
      `The events table does not match worker/src/db/schema.ts (required but not in the schema: ${missing.join(', ') || '-'}; ` +
        `in the schema but absent: ${gone.join(', ') || '-'}). Generate and apply the migration (npm run db:generate).`,
    );
  }
}

/** A prepared INSERT of rows in `EVENT_COLUMNS` order (into `table`, `events` by default). */
export function eventInsert(db: DatabaseSync, table = 'events'): StatementSync {
  return db.prepare(
    `INSERT INTO ${table} (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')})`,
  );
}

/** Insert rows in one transaction. */
export function insertRows(db: DatabaseSync, insert: StatementSync, rows: readonly Row[]): void {
  db.exec('BEGIN');
  try {
    for (const row of rows) insert.run(...row);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/** One day to write: its UTC start, its events, and how much of it has passed (the open day). */
export interface DaySpec {
  start: number;
  events: number;
  /** Ms of the day that hold events; the whole day when absent. */
  span?: number;
}

/** Events generated in JavaScript per day at most; the rest of a day is copies of them. */
const GENERATED_PER_DAY = 40_000;

/**
 * Write `days` of a project's events into a SQLite file, and return how many and how long.
 *
 * A large day is generated in JavaScript at a fraction of its size (enrichEvent is most of a row's
 * cost: ~75k events/s here) and copied inside SQLite, each copy with its own event, visit and
 * visitor ids (the last three hex digits, `000` in generated ids, become the copy's number): other
 * visitors making the same kinds of visits at the same times. A day's rows stay together in the
 * file, as a live table's do, so a day's scan reads its own pages. The events are not marked for
 * rollup: the caller marks what the cron should see ({@link markEventHours}).
 */
export function writeDays(
  file: string,
  projectId: string,
  days: readonly DaySpec[],
  seed: number,
): { events: number; ms: number } {
  const started = performance.now();
  const db = openSqlite(file);
  try {
    // A benchmark's file: a crash while writing it means building it again, not repairing it.
    db.exec('PRAGMA synchronous = OFF');
    checkColumns(db);
    db.exec('CREATE TEMP TABLE bench_day AS SELECT * FROM events WHERE 0');
    const insert = eventInsert(db, 'temp.bench_day');
    const suffixed = (column: string, keep: number) => `substr(${column}, 1, ${keep}) || printf('%03x', ?)`;
    const select = EVENT_COLUMNS.map((column) => {
      if (column === 'id' || column === 'session_id') return suffixed(column, 33);
      if (column === 'visitor_id') return suffixed(column, 13);
      return column;
    });
    // Three suffixed columns, each bound to the copy's number.
    const copy = db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${select.join(', ')} FROM temp.bench_day ORDER BY ts`,
    );
    const rand = random(seed);
    const counter = { next: 1 };
    let events = 0;
    for (const day of days) {
      const copies = Math.max(1, Math.ceil(day.events / GENERATED_PER_DAY));
      const rows = dayRows(projectId, day.start, Math.max(1, Math.round(day.events / copies)), rand, counter, day.span);
      db.exec('BEGIN');
      try {
        db.exec('DELETE FROM temp.bench_day');
        for (const row of rows) insert.run(...row);
        for (let k = 0; k < copies; k++) copy.run(k, k, k);
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      events += rows.length * copies;
    }
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return { events, ms: performance.now() - started };
  } finally {
    db.close();
  }
}

/**
 * Mark every hour of [`start`, `end`) that holds events of the project, as the consumer marks the
 * hours it writes: the store's own marking SQL, run by `node:sqlite` as D1 would run it.
 */
export function markEventHours(file: string, projectId: string, start: number, end: number): void {
  const db = openSqlite(file);
  try {
    db.prepare(MARK_SPAN_HOURS_SQL).run(projectId, start, end);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** The size of a SQLite file with its write-ahead log. */
export function sqliteBytes(file: string): number {
  const size = (name: string) => {
    try {
      return statSync(name).size;
    } catch {
      return 0;
    }
  };
  return size(file) + size(`${file}-wal`);
}
