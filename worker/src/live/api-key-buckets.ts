import { fullBucket, refill, secondsUntil } from './rate-limit.ts';
import type { ApiKeyTokenResult } from '../shared/principal.ts';

/** Whether an API key may make one more request, and if not, how long to wait. */
export type { ApiKeyTokenResult };

/**
 * Per-key request buckets, in the key's project DO so that one call per request answers for every
 * isolate: `perMinute` tokens at most, refilled at `perMinute` per minute.
 */
export class ApiKeyBuckets {
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Take one token from a key's bucket. */
  take(keyId: string, perMinute: number, now: number): ApiKeyTokenResult {
    const rate = perMinute / 60;
    const saved = this.sql
      .exec<{ tokens: number; at: number }>('SELECT tokens, at FROM api_key_buckets WHERE key_id = ?', keyId)
      .toArray()[0];
    const bucket = refill(saved ?? fullBucket(perMinute, now), now, rate, perMinute);
    const wait = secondsUntil(bucket, 1, rate, perMinute);
    if (wait > 0) return { ok: false, retryAfter: Math.max(1, Math.ceil(wait)) };
    this.sql.exec(
      'INSERT OR REPLACE INTO api_key_buckets (key_id, tokens, at) VALUES (?, ?, ?)',
      keyId,
      bucket.tokens - 1,
      bucket.at,
    );
    return { ok: true };
  }
}
