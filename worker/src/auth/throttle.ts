import { ApiError } from '../shared/errors.ts';

/** Five failures in a row lock a key for fifteen minutes. */
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60_000;

/**
 * Count an attempt against a key before its password is checked, so that guesses sent all at once
 * are counted all at once. A lock that has run out starts the count afresh.
 * (In an UPDATE, SQLite evaluates every expression against the row as it was.)
 */
const BEGIN = `INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?1, 1, NULL, ?2)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN locked_until <= ?2 THEN 1 ELSE failures + 1 END,
  locked_until = CASE WHEN locked_until <= ?2 THEN NULL ELSE locked_until END,
  updated_at = ?2
RETURNING failures, locked_until`;

/** Lock keys whose count has reached the limit (unless they are locked already). */
const LOCK = `UPDATE sign_in_throttle SET locked_until = ?2
WHERE key = ?1 AND failures >= ?3 AND (locked_until IS NULL OR locked_until <= ?4)`;

function tooMany(lockedUntil: number, now: number): ApiError {
  return new ApiError(429, 'rate_limited', 'Too many failed attempts; try again later', undefined, {
    'Retry-After': String(Math.max(1, Math.ceil((lockedUntil - now) / 1000))),
  });
}

/**
 * Start an attempt: count it against every key, and refuse it (429 with Retry-After) when a key is
 * locked or this attempt would be one more than the limit allows. At most `MAX_FAILURES` attempts
 * ever reach the password check between two locks, however many arrive at once.
 */
export async function beginAttempt(d1: D1Database, keys: string[], now: number): Promise<void> {
  const results = await d1.batch<{ failures: number; locked_until: number | null }>(
    keys.map((key) => d1.prepare(BEGIN).bind(key, now)),
  );
  const rows = results.flatMap((result) => result.results);
  const lockedUntil = Math.max(0, ...rows.map((row) => row.locked_until ?? 0));
  if (lockedUntil > now) throw tooMany(lockedUntil, now);
  if (rows.some((row) => row.failures > MAX_FAILURES)) {
    await lock(d1, keys, now);
    throw tooMany(now + LOCK_MS, now);
  }
}

async function lock(d1: D1Database, keys: string[], now: number): Promise<void> {
  await d1.batch(keys.map((key) => d1.prepare(LOCK).bind(key, now + LOCK_MS, MAX_FAILURES, now)));
}

/** The attempt failed: it is counted already; the one that reaches the limit locks the key. */
export async function recordFailure(d1: D1Database, keys: string[], now: number): Promise<void> {
  await lock(d1, keys, now);
}

/**
 * The attempt succeeded: the first key (the account) starts afresh; the others (the IP) take back
 * the attempt, so a legitimate sign-in does not count against an address.
 */
export async function recordSuccess(d1: D1Database, keys: string[]): Promise<void> {
  const [account, ...others] = keys;
  await d1.batch([
    ...(account ? [d1.prepare('DELETE FROM sign_in_throttle WHERE key = ?').bind(account)] : []),
    ...others.map((key) =>
      d1.prepare('UPDATE sign_in_throttle SET failures = MAX(failures - 1, 0) WHERE key = ?').bind(key),
    ),
  ]);
}
