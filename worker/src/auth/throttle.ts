import { ApiError } from '../shared/errors.ts';

/** Five failures in a row lock a key for fifteen minutes. */
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60_000;

/** 429 with Retry-After if any of the keys is locked at `now`. */
export async function checkThrottle(d1: D1Database, keys: string[], now: number): Promise<void> {
  const { results } = await d1
    .prepare(`SELECT MAX(locked_until) AS until FROM sign_in_throttle WHERE key IN (${keys.map(() => '?').join(', ')})`)
    .bind(...keys)
    .all<{ until: number | null }>();
  const lockedUntil = results[0]?.until ?? 0;
  if (lockedUntil > now) {
    throw new ApiError(429, 'rate_limited', 'Too many failed attempts; try again later', undefined, {
      'Retry-After': String(Math.ceil((lockedUntil - now) / 1000)),
    });
  }
}

/**
 * Count a failure against every key, in one statement per key so that concurrent attempts cannot
 * lose a count. The fifth failure in a row locks the key; a lock that has run out starts afresh.
 * (In an UPDATE, SQLite evaluates every expression against the row as it was.)
 */
const RECORD_FAILURE = `INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?1, 1, NULL, ?2)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failures + 1 END,
  locked_until = CASE
    WHEN locked_until > ?2 THEN locked_until
    WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failures + 1 END) >= ?3 THEN ?4
    ELSE NULL END,
  updated_at = ?2`;

/** Record a failed attempt against each key. */
export async function recordFailure(d1: D1Database, keys: string[], now: number): Promise<void> {
  await d1.batch(keys.map((key) => d1.prepare(RECORD_FAILURE).bind(key, now, MAX_FAILURES, now + LOCK_MS)));
}

/** Forget a key's failures (after a successful sign-in). */
export async function clearFailures(d1: D1Database, keys: string[]): Promise<void> {
  await d1.batch(keys.map((key) => d1.prepare('DELETE FROM sign_in_throttle WHERE key = ?').bind(key)));
}
