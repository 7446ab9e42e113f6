/** Recognising database errors: the caller's fault (a constraint), or the store's (full, unavailable). */

/**
 * Whether a failed write broke a UNIQUE index or primary key. Drizzle wraps D1's error (as the
 * `cause` of a `DrizzleQueryError`), so the whole chain is searched.
 *
 * @example
 * ```ts
 * try { await db.update(goals).set(row).where(...); } catch (error) { if (isUniqueViolation(error)) ... }
 * ```
 */
export function isUniqueViolation(error: unknown): boolean {
  return messagesOf(error).some((message) => /UNIQUE constraint failed/i.test(message));
}

/**
 * Whether an error is a storage hiccup that a retry will likely get past: D1 or a Durable Object
 * overloaded, reset, unreachable or full. Such a failure is answered 503 with `Retry-After`, not
 * 500: the client did nothing wrong, and nothing it sent was taken.
 */
export function isTransientStorageError(error: unknown): boolean {
  return messagesOf(error).some((message) => TRANSIENT.test(message) || FULL.test(message));
}

/** How D1 says it is failing, as an API error code and `GET /api/health` name it. */
export type StoreFaultCode = 'store_full' | 'store_unavailable';

const TRANSIENT =
  /Network connection lost|overloaded|reset because|caused object to be reset|exceeded timeout|transient issue|client disconnected|D1_ERROR: .*(timed out|busy)/i;
/** SQLite's SQLITE_FULL (D1 past its size limit, or its disk full) and D1's own wording of the limit. */
const FULL = /SQLITE_FULL|database or disk is full|maximum (DB|database) size/i;

/**
 * Whether an error is D1 failing rather than the statement: full (`D1_ERROR: database or disk is
 * full: SQLITE_FULL`) or unavailable (unreachable, overloaded, reset, timed out). Only errors that
 * D1's binding raised count (their chain holds a `D1_ERROR` message); a Durable Object's storage
 * failing is not the store. A statement D1 refuses for good (a constraint) is neither: null.
 *
 * @example
 * ```ts
 * storeFault(new Error('D1_ERROR: database or disk is full: SQLITE_FULL')); // 'store_full'
 * ```
 */
export function storeFault(error: unknown): StoreFaultCode | null {
  const messages = messagesOf(error);
  if (!messages.some((message) => /^D1_/.test(message))) return null;
  if (messages.some((message) => FULL.test(message))) return 'store_full';
  if (messages.some((message) => TRANSIENT.test(message))) return 'store_unavailable';
  return null;
}

/** An error's message and its causes' (drizzle wraps D1's error as the `cause` of its own). */
function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    messages.push(cause.message);
  }
  return messages;
}
