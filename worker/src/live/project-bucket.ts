/**
 * The project's token bucket, in the ProjectDO's memory. Every admission takes from it and every
 * admission's log row carries it (`log.ts`), so a restart that found events waiting reads it back
 * from there; otherwise the copy in `meta` stands. That copy is written at the end of an alarm
 * run only while the bucket is low, so a restart forgives at most a tenth of the burst — and a
 * quiet site, whose bucket is always nearly full, never writes it.
 */
import { readMeta, writeMeta } from './meta.ts';
import { type Bucket, fullBucket, type RateLimits, refill } from './rate-limit.ts';

/** Below this share of its burst the bucket is written. */
const KEPT_BELOW = 0.9;

/** The project's bucket. */
export class ProjectBucket {
  private bucket: Bucket | null = null;
  private limits: RateLimits | null = null;
  /** Whether the copy last written was low (written once more when it is not, so that none stays). */
  private keptLow = false;

  /** The `meta` table comes from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** The bucket as it stands: in memory, else as last written, else full. */
  current(burst: number, now: number): Bucket {
    if (!this.bucket) {
      const saved = this.saved();
      this.keptLow = saved !== null;
      this.bucket = saved ?? fullBucket(burst, now);
    }
    return this.bucket;
  }

  /** The bucket after an admission took from it, and the limits that admission gave. */
  took(bucket: Bucket, limits: RateLimits): void {
    this.bucket = bucket;
    this.limits = limits;
  }

  /** A bucket a restart read back from the log: it stands unless memory or `meta` has a newer one. */
  recovered(bucket: Bucket | null): void {
    const known = this.bucket ?? this.saved();
    if (bucket && (!known || bucket.at >= known.at)) this.bucket = bucket;
  }

  /** At the end of an alarm run: write the bucket if forgetting it would forgive more than a tenth of the burst. */
  keep(now: number): void {
    const { bucket, limits } = this;
    if (!bucket || !limits) return;
    const low = refill(bucket, now, limits.projectRate, limits.projectBurst).tokens < KEPT_BELOW * limits.projectBurst;
    if (!low && !this.keptLow) return;
    writeMeta(this.sql, 'project_bucket', JSON.stringify(bucket));
    this.keptLow = low;
  }

  private saved(): Bucket | null {
    const value = readMeta(this.sql, 'project_bucket');
    return value === null ? null : (JSON.parse(value) as Bucket);
  }
}
