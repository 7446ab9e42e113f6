/**
 * Caching answers with the Cache API. A key names everything an answer depends on: the query and
 * its resolved ranges, the project's settings and goals, the version of its rollups (bumped by
 * every rollup run and retention purge) and the write counts of the marked hours the ranges
 * touch (bumped by every consumer write). So a new event, late or not, changes the key of every
 * answer it could change: nothing cached can hide it. TTLs only bound how long unused keys live.
 */
import type { Freshness } from '../store/index.ts';

/** Answers about ranges that include now live a minute; closed ranges a day. */
export const OPEN_TTL_S = 60;
export const CLOSED_TTL_S = 86_400;

/** The cache key of an answer: a URL that no client can ask for. */
export async function cacheKey(projectId: string, freshness: Freshness, parts: unknown): Promise<Request> {
  const text = JSON.stringify([
    parts,
    freshness.version,
    [...freshness.marks.hours],
    [...freshness.marks.settled],
    [...freshness.stale],
    freshness.rawFrom,
  ]);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const hash = [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return new Request(`https://cache.tally.internal/query/${encodeURIComponent(projectId)}/${hash}`);
}

/** The answer cached under `key`, or null. */
export async function cacheGet<T>(key: Request): Promise<T | null> {
  const cache = typeof caches === 'undefined' ? null : caches.default;
  const hit = await cache?.match(key);
  return hit ? hit.json<T>() : null;
}

/** Cache `value` under `key` for `ttlSeconds`. */
export async function cachePut(key: Request, ttlSeconds: number, value: unknown): Promise<void> {
  const cache = typeof caches === 'undefined' ? null : caches.default;
  await cache?.put(
    key,
    new Response(JSON.stringify(value), {
      headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttlSeconds}` },
    }),
  );
}
