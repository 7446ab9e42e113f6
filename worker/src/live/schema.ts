/**
 * The ProjectDO's SQLite schema, as ordered migrations. Every object runs the ones it has not run
 * yet when it starts, each in its own transaction, so a deployed object upgrades in place. Like
 * D1's migrations: append new steps, never edit a released one.
 *
 * NOTE: SQLite in a Durable Object bills every row written, and an index entry is a row: a table
 * that is written per request has no secondary index here (what each step costs is measured in
 * worker/test/project-do-rows.test.ts).
 */

/** A step: a statement, or a function of the object's storage and clock for what SQL alone cannot say. */
type Step = string | ((sql: SqlStorage, now: number) => void);

/** The admission log's tables are named by the second they were created and their first row's id (`log.ts`). */
const GENERATION_PREFIX = 'log_';

/** The table of the admission log's generation created at `second` (since the epoch) whose first row is `first`. */
export function generationTable(second: number, first: number): string {
  return `${GENERATION_PREFIX}${second}_${first}`;
}

/** A generation's second and first id, from its table's name; null for any other table. */
export function parseGenerationTable(table: string): { second: number; first: number } | null {
  const match = /^log_(\d+)_(\d+)$/.exec(table);
  return match ? { second: Number(match[1]), first: Number(match[2]) } : null;
}

/**
 * One generation of the admission log (`log.ts`): a row per visitor per admitted request — its
 * events, waiting for the queue, and the visitor's state after them. WITHOUT ROWID and keyed by
 * (visitor key, id): an insert writes one row, and a visitor's latest state is one seek away.
 */
export function generationTableSql(table: string): string {
  return `CREATE TABLE ${table} (
    key TEXT NOT NULL, id INTEGER NOT NULL, run TEXT NOT NULL, sent_below INTEGER NOT NULL,
    events INTEGER NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID`;
}

/** Every generation table, by name (a read of the schema, not of the rows). */
export function generationTables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'log\\_%' ESCAPE '\\'")
    .toArray()
    .map((row) => row.name);
}

const MIGRATIONS: readonly (readonly Step[])[] = [
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
  [
    // The admission log (log.ts) replaces the visitors table (a row, its primary key and two
    // indexes written per request), recent_events (kept in memory now) and the outbox's rows: one
    // row per visitor per request carries both the events and the visitor's state.
    (sql, now) => {
      // Open visits carry over as state rows without events (never sent).
      if (sql.exec('SELECT 1 FROM visitors LIMIT 1').toArray().length) {
        const table = generationTable(Math.floor(now / 1000), 0);
        sql.exec(generationTableSql(table));
        sql.exec(
          `INSERT INTO ${table} (key, id, run, sent_below, events, body, state)
           SELECT key, seen_at * 1000, 'v5', 0, 0, '', json_object(
             'visitor', visitor, 'sessionId', session_id, 'lastSeen', last_seen, 'liveAt', seen_at, 'seq', seq,
             'page', page, 'country', country, 'tokens', tokens, 'tokensAt', tokens_at)
           FROM visitors`,
        );
      }
      sql.exec('DROP TABLE visitors');
      sql.exec('DROP TABLE recent_events');
      // Rows still in the old outbox are sent from it, then it is dropped (outbox.ts).
      if (!sql.exec('SELECT 1 FROM outbox LIMIT 1').toArray().length) sql.exec('DROP TABLE outbox');
    },
  ],
];

/**
 * Bring an object's storage up to the latest schema (or to version `target`: tests that upgrade an
 * old object build it this way); returns the version it is at.
 */
export function migrateProjectStorage(
  storage: DurableObjectStorage,
  now: number = Date.now(),
  target: number = MIGRATIONS.length,
): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").toArray()[0];
  let version = row ? Number(row.value) : 0;
  for (; version < target; version++) {
    const steps = MIGRATIONS[version] ?? [];
    storage.transactionSync(() => {
      for (const step of steps) {
        if (typeof step === 'string') sql.exec(step);
        else step(sql, now);
      }
      sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", String(version + 1));
    });
  }
  return version;
}
