import { type Bucket, DEFAULT_SHARE_LIMITS, fullBucket, refill, secondsUntil } from './rate-limit.ts';
import type { ShareTokenResult } from '../shared/principal.ts';

/** Whether a share link's caller may make one more request; if not, which bucket is empty and how long to wait. */
export type { ShareTokenResult };

/** The `address` of a link's own bucket; an address's is a 32-character hash, never empty. */
const LINK = '';

const { linkPerMinute, linkBurst, addressPerMinute, addressBurst } = DEFAULT_SHARE_LIMITS;
/** The two buckets a request spends from, at their refill rates (tokens a second). */
const BUCKETS = [
  { scope: 'link', rate: linkPerMinute / 60, burst: linkBurst },
  { scope: 'address', rate: addressPerMinute / 60, burst: addressBurst },
] as const;
/** A bucket left alone this long has refilled: dropping its row then forgets nothing. */
const FULL_AFTER_MS = Math.max(...BUCKETS.map(({ rate, burst }) => (burst / rate) * 1000));

/**
 * Request buckets of a project's share links ({@link DEFAULT_SHARE_LIMITS}): one per link and one per
 * (link, client address), in the project's DO so that one call per request answers for every
 * isolate. A row is a bucket, as `api_key_buckets` keeps them. Rows are written only for a request
 * let through (its two buckets, in one statement), and {@link prune} drops the ones that have
 * refilled — a missing bucket is a full one — so rows of addresses seen once do not pile up.
 */
export class ShareBuckets {
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Take one token from the link's bucket and one from the address's, both or neither. */
  take(shareId: string, address: string, now: number): ShareTokenResult {
    const saved = new Map(
      this.sql
        .exec<{ address: string; tokens: number; at: number }>(
          'SELECT address, tokens, at FROM share_buckets WHERE share_id = ? AND address IN (?, ?)',
          shareId,
          LINK,
          address,
        )
        .toArray()
        .map((row): [string, Bucket] => [row.address, row]),
    );
    const buckets = BUCKETS.map(({ scope, rate, burst }) => {
      const key = scope === 'link' ? LINK : address;
      const bucket = refill(saved.get(key) ?? fullBucket(burst, now), now, rate, burst);
      return { scope, key, bucket, wait: secondsUntil(bucket, 1, rate, burst) };
    });
    const longest = buckets.reduce((slower, next) => (next.wait > slower.wait ? next : slower));
    if (longest.wait > 0) return { ok: false, scope: longest.scope, retryAfter: Math.max(1, Math.ceil(longest.wait)) };
    // An upsert on a WITHOUT ROWID table writes one row per bucket: no delete, no separate index.
    this.sql.exec(
      `INSERT INTO share_buckets (share_id, address, tokens, at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)
       ON CONFLICT (share_id, address) DO UPDATE SET tokens = excluded.tokens, at = excluded.at`,
      ...buckets.flatMap(({ key, bucket }) => [shareId, key, bucket.tokens - 1, bucket.at]),
    );
    return { ok: true };
  }

  /** Drop the buckets that have refilled by `now`; whether any are left (housekeeping comes back for them). */
  prune(now: number): boolean {
    // No index on `at`: it would double every take's writes, while this scan reads rows, which cost
    // a thousandth as much, of a table that holds only the last few minutes' callers.
    this.sql.exec('DELETE FROM share_buckets WHERE at <= ?', now - FULL_AFTER_MS);
    return this.sql.exec('SELECT 1 FROM share_buckets LIMIT 1').toArray().length > 0;
  }
}
