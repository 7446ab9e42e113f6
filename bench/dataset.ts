/**
 * Writing events straight into SQLite with `node:sqlite`: the fast path that fills D1's own file
 * with millions of rows for the query benchmark (while workerd is stopped), and the raw-SQLite
 * reference the drain figure is compared with.
 */
import { statSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { random } from './events.ts';
import { DAY_MS, dayRows, EVENT_COLUMNS, type Row } from './rows.ts';
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
/** The copy suffix is three hex digits: a day's copies times the days that share a template stay below it. */
const SUFFIXES = 0x1000;
/** Where a closed day's template is generated; each day of its size is that day moved to its own date. */
const TEMPLATE_START = Date.UTC(2026, 0, 1);

/**
 * Write `days` of a project's events into a SQLite file, and return how many and how long.
 *
 * A large day is generated in JavaScript at a fraction of its size (enrichEvent is most of a row's
 * cost: ~75k events/s here) and copied inside SQLite, each copy with its own event, visit and
 * visitor ids (the last three hex digits, `000` in generated ids, become the copy's number): other
 * visitors making the same kinds of visits at the same times. A closed day (no `span`) is its
 * size's template — one day generated from a seed of that size — moved to its date, with ids of
 * its own (the copy number counts the day too: {@link sameDay}): two closed days of one size hold
 * the same visits, so one's rollups, moved to the other's date, are the other's. The open day is
 * generated from `seed`. A day's rows stay together in the file, as a live table's do, so a day's
 * scan reads its own pages. The events are not marked for rollup: the caller marks what the cron
 * should see ({@link markEventHours}).
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
    // ?1 moves the day (ms), ?2 is the copy's suffix. The event id's leading time moves with it,
    // so that ids keep their time order (UUIDv7's layout: `uuidAt` in rows.ts).
    const suffix = "printf('%03x', ?2)";
    const moved: Record<string, string> = {
      ts: 'ts + ?1',
      received_at: 'received_at + ?1',
      id: `printf('%08x-%04x', (ts + ?1) >> 16, (ts + ?1) & 65535) || substr(id, 14, 20) || ${suffix}`,
      session_id: `substr(session_id, 1, 33) || ${suffix}`,
      visitor_id: `substr(visitor_id, 1, 13) || ${suffix}`,
    };
    const select = EVENT_COLUMNS.map((column) => moved[column] ?? column);
    const copy = db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${select.join(', ')} FROM temp.bench_day ORDER BY ts`,
    );
    const rand = random(seed);
    const counter = { next: 1 };
    let loaded = '';
    let events = 0;
    for (const day of days) {
      const copies = Math.max(1, Math.ceil(day.events / GENERATED_PER_DAY));
      const perCopy = Math.max(1, Math.round(day.events / copies));
      const closed = day.span === undefined;
      const uses = Math.floor(SUFFIXES / copies);
      if (closed && uses < 1)
        throw new Error(`a closed day of ${day.events} events needs more than ${SUFFIXES} copies`);
      const key = closed ? `template ${day.events}` : `open ${day.start}`;
      db.exec('BEGIN');
      try {
        if (key !== loaded) {
          const rows = closed
            ? dayRows(projectId, TEMPLATE_START, perCopy, random(day.events), { next: 1 })
            : dayRows(projectId, day.start, perCopy, rand, counter, day.span);
          db.exec('DELETE FROM temp.bench_day');
          for (const row of rows) insert.run(...row);
          loaded = key;
        }
        const offset = closed ? day.start - TEMPLATE_START : 0;
        const first = closed ? ((day.start / DAY_MS) % uses) * copies : 0;
        for (let k = 0; k < copies; k++) copy.run(offset, first + k);
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      events += perCopy * copies;
    }
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return { events, ms: performance.now() - started };
  } finally {
    db.close();
  }
}

/** Whether two closed days hold the same visits (`writeDays`): one's rollups, moved, are the other's. */
export const sameDay = (a: DaySpec, b: DaySpec): boolean =>
  a.span === undefined && b.span === undefined && a.events === b.events;

/**
 * Give the closed UTC days `to` the rolled-up rows of `from`, a day of the same template
 * ({@link sameDay}) that the cron has rolled up: every row of a table keyed by project and `day`,
 * moved to each date (an hour's value, which names its date, too). Fails on rows of a table that also holds instants (the hours'), which a
 * closed day rolled whole has none of.
 */
export function copyRolledDay(file: string, projectId: string, from: number, to: readonly number[]): number {
  const label = (start: number) => new Date(start).toISOString().slice(0, 10);
  const db = openSqlite(file);
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
      .map(({ name }) => ({
        name,
        columns: (db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name),
      }))
      .filter(({ name, columns }) => name !== 'events' && columns.includes('project_id') && columns.includes('day'));
    let rows = 0;
    db.exec('BEGIN');
    try {
      for (const { name, columns } of tables) {
        if (columns.includes('start')) {
          const held = db
            .prepare(`SELECT COUNT(*) AS n FROM ${name} WHERE project_id = ? AND day = ?`)
            .get(projectId, label(from)) as { n: number };
          if (held.n) throw new Error(`${name} holds ${held.n} rows of ${label(from)}: the day is not rolled up whole`);
          continue;
        }
        const list = columns.join(', ');
        // An hour's value is its local date and hour (`time:hour`): its date moves with the day.
        const values = columns
          .map((c) => {
            if (c === 'day') return '?1';
            if (c === 'value')
              return `CASE WHEN value LIKE '"' || ?3 || ' %' THEN '"' || ?1 || substr(value, 12) ELSE value END`;
            return c;
          })
          .join(', ');
        const insert = db.prepare(
          `INSERT INTO ${name} (${list}) SELECT ${values} FROM ${name} WHERE project_id = ?2 AND day = ?3`,
        );
        for (const start of to) rows += Number(insert.run(label(start), projectId, label(from)).changes);
      }
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return rows;
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
