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
  // ~1 GB of page cache: the events table's two indexes stay in memory while they grow.
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

/** A prepared INSERT of rows in `EVENT_COLUMNS` order. */
export function eventInsert(db: DatabaseSync): StatementSync {
  return db.prepare(
    `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')})`,
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

/** What a generated dataset holds. */
export interface Dataset {
  events: number;
  /** Bytes of the SQLite file per event (table, indexes and marks; before any rollup). */
  bytesPerEvent: number;
  /** First and last UTC day (YYYY-MM-DD), inclusive. */
  from: string;
  to: string;
  ms: number;
}

/**
 * Fill a project with `total` events spread over the `days` UTC days that end with `lastDay`
 * (its start in ms), then mark every hour that received events dirty, as the consumer does, so
 * that the rollup cron has the whole history to roll up.
 */
export function generateDataset(
  file: string,
  projectId: string,
  total: number,
  days: number,
  lastDay: number,
  progress: (done: number) => void,
): Dataset {
  const started = performance.now();
  const before = statSync(file).size;
  const db = openSqlite(file);
  try {
    checkColumns(db);
    const insert = eventInsert(db);
    const rand = random(7);
    const counter = { next: 1 };
    let events = 0;
    const firstDay = lastDay - (days - 1) * DAY_MS;
    for (let day = 0; day < days; day++) {
      // Weekdays are busier than weekends, as on most sites.
      const weekday = new Date(firstDay + day * DAY_MS).getUTCDay();
      const share = weekday === 0 || weekday === 6 ? 0.8 : 1.08;
      const target = day === days - 1 ? total - events : Math.round((total / days) * share);
      const rows = dayRows(projectId, firstDay + day * DAY_MS, Math.max(1, target), rand, counter);
      insertRows(db, insert, rows);
      events += rows.length;
      progress(events);
    }
    markDirty(db, projectId);
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const bytesPerEvent = (statSync(file).size - before) / events;
    return { events, bytesPerEvent, from: iso(firstDay), to: iso(lastDay), ms: performance.now() - started };
  } finally {
    db.close();
  }
}

/**
 * Mark every hour of the project that holds events, as the consumer marks the hours it writes
 * (a mark that exists is bumped, so a rollup in flight cannot clear it).
 */
function markDirty(db: DatabaseSync, projectId: string): void {
  const hasMarks = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollup_dirty'").get();
  if (hasMarks) {
    // The store's own marking SQL (node:sqlite runs it as D1 would).
    db.prepare(MARK_SPAN_HOURS_SQL).run(projectId, 0, Number.MAX_SAFE_INTEGER);
  }
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
}

/**
 * Grow a generated dataset `factor`-fold in SQL: each copy of the original rows gets new event,
 * visit and visitor ids (the last three hex digits, `000` in generated ids, become the copy's
 * number) and keeps its times, so the copies are other visitors making the same kinds of visits.
 * Far faster than generating rows in JavaScript, which matters at ten million.
 */
export function multiplyDataset(
  file: string,
  projectId: string,
  factor: number,
  progress: (copies: number) => void,
): { events: number; ms: number } {
  const started = performance.now();
  const db = openSqlite(file);
  try {
    const suffixed = (column: string, keep: number) => `substr(${column}, 1, ${keep}) || printf('%03x', ?1)`;
    const select = EVENT_COLUMNS.map((column) => {
      if (column === 'id' || column === 'session_id') return suffixed(column, 33);
      if (column === 'visitor_id') return suffixed(column, 13);
      return column;
    });
    const copy = db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS.join(', ')})
       SELECT ${select.join(', ')} FROM events WHERE project_id = ?2 AND substr(id, 34, 3) = '000' ORDER BY ts`,
    );
    for (let k = 1; k < factor; k++) {
      db.exec('BEGIN');
      copy.run(k, projectId);
      db.exec('COMMIT');
      progress(k);
    }
    markDirty(db, projectId);
    const events = Number(
      (db.prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ?').get(projectId) as { n: number }).n,
    );
    return { events, ms: performance.now() - started };
  } finally {
    db.close();
  }
}
