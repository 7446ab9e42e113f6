/** Recognising database errors: the caller's fault (a constraint), or the store's (full, unavailable). */
import type { StoreFaultCode } from '@tally/sdk/protocol';

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

export type { StoreFaultCode };

const TRANSIENT =
  /Network connection lost|overloaded|reset because|caused object to be reset|exceeded timeout|transient issue|client disconnected|D1_ERROR: .*(timed out|busy)/i;
/** SQLite's SQLITE_FULL (D1 past its size limit, or its disk full) and D1's own wording of the limit. */
const FULL = /SQLITE_FULL|database or disk is full|maximum (DB|database) size/i;
/** D1's binding prefixes what its engine answered (`D1_ERROR: …`, `D1_TYPE_ERROR: …`). */
const FROM_D1 = /^D1_/;

/**
 * Whether an error that may come from anywhere is D1 failing rather than the statement: full
 * (`D1_ERROR: database or disk is full: SQLITE_FULL`) or unavailable (overloaded, reset, timed out).
 * Only errors whose chain holds a `D1_` message count, so a Durable Object's storage failing is not
 * taken for D1 (`app.onError` cannot tell who threw). A code that knows it called D1 uses
 * `d1CallFault`, which also knows the binding's own transport failures. A statement D1 refuses for
 * good (a constraint) is neither: null.
 *
 * @example
 * ```ts
 * storeFault(new Error('D1_ERROR: database or disk is full: SQLITE_FULL')); // 'store_full'
 * ```
 */
export function storeFault(error: unknown): StoreFaultCode | null {
  return messagesOf(error).some((message) => FROM_D1.test(message)) ? d1CallFault(error) : null;
}

/**
 * `storeFault` for an error a D1 call threw. The binding throws a failed fetch to D1 unwrapped
 * (workerd's d1-api awaits the fetch outside the try that adds `D1_ERROR:`), so an unreachable D1
 * says only `Network connection lost.`: the caller's knowledge that it called D1 stands in for the
 * prefix.
 *
 * @example
 * ```ts
 * try { await d1.batch(statements); } catch (error) { d1CallFault(error); } // 'store_unavailable' for 'Network connection lost.'
 * ```
 */
export function d1CallFault(error: unknown): StoreFaultCode | null {
  const messages = messagesOf(error);
  if (messages.some((message) => FULL.test(message))) return 'store_full';
  if (messages.some((message) => TRANSIENT.test(message))) return 'store_unavailable';
  return null;
}

/**
 * Whether D1's engine answered a D1 call with an error that is not the store failing: the statement
 * itself was refused (a constraint, a type, no such column). What one message alone reproduces
 * this way is that message's fault; an error without D1's prefix (the binding, the runtime) is not
 * known to be anyone's.
 */
export function isStatementError(error: unknown): boolean {
  return !d1CallFault(error) && messagesOf(error).some((message) => FROM_D1.test(message));
}

/** An error's message and its causes' (drizzle wraps D1's error as the `cause` of its own). */
function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    messages.push(cause.message);
  }
  return messages;
}
