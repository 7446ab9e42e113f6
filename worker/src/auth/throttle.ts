/**
 * Password guessing throttled without handing anyone a way to lock the owner out (OWASP's lockout
 * denial of service). Failures lock what makes them, not whom they are made against:
 *
 * - the pair, one address on one target (an account or a share link): 5 failures in a row lock it
 *   for 15 minutes;
 * - the address, across every target: 20 failures in a row lock it for 15 minutes;
 * - the target never locks. From its 5th failure in a row on, an address that tries it is checked
 *   once, then waits 30 s, doubling with each failure of the target, up to 15 minutes. An address
 *   that has not failed on the target is never kept waiting by it: an attacker rotating addresses
 *   gets one check per fresh address, and the owner from their own address always gets in.
 *
 * Rows live in `sign_in_throttle` (`failures`, `locked_until`: a lock or a wait, `updated_at`);
 * `cleanup.ts` forgets them a day after their last attempt.
 */
import { hmacSha256Hex } from '../shared/crypto.ts';
import { ApiError } from '../shared/errors.ts';

/** Failures in a row that lock one address out of one target. */
export const PAIR_MAX_FAILURES = 5;
/**
 * Failures in a row that lock an address out of every target. NOTE: 20 lets a household or an
 * office behind one address mistype for a while, and still stops a spray of one password across
 * many accounts after 20 of them per 15 minutes.
 */
export const ADDRESS_MAX_FAILURES = 20;
export const LOCK_MS = 15 * 60_000;
/** A target's failures in a row before the addresses that try it are slowed down. */
export const SLOWDOWN_AFTER = 5;
/** The first wait; it doubles with each failure of the target, up to {@link LOCK_MS}. */
export const SLOWDOWN_BASE_MS = 30_000;

/** The rows an attempt counts against. */
export interface AttemptKeys {
  /** What is guessed at: `email:<normalised email>` or `share:<link id>`. */
  target: string;
  /** `pair:<HMAC of the target and the address>`. */
  pair: string;
  /** `ip:<HMAC of the address>`. */
  address: string;
}

/**
 * The keys of an attempt on `target` from `ip`. Addresses appear only as keyed hashes: no one
 * without the server secret can tell which address failed, or test a guess of one.
 *
 * @example
 * ```ts
 * const keys = await attemptKeys(env.AUTH_SECRET, `email:${email}`, request.headers.get('cf-connecting-ip') ?? '');
 * ```
 */
export async function attemptKeys(secret: string, target: string, ip: string): Promise<AttemptKeys> {
  const [pair, address] = await Promise.all([
    hmacSha256Hex(secret, `sign-in-pair\n${target}\n${ip}`),
    hmacSha256Hex(secret, `sign-in-ip\n${ip}`),
  ]);
  return { target, pair: `pair:${pair.slice(0, 32)}`, address: `ip:${address.slice(0, 32)}` };
}

/** How long an address waits after its attempt on a target that has failed this many times in a row. */
export function slowdownMs(targetFailures: number): number {
  if (targetFailures < SLOWDOWN_AFTER) return 0;
  return Math.min(SLOWDOWN_BASE_MS * 2 ** (targetFailures - SLOWDOWN_AFTER), LOCK_MS);
}

/**
 * Count an attempt against a pair or an address before its password is checked, so that guesses
 * sent all at once are counted all at once. A lock that has run out (the count reached ?3) starts
 * the count afresh; a wait that has run out does not. (In an UPDATE, SQLite evaluates every
 * expression against the row as it was.)
 */
const COUNT = `INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?1, 1, NULL, ?2)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN locked_until <= ?2 AND failures >= ?3 THEN 1 ELSE failures + 1 END,
  locked_until = CASE WHEN locked_until <= ?2 THEN NULL ELSE locked_until END,
  updated_at = ?2
RETURNING failures, locked_until`;

/** Refused attempts are not failures: take back what COUNT added. */
const TAKE_BACK = 'UPDATE sign_in_throttle SET failures = MAX(failures - 1, 0) WHERE key = ?';

/**
 * Hold a key: locked until ?4 if its count has reached the limit ?3, else made to wait until ?5
 * (when that is later than now, ?2). A hold never shortens one already there.
 */
const HOLD = `UPDATE sign_in_throttle
SET locked_until = MAX(COALESCE(locked_until, 0), CASE WHEN failures >= ?3 THEN ?4 ELSE ?5 END)
WHERE key = ?1 AND (failures >= ?3 OR ?5 > ?2)`;

/** Take the pair's turn on a slowed-down target: only if no lock or wait holds it (compare and set). */
const TAKE_TURN = `UPDATE sign_in_throttle SET locked_until = ?3
WHERE key = ?1 AND (locked_until IS NULL OR locked_until <= ?2) RETURNING locked_until`;

