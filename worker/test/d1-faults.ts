/**
 * Fault injection for the real D1 binding: `FaultyD1` wraps `env.DB` and makes the statements a test
 * chooses throw exactly what D1 throws (`D1_ERROR: <SQLite message>`, with the SQLite message as its
 * `cause`), while every other statement runs against the real database. The local runtime cannot
 * fill a database or take it offline (D1 refuses `PRAGMA max_page_count`: `SQLITE_AUTH`), so this
 * is the one stand-in; the code under test is the production code, unchanged.
 */
import { env } from 'cloudflare:workers';

/** What a full database answers every write that needs a page (D1's 10 GB limit, or a full disk). */
export const D1_FULL = 'database or disk is full: SQLITE_FULL';
/** What an unreachable database answers (the binding itself fails, nothing ran). */
export const D1_UNAVAILABLE = 'Network connection lost.';
/** A storage timeout: D1 resets the object, and the statement did not run. */
export const D1_TIMEOUT = 'D1 DB storage operation exceeded timeout which caused object to be reset.';

/** The error D1's binding throws for a SQLite message: `D1_ERROR: …`, caused by the bare message. */
export function d1Error(message: string): Error {
  return new Error(`D1_ERROR: ${message}`, { cause: new Error(message) });
}

/** Statements that change the database: what a full database refuses (reads still work). */
export const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|WITH\b[\s\S]*\b(INSERT|UPDATE|DELETE))/i;

/** Which statements fail, and with what; `null` lets everything through. */
export interface Fault {
  message: string;
  /** The statements (by SQL text) that fail; all of them when absent. */
  when?: (sql: string) => boolean;
  /** Calls (a statement run, or a batch) that the fault lets through before it strikes: a fault mid-way. */
  skip?: number;
}

/**
 * A D1 binding over the real one whose chosen statements fail while `fault` is set. A batch fails
 * as a whole (it is one transaction) when any of its statements would. Counts what it refused.
 *
 * @example
 * ```ts
 * const d1 = new FaultyD1();
 * d1.fault = { message: D1_FULL, when: (sql) => WRITES.test(sql) };
 * await consumeBatch(batch, { ...env, DB: d1.db }); // every write throws D1_ERROR: … SQLITE_FULL
 * d1.fault = null; // the disk has room again
 * ```
 */
export class FaultyD1 {
  fault: Fault | null = null;
  refused = 0;
  private passed = 0;
  readonly db: D1Database;
  private readonly sqlOf = new WeakMap<object, string>();
  private readonly realOf = new WeakMap<object, D1PreparedStatement>();

  constructor(target: D1Database = env.DB) {
    this.db = new Proxy(target, {
      get: (base, property) => {
        if (property === 'prepare') return (sql: string) => this.wrap(base.prepare(sql), sql);
        if (property === 'batch') {
          return (statements: D1PreparedStatement[]) => {
            const sqls = statements.map((s) => this.sqlOf.get(s) ?? '');
            this.check(sqls);
            return base.batch(statements.map((s) => this.realOf.get(s) ?? s));
          };
        }
        if (property === 'exec') {
          return (sql: string) => {
            this.check([sql]);
            return base.exec(sql);
          };
        }
        const value = Reflect.get(base, property);
        return typeof value === 'function' ? value.bind(base) : value;
      },
    });
  }

  /** Throw the fault's error if it strikes any of these statements. */
  private check(sqls: string[]): void {
    const { fault } = this;
    if (!fault || !sqls.some((sql) => !fault.when || fault.when(sql))) return;
    if (this.passed < (fault.skip ?? 0)) {
      this.passed++;
      return;
    }
    this.refused++;
    throw d1Error(fault.message);
  }

  private wrap(statement: D1PreparedStatement, sql: string): D1PreparedStatement {
    const proxy = new Proxy(statement, {
      get: (base, property) => {
        if (property === 'bind') return (...values: unknown[]) => this.wrap(base.bind(...values), sql);
        if (property === 'run' || property === 'all' || property === 'first' || property === 'raw') {
          const method = Reflect.get(base, property) as (...args: unknown[]) => Promise<unknown>;
          return async (...args: unknown[]) => {
            this.check([sql]);
            return method.apply(base, args);
          };
        }
        const value = Reflect.get(base, property);
        return typeof value === 'function' ? value.bind(base) : value;
      },
    });
    this.sqlOf.set(proxy, sql);
    this.realOf.set(proxy, statement);
    return proxy;
  }
}
