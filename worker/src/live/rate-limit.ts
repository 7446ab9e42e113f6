/**
 * Token buckets, in events (ingest) or requests (API keys, share links). A bucket holds at most
 * `burst` tokens and refills at `rate` tokens a second, so over any window of T seconds it lets
 * through at most `rate × T + burst` of them.
 */

/** Per-project limits. Defaults below; a project may override any of them (`projects.rate_limits`). */
export interface RateLimits {
  /** Events per second one project may send, sustained. */
  projectRate: number;
  /** Events one project may send at once on top of the sustained rate. */
  projectBurst: number;
  /** Events per second one visitor may send, sustained. */
  visitorRate: number;
  /** Events one visitor may send at once. */
  visitorBurst: number;
}

/**
 * Defaults: a busy site (hundreds of events a second) passes, a flood does not; one visitor can
 * click around freely but cannot script thousands of events.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  projectRate: 500,
  projectBurst: 5_000,
  visitorRate: 10,
  visitorBurst: 100,
};

/**
 * Requests that callers holding a share link may make (`X-Tally-Share`): anyone with a public link
 * can call the stats routes without an account, so one caller must not starve the others.
 */
export interface ShareLimits {
  /** Requests a minute one link may serve, all callers together, sustained. */
  linkPerMinute: number;
  /** Requests one link may serve at once. */
  linkBurst: number;
  /** Requests a minute one client address may make through one link, sustained. */
  addressPerMinute: number;
  /** Requests one client address may make at once through one link. */
  addressBurst: number;
}

/**
 * Defaults that a shared or embedded dashboard never meets. One viewer's dashboard sends ~15
 * requests when it loads and again on each 60 s refresh (only while visible); an export is one.
 * - Per address, 180 a minute with a burst of 90: six dashboard loads at once, a viewer changing
 *   the date range every 5 s for ever, or a dozen viewers refreshing behind one office NAT. A
 *   script on one address gets 3 requests a second: at most 30% of its link's budget.
 * - Per link, 600 a minute with a burst of 200: 40 open dashboards refreshing, 13 loading in the
 *   same moment. It is the ceiling for the link as a whole, however many addresses a caller
 *   rotates through: every stats request is D1 work that the project's members and other links
 *   share, so an anonymous link may not take more than 10 a second of it.
 */
export const DEFAULT_SHARE_LIMITS: ShareLimits = {
  linkPerMinute: 600,
  linkBurst: 200,
  addressPerMinute: 180,
  addressBurst: 90,
};

/** Limits from a project's JSON overrides; keys that are missing or not positive numbers keep their default. */
export function parseRateLimits(json: string | null | undefined): RateLimits {
  if (!json) return DEFAULT_RATE_LIMITS;
  let overrides: unknown;
  try {
    overrides = JSON.parse(json);
  } catch {
    return DEFAULT_RATE_LIMITS;
  }
  const limits = { ...DEFAULT_RATE_LIMITS };
  if (typeof overrides === 'object' && overrides !== null) {
    for (const key of Object.keys(limits) as (keyof RateLimits)[]) {
      const value = (overrides as Record<string, unknown>)[key];
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) limits[key] = value;
    }
  }
  return limits;
}

/** A bucket's state: tokens left at `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/** A full bucket, as a new project or visitor starts with. */
export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/** The bucket refilled up to `now`. Clocks that step back never add tokens. */
export function refill(bucket: Bucket, now: number, rate: number, burst: number): Bucket {
  const elapsed = Math.max(0, now - bucket.at) / 1000;
  return { tokens: Math.min(burst, bucket.tokens + elapsed * rate), at: Math.max(now, bucket.at) };
}

/** Seconds until a (refilled) bucket holds `cost` tokens; 0 if it already does, Infinity if it never can. */
export function secondsUntil(bucket: Bucket, cost: number, rate: number, burst: number): number {
  if (cost > burst) return Number.POSITIVE_INFINITY;
  if (bucket.tokens >= cost) return 0;
  return (cost - bucket.tokens) / rate;
}
