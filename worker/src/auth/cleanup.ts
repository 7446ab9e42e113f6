import { REFRESH_TTL_MS } from './tokens.ts';

/** Rows deleted per table per run: bounded work, the next run carries on. */
const BATCH = 5_000;
const DAY_MS = 86_400_000;

/**
 * Forget what no longer guards anything: refresh tokens a day past expiry, sessions revoked or
 * idle beyond the refresh lifetime, and throttle rows (`throttle.ts`, `api-key-throttle.ts`) a
 * day after their last attempt whose lock or wait (if any) has run out — whatever their key: so an
 * account's or a link's failures in a row, and with them its slowdown, are forgotten after a quiet
 * day. Returns the rows deleted per table.
 */
export async function purgeExpiredAuth(d1: D1Database, now: number): Promise<Record<string, number>> {
  const statements = {
    refresh_tokens: d1
      .prepare(
        `DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE expires_at < ? LIMIT ${BATCH})`,
      )
      .bind(now - DAY_MS),
    sessions: d1
      .prepare(
        `DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE revoked_at < ?1 OR last_used_at < ?1 LIMIT ${BATCH})`,
      )
      .bind(now - REFRESH_TTL_MS - DAY_MS),
    sign_in_throttle: d1
      .prepare(
        `DELETE FROM sign_in_throttle WHERE rowid IN (SELECT rowid FROM sign_in_throttle
         WHERE updated_at < ?1 AND (locked_until IS NULL OR locked_until < ?2) LIMIT ${BATCH})`,
      )
      .bind(now - DAY_MS, now),
  };
  const results = await d1.batch(Object.values(statements));
  return Object.fromEntries(Object.keys(statements).map((table, index) => [table, results[index]?.meta.changes ?? 0]));
}
