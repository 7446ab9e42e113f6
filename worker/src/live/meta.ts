/**
 * The ProjectDO's `meta` table: a few named values (the project's id, its bucket, what was sent),
 * read and written here only.
 */

/** A value of `meta`, or null when it was never written. */
export function readMeta(sql: SqlStorage, key: string): string | null {
  return sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value ?? null;
}

/** Write a value of `meta`. */
export function writeMeta(sql: SqlStorage, key: string, value: string): void {
  // An upsert writes one row when the key exists; INSERT OR REPLACE would delete and insert.
  sql.exec(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    key,
    value,
  );
}
