/**
 * A move's work on rows (`move.ts` drives it): one table's rows of one project, in primary-key order
 * and bounded chunks — copied from the source to the target, compared between the two, or deleted.
 * Every function does one bounded piece and says where it stopped, so that the caller can record
 * that in `project_moves` and go on from there after a crash.
 */
import { getTableName, is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from '../db/schema.ts';
import { POOL_TABLES } from './delete.ts';

/** A data-plane table as a move handles it. */
export interface MovedTable {
  name: string;
  columns: string[];
  /** The primary key without `project_id` (empty for `rollup_state`: one row per project). */
  key: string[];
}

/**
 * The tables a move copies, verifies and deletes: `POOL_TABLES` with their columns and keys from
 * the drizzle schema, so that a column or table added later is moved without touching this file.
 */
export const MOVED_TABLES: readonly MovedTable[] = POOL_TABLES.map((name) => {
  const table = (Object.values(schema) as unknown[]).find(
    (value): value is SQLiteTable => is(value, SQLiteTable) && getTableName(value) === name,
  );
  if (!table) throw new Error(`no table ${name} in the schema`);
  const config = getTableConfig(table);
  const key = config.primaryKeys[0]?.columns ?? config.columns.filter((column) => column.primary);
  const names = key.map((column) => column.name);
  if (!config.columns.some((column) => column.name === 'project_id')) throw new Error(`${name}: no project_id`);
  // NOTE: a key that does not start with project_id (`archive_pending`'s object key) is walked in
  // key order with the project as a filter, not a seek: only for a table that stays small.
  return { name, columns: config.columns.map((column) => column.name), key: names.filter((n) => n !== 'project_id') };
});

/** A primary key after `project_id`, as JSON text (`project_moves.cursor`). */
export type Cursor = string;

/** Rows read per chunk: about 600 KB of events. */
const READ_ROWS = 1_000;
/**
 * NOTE: D1 allows 100 bound parameters per statement: each insert binds ONE parameter, a JSON array
 * of rows that `json_each` expands (as `events.ts` does), kept far below D1's 2 MB value limit.
 */
const INSERT_BYTES = 500_000;
/** Rows deleted per statement, so that no statement holds D1's single writer for long. */
const DELETE_ROWS = 5_000;

const quoted = (names: readonly string[]) => names.map((name) => `"${name}"`).join(', ');

/**
 * `SELECT <what> FROM <table>` of one project's rows after `cursor` (if any) and up to `upTo` (if
 * any), in key order, at most `limit`: the one statement every read of a move is built from, so the
 * source and the target are read by the same SQL.
 */
function keyRange(d1: D1Database, table: MovedTable, what: string, range: KeyRange): D1PreparedStatement {
  const keys = quoted(table.key);
  const after = range.after === null ? [] : (JSON.parse(range.after) as unknown[]);
  const upTo = range.upTo === null ? [] : (JSON.parse(range.upTo) as unknown[]);
  const marks = (values: unknown[], from: number) => values.map((_, i) => `?${from + i}`).join(', ');
  const where = ['project_id = ?1'];
  if (table.key.length && after.length) where.push(`(${keys}) > (${marks(after, 2)})`);
  if (table.key.length && upTo.length) where.push(`(${keys}) <= (${marks(upTo, 2 + after.length)})`);
  const order = table.key.length ? `ORDER BY ${keys}` : '';
  return d1
    .prepare(`SELECT ${what} FROM "${table.name}" WHERE ${where.join(' AND ')} ${order} LIMIT ${range.limit}`)
    .bind(range.projectId, ...after, ...upTo);
}

interface KeyRange {
  projectId: string;
  after: Cursor | null;
  upTo: Cursor | null;
  limit: number;
}

const keyOf = (table: MovedTable) => `json_array(${quoted(table.key)}) AS move_key`;

/**
 * Copy the next chunk of a table's rows after `cursor` from `source` to `target`. Inserting skips
 * rows the target has (a chunk copied again after a crash): the source's rows hold still during a
 * move, so such a row is the same row. Returns the key of the last row copied, or null when no row
 * is left after `cursor`.
 */
export async function copyChunk(
  source: D1Database,
  target: D1Database,
  table: MovedTable,
  projectId: string,
  cursor: Cursor | null,
): Promise<Cursor | null> {
  // A table keyed by the project alone has one row, copied with the first chunk.
  if (!table.key.length && cursor !== null) return null;
  const { results } = await keyRange(source, table, `${keyOf(table)}, ${quoted(table.columns)}`, {
    projectId,
    after: cursor,
    upTo: null,
    limit: READ_ROWS,
  }).all<Record<string, unknown> & { move_key: string }>();
  const last = results.at(-1);
  if (!last) return null;
  const insert = `INSERT INTO "${table.name}" (${quoted(table.columns)})
SELECT ${table.columns.map((name) => `value ->> '$.${name}'`).join(', ')} FROM json_each(?1) WHERE true
ON CONFLICT DO NOTHING`;
  const statements: D1PreparedStatement[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const close = () => {
    if (chunk.length) statements.push(target.prepare(insert).bind(`[${chunk.join(',')}]`));
    chunk = [];
    bytes = 0;
  };
  for (const row of results) {
    const json = JSON.stringify(Object.fromEntries(table.columns.map((name) => [name, row[name]])));
    if (bytes + json.length > INSERT_BYTES) close();
    chunk.push(json);
    bytes += json.length + 1;
  }
  close();
  await target.batch(statements);
  return last.move_key;
}

/** A side's running check of one table: rows seen, and a SHA-256 chained over their text. */
export interface TableCheck {
  count: number;
  sum: string;
}

/** What comparing one chunk found. */
export interface VerifyChunk {
  source: TableCheck;
  target: TableCheck;
  /** The key of the chunk's last row; null when the table is done. */
  cursor: Cursor | null;
}

async function chained(check: TableCheck, rows: readonly { move_row: string }[]): Promise<TableCheck> {
  const text = `${check.sum}\n${rows.map((row) => row.move_row).join('\n')}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  const sum = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return { count: check.count + rows.length, sum };
}

/**
 * Read the next chunk of a table's rows after `cursor` from both sides — the source's next rows,
 * and the target's rows up to the last of them, by the same SQL (each row as the JSON array of its
 * columns) — and fold them into each side's count and checksum. When the source has no row left,
 * the target must have none either: one there is counted, so the checks differ.
 */
export async function verifyChunk(
  source: D1Database,
  target: D1Database,
  table: MovedTable,
  projectId: string,
  cursor: Cursor | null,
  checks: { source: TableCheck; target: TableCheck },
): Promise<VerifyChunk> {
  if (!table.key.length && cursor !== null) return { ...checks, cursor: null };
  const what = `${keyOf(table)}, json_array(${quoted(table.columns)}) AS move_row`;
  type Row = { move_key: string; move_row: string };
  const { results: theirs } = await keyRange(source, table, what, {
    projectId,
    after: cursor,
    upTo: null,
    limit: READ_ROWS,
  }).all<Row>();
  const last = theirs.at(-1)?.move_key ?? null;
  const { results: ours } = await keyRange(target, table, what, {
    projectId,
    after: cursor,
    upTo: last,
    // No upper key when the source is done: any row after the cursor is one too many.
    limit: last === null ? 1 : READ_ROWS + 1,
  }).all<Row>();
  return {
    source: await chained(checks.source, theirs),
    target: await chained(checks.target, ours),
    cursor: last,
  };
}

/**
 * Delete up to a chunk of a project's rows of a table; true once none is left. Rows are named by
 * their primary key (WITHOUT ROWID tables such as `pair_rollups` have no rowid).
 */
export async function deleteChunk(d1: D1Database, table: MovedTable, projectId: string): Promise<boolean> {
  const key = quoted(['project_id', ...table.key]);
  const result = await d1
    .prepare(
      `DELETE FROM "${table.name}" WHERE (${key}) IN (SELECT ${key} FROM "${table.name}" WHERE project_id = ? LIMIT ${DELETE_ROWS})`,
    )
    .bind(projectId)
    .run();
  return result.meta.changes < DELETE_ROWS;
}