interface Row {
  failures: number;
  locked_until: number | null;
}

function tooMany(until: number, now: number): ApiError {
  return new ApiError(429, 'rate_limited', 'Too many failed attempts; try again later', undefined, {
    'Retry-After': String(Math.max(1, Math.ceil((until - now) / 1000))),
  });
}

/**
 * Start an attempt: count it against its pair and its address, and refuse it (429 with
 * Retry-After) when either is locked or over its limit, or when its target is slowed down and the
 * pair is waiting or another of its attempts holds the turn. At most {@link PAIR_MAX_FAILURES}
 * attempts of a pair reach the password check between two locks, and one per turn on a
 * slowed-down target, however many arrive at once. A refused attempt is taken back.
 */
export async function beginAttempt(d1: D1Database, keys: AttemptKeys, now: number): Promise<void> {
  const [pair, address, target] = await d1.batch<Row>([
    d1.prepare(COUNT).bind(keys.pair, now, PAIR_MAX_FAILURES),
    d1.prepare(COUNT).bind(keys.address, now, ADDRESS_MAX_FAILURES),
    d1.prepare('SELECT failures, locked_until FROM sign_in_throttle WHERE key = ?').bind(keys.target),
  ]);
  const counted = {
    pair: pair?.results[0],
    address: address?.results[0],
    targetFailures: target?.results[0]?.failures ?? 0,
  };
  const refusedUntil = await refusal(d1, keys, counted, now);
  if (refusedUntil === null) return;
  await d1.batch([d1.prepare(TAKE_BACK).bind(keys.pair), d1.prepare(TAKE_BACK).bind(keys.address)]);
  throw tooMany(refusedUntil, now);
}

/** Until when an attempt is refused, or null if its password is to be checked. */
async function refusal(
  d1: D1Database,
  keys: AttemptKeys,
  counted: { pair: Row | undefined; address: Row | undefined; targetFailures: number },
  now: number,
): Promise<number | null> {
  const { pair, address, targetFailures } = counted;
  const lockedUntil = Math.max(pair?.locked_until ?? 0, address?.locked_until ?? 0);
  if (lockedUntil > now) return lockedUntil;
  const over: D1PreparedStatement[] = [];
  if ((pair?.failures ?? 0) > PAIR_MAX_FAILURES) over.push(hold(d1, keys.pair, PAIR_MAX_FAILURES, now, 0));
  if ((address?.failures ?? 0) > ADDRESS_MAX_FAILURES) over.push(hold(d1, keys.address, ADDRESS_MAX_FAILURES, now, 0));
  if (over.length) {
    await d1.batch(over);
    return now + LOCK_MS;
  }
  const wait = slowdownMs(targetFailures);
  if (wait === 0) return null;
  // The turn is held for the whole wait, so that a check that never finishes still leaves the pair waiting.
  const [turn, held] = await d1.batch<{ locked_until: number | null }>([
    d1.prepare(TAKE_TURN).bind(keys.pair, now, now + wait),
    d1.prepare('SELECT locked_until FROM sign_in_throttle WHERE key = ?').bind(keys.pair),
  ]);
  if (turn?.results.length) return null;
  return Math.max(held?.results[0]?.locked_until ?? 0, now + 1);
}

function hold(d1: D1Database, key: string, limit: number, now: number, waitMs: number): D1PreparedStatement {
  return d1.prepare(HOLD).bind(key, now, limit, now + LOCK_MS, now + waitMs);
}

/**
 * The attempt failed (it is counted already). The target counts it; a pair or an address that has
 * reached its limit is locked; on a slowed-down target the pair waits as long as the target's
 * count now says.
 */
export async function recordFailure(d1: D1Database, keys: AttemptKeys, now: number): Promise<void> {
  const [target] = await d1.batch<{ failures: number }>([
    d1
      .prepare(`INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?1, 1, NULL, ?2)
ON CONFLICT (key) DO UPDATE SET failures = failures + 1, updated_at = ?2 RETURNING failures`)
      .bind(keys.target, now),
    hold(d1, keys.address, ADDRESS_MAX_FAILURES, now, 0),
  ]);
  await hold(d1, keys.pair, PAIR_MAX_FAILURES, now, slowdownMs(target?.results[0]?.failures ?? 0)).run();
}

/**
 * The attempt succeeded: the pair and the target start afresh; the address takes back the
 * attempt, so that a legitimate sign-in does not count against it.
 */
export async function recordSuccess(d1: D1Database, keys: AttemptKeys): Promise<void> {
  await d1.batch([
    d1.prepare('DELETE FROM sign_in_throttle WHERE key IN (?, ?)').bind(keys.pair, keys.target),
    d1.prepare(TAKE_BACK).bind(keys.address),
  ]);
}
