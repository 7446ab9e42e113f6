/**
 * Writing events: the only code that inserts into `events`. Every insert travels with the marks of
 * its hours (`freshness.ts`) in the same batch, so that a stored event is always either in the
 * rollups or in a marked hour. The consumer, the demo seed, the bench and the tests write here.
 */
import { getTableColumns, getTableName } from 'drizzle-orm';
import { events, type PendingEvent, type StoredEvent } from '../db/schema.ts';
import { MARK_EVENT_HOURS_SQL } from './freshness.ts';

export type { PendingEvent, StoredEvent };

/**
 * NOTE: D1 allows 100 bound parameters per statement, which would be three events of thirty-odd
 * columns. Instead each statement binds ONE parameter — a JSON array of events — and SQLite's
 * `json_each` expands it into rows. Chunks stay far below D1's 2 MB value limit.
 */
const CHUNK_BYTES = 500_000;

const columns = Object.entries(getTableColumns(events)).map(([key, column]) => ({
  key,
  name: column.name,
  required: column.notNull && !column.hasDefault,
  type: column.dataType === 'boolean' ? 'boolean' : column.dataType === 'number' ? 'number' : 'string',
}));

/**
 * Why a value cannot be stored as an event, or null if it can: every required column present and
 * every value of its column's type. Checked per event so that one bad event is quarantined alone.
 */
export function eventProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const event = value as Record<string, unknown>;
  for (const column of columns) {
    const field = event[column.key];
    if (field === undefined || field === null) {
      if (column.required) return `${column.key} is missing`;
    } else if (typeof field !== column.type || (column.type === 'number' && !Number.isFinite(field))) {
      return `${column.key} is not a ${column.type}`;
    }
  }
  return null;
}

/**
 * Insert-or-ignore keyed by (project, event id): a redelivered message inserts nothing twice.
 * Written as `ON CONFLICT … DO NOTHING` rather than `INSERT OR IGNORE`, which would also skip rows
 * that break a NOT NULL constraint — silently losing them instead of failing loudly.
 * The caller writes only events of projects that exist, to their project's database
 * (`pool.ts`); in a database a project has left, a trigger refuses them (`project_fences`). Built
 * from the drizzle schema, so a new column is written as soon as it exists.
 */
const INSERT_EVENTS = `INSERT INTO ${getTableName(events)} (${columns.map((c) => `"${c.name}"`).join(', ')})
SELECT ${columns.map((c) => `value ->> '$.${c.key}'`).join(', ')} FROM json_each(?1) WHERE true
ON CONFLICT (project_id, id) DO NOTHING`;

/** Statements that write these events (and mark their hours), each under D1's statement limits. */
export function insertEventStatements(d1: D1Database, rows: readonly StoredEvent[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const close = () => {
    const body = `[${chunk.join(',')}]`;
    if (chunk.length)
      statements.push(d1.prepare(INSERT_EVENTS).bind(body), d1.prepare(MARK_EVENT_HOURS_SQL).bind(body));
    chunk = [];
    bytes = 0;
  };
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (bytes + json.length > CHUNK_BYTES) close();
    chunk.push(json);
    bytes += json.length + 1;
  }
  close();
  return statements;
}
