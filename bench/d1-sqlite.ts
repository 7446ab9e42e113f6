/**
 * D1's binding over a local SQLite file (`node:sqlite`): what the Worker's scheduled handler asks
 * of D1 — `prepare`, `bind`, `all`, `run`, `first`, `raw`, and `batch` as one transaction, as D1
 * runs it. The bench builds its cached rollups by running the real cron code through it: about
 * twice as fast here as through workerd's local D1 (a 333k-event day rolls up in ~15 s, not ~30 s),
 * and a 10M dataset has 29 such days. Nothing the bench times goes through it.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { D1Like } from './stack.ts';

/** What one statement gave: D1's answer shape, with the meta the Worker's code reads. */
interface Answer {
  success: true;
  results: Record<string, SQLInputValue>[];
  meta: { changes: number; rows_read: number; rows_written: number };
}

/** D1 binds booleans as 1 and 0, and has no `undefined`. */
function sqlValue(value: unknown): SQLInputValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value === undefined ? null : (value as SQLInputValue);
}

class Prepared {
  private readonly local: Local;
  readonly sql: string;
  private readonly params: readonly unknown[];

  constructor(local: Local, sql: string, params: readonly unknown[] = []) {
    this.local = local;
    this.sql = sql;
    this.params = params;
  }

  bind(...values: unknown[]): Prepared {
    return new Prepared(this.local, this.sql, values);
  }

  execute(): Answer {
    const statement = this.local.statement(this.sql);
    const args = this.params.map(sqlValue);
    const before = this.local.totalChanges();
    let results: Record<string, SQLInputValue>[] = [];
    if (statement.columns().length) results = statement.all(...args) as Record<string, SQLInputValue>[];
    else statement.run(...args);
    const changes = this.local.totalChanges() - before;
    return { success: true, results, meta: { changes, rows_read: 0, rows_written: changes } };
  }

  async all(): Promise<Answer> {
    return this.execute();
  }

  async run(): Promise<Answer> {
    return this.execute();
  }

  async first(column?: string): Promise<unknown> {
    const row = this.execute().results[0] ?? null;
    return column === undefined ? row : (row?.[column] ?? null);
  }

  async raw(): Promise<unknown[][]> {
    return this.execute().results.map((row) => Object.values(row));
  }
}

class Local {
  private readonly db: DatabaseSync;
  private readonly cache = new Map<string, StatementSync>();
  private readonly changes: StatementSync;

  constructor(file: string) {
    this.db = new DatabaseSync(file);
    this.db.exec('PRAGMA busy_timeout = 10000');
    this.changes = this.db.prepare('SELECT total_changes() AS n');
  }

  statement(sql: string): StatementSync {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }

  /** Rows inserted, updated or deleted since the file was opened. */
  totalChanges(): number {
    return Number((this.changes.get() as { n: number }).n);
  }

  prepare(sql: string): Prepared {
    return new Prepared(this, sql);
  }

  async batch(list: readonly Prepared[]): Promise<Answer[]> {
    this.db.exec('BEGIN');
    try {
      const answers = list.map((statement) => statement.execute());
      this.db.exec('COMMIT');
      return answers;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}

/**
 * A D1 binding over `file`, and a way to close it. `written()` counts the rows its statements have
 * changed so far.
 *
 * @example
 * ```ts
 * const local = localD1(d1File(dir));
 * try { await local.d1.prepare('SELECT 1').all(); } finally { local.close(); }
 * ```
 */
export function localD1(file: string): { d1: D1Like; written: () => number; close: () => void } {
  const local = new Local(file);
  return { d1: local as unknown as D1Like, written: () => local.totalChanges(), close: () => local.close() };
}
