/**
 * The ProjectDO's SQLite schema, as ordered migrations. Every object runs the ones it has not run
 * yet when it starts, each in its own transaction, so a deployed object upgrades in place. Like
 * D1's migrations: append new steps, never edit a released one.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // Daily salts: only today's and yesterday's ever exist (salts.ts).
    'CREATE TABLE salts (day TEXT PRIMARY KEY, salt TEXT NOT NULL)',
    // Visitors of open visits, found by today's visitor id (sessions.ts).
    `CREATE TABLE visitors (
      key TEXT PRIMARY KEY, visitor TEXT NOT NULL, session_id TEXT NOT NULL, last_seen INTEGER NOT NULL,
      seq INTEGER NOT NULL, page TEXT NOT NULL, country TEXT, tokens REAL NOT NULL, tokens_at INTEGER NOT NULL)`,
    'CREATE INDEX visitors_last_seen ON visitors (last_seen)',
    // Admitted events not yet on the queue: one row per request, events joined by commas (outbox.ts).
    'CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, events INTEGER NOT NULL)',
    // Running totals of dropped events per day and reason (outbox.ts).
    `CREATE TABLE drop_totals (
      day TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL, dirty INTEGER NOT NULL, PRIMARY KEY (day, reason))`,
  ],
  [
    // Token buckets of the project's API keys (project-do.ts, takeApiKeyToken): a row per key used.
    'CREATE TABLE api_key_buckets (key_id TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL)',
  ],
  [
    // The live feed's latest events, so that it survives hibernation (recent.ts). No visitor ids.
    `CREATE TABLE recent_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
      country TEXT, source TEXT)`,
    // Single-use tickets that open a dashboard's live socket, by SHA-256 of the ticket (tickets.ts).
    `CREATE TABLE live_tickets (
      hash TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  ],
  [
    // Server time of each visitor's latest event: live presence counts from it, while visits keep
    // the client's clamped event time in last_seen (sessions.ts). Rows from before take last_seen.
    'ALTER TABLE visitors ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0',
    'UPDATE visitors SET seen_at = last_seen',
    'CREATE INDEX visitors_seen_at ON visitors (seen_at)',
  ],
  [
    // Request buckets of share links (share-buckets.ts): a row per link (address '') and one per
    // (link, client address), the address as a keyed hash. WITHOUT ROWID, so that the primary key
    // is the table and updating a bucket writes one row; pruned by the alarm once refilled.
    `CREATE TABLE share_buckets (
      share_id TEXT NOT NULL, address TEXT NOT NULL, tokens REAL NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (share_id, address)) WITHOUT ROWID`,
  ],
];

/** Bring an object's storage up to the latest schema; returns the version it is at. */
export function migrateProjectStorage(storage: DurableObjectStorage): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").toArray()[0];
  let version = row ? Number(row.value) : 0;
  for (; version < MIGRATIONS.length; version++) {
    const steps = MIGRATIONS[version] ?? [];
    storage.transactionSync(() => {
      for (const step of steps) sql.exec(step);
      sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", String(version + 1));
    });
  }
  return version;
}
