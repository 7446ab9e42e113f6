import { hmacSha256Hex } from '../shared/crypto.ts';
import { ApiError } from '../shared/errors.ts';
import { type VerifiedApiKey, verifyApiKey } from './api-keys.ts';

/**
 * Failed API-key attempts an address may make within {@link API_KEY_WINDOW_MS} before it is locked
 * out of key authentication. Servers with a revoked key retry, so this is looser than sign-in's 5.
 */
export const API_KEY_MAX_FAILURES = 20;
export const API_KEY_WINDOW_MS = 15 * 60_000;
export const API_KEY_LOCK_MS = 15 * 60_000;

/** Counts a failure; a count from an expired lock or an old window starts afresh. */
const FAIL = `INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?1, 1, NULL, ?2)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN locked_until <= ?2 OR updated_at <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
  locked_until = CASE WHEN locked_until <= ?2 THEN NULL ELSE locked_until END,
  updated_at = ?2`;
const LOCK = `UPDATE sign_in_throttle SET locked_until = ?2
WHERE key = ?1 AND failures >= ?3 AND (locked_until IS NULL OR locked_until <= ?4)`;

/** The throttle row of an address: a keyed hash, never the address (shares sign-in's table and cleanup). */
async function throttleKey(secret: string, ip: string): Promise<string> {
  return `api-key-ip:${(await hmacSha256Hex(secret, `api-key-ip\n${ip}`)).slice(0, 32)}`;
}

/**
 * Verify an API key, throttled per client address: after {@link API_KEY_MAX_FAILURES} bad keys an
 * address gets 429 (with `Retry-After`) for every key, good ones included — so a guess that happens
 * to be right during the lock reveals nothing. Bad keys otherwise all get the caller's one 401.
 * The lock check runs beside the key lookup, so a good key waits for no extra round trip.
 *
 * @example
 * ```ts
 * const key = await verifyApiKeyFrom(env, 'tly_…', request.headers.get('cf-connecting-ip') ?? '', Date.now());
 * if (!key) throw new ApiError(401, 'unauthorized', 'Invalid API key');
 * ```
 */
export async function verifyApiKeyFrom(
  env: Pick<Env, 'DB' | 'API_KEY_PEPPER' | 'AUTH_SECRET'>,
  key: string,
  ip: string,
  now: number,
): Promise<VerifiedApiKey | null> {
  const row = await throttleKey(env.AUTH_SECRET, ip);
  const [lock, verified] = await Promise.all([
    env.DB.prepare('SELECT locked_until FROM sign_in_throttle WHERE key = ?')
      .bind(row)
      .first<{ locked_until: number | null }>(),
    verifyApiKey(env.DB, env.API_KEY_PEPPER, key, now),
  ]);
  const lockedUntil = lock?.locked_until ?? 0;
  if (lockedUntil > now) {
    throw new ApiError(429, 'rate_limited', 'Too many invalid API keys from this address; try again later', undefined, {
      'Retry-After': String(Math.max(1, Math.ceil((lockedUntil - now) / 1000))),
    });
  }
  if (!verified) {
    await env.DB.batch([
      env.DB.prepare(FAIL).bind(row, now, API_KEY_WINDOW_MS),
      env.DB.prepare(LOCK).bind(row, now + API_KEY_LOCK_MS, API_KEY_MAX_FAILURES, now),
    ]);
  }
  return verified;
}
