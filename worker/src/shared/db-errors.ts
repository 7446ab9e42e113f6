/** Recognising the database errors that are the caller's fault rather than ours. */

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
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (/UNIQUE constraint failed/i.test(cause.message)) return true;
  }
  return false;
}

/**
 * Whether an error is a storage hiccup that a retry will likely get past: D1 or a Durable Object
 * overloaded, reset or unreachable. Such a failure is answered 503 with `Retry-After`, not 500:
 * the client did nothing wrong, and nothing it sent was taken.
 */
export function isTransientStorageError(error: unknown): boolean {
  const transient =
    /Network connection lost|overloaded|reset because|caused object to be reset|exceeded timeout|D1_ERROR: .*(timed out|busy)/i;
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (transient.test(cause.message)) return true;
  }
  return false;
}
