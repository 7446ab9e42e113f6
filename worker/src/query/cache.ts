/**
 * Caching answers with the Cache API. A key names everything an answer depends on: the query and
 * its resolved ranges, the project's settings and goals, the version of its rollups (bumped by
 * every rollup run and retention purge) and the write counts of the marked hours the ranges
 * touch (bumped by every consumer write). So a new event, late or not, changes the key of every
 * answer it could change: nothing cached can hide it. TTLs only bound how long unused keys live.
 */
import type { Marks } from './rollup-read.ts';

/** What a project's stored numbers look like right now, for one span of time. */
export interface Freshness {
  version: number;
  marks: Marks;
}

const HOUR_MS = 3_600_000;
/** Answers about ranges that include now live a minute; closed ranges a day. */
export const OPEN_TTL_S = 60;
export const CLOSED_TTL_S = 86_400;

/** The two reads that tell how fresh a project's numbers are over [start, end). */
export function freshnessStatements(d1: D1Database, projectId: string, start: number, end: number) {
  return [
    d1.prepare('SELECT version FROM rollup_state WHERE project_id = ?').bind(projectId),
    // A local day reaches at most 14 hours beyond its UTC day; an hour either side covers the
    // hours that straddle the span's first and last local midnight.
    d1
      .prepare('SELECT hour, mark, rolled FROM rollup_dirty WHERE project_id = ? AND hour >= ? AND hour <= ?')
      .bind(projectId, Math.floor(start / HOUR_MS) - 1, Math.floor(end / HOUR_MS) + 1),
  ];
}

/** Read the answers of {@link freshnessStatements}. */
export function readFreshness(answers: D1Result[]): Freshness {
  const version = (answers[0]?.results[0] as { version?: number } | undefined)?.version ?? 0;
  const rows = (answers[1]?.results ?? []) as { hour: number; mark: number; rolled: number | null }[];
  const hours = new Map(rows.map((row) => [row.hour, row.mark]));
  const settled = new Set(rows.filter((row) => row.rolled === row.mark).map((row) => row.hour));
  return { version, marks: { hours, settled } };
}

/** The cache key of an answer: a URL that no client can ask for. */
export async function cacheKey(projectId: string, freshness: Freshness, parts: unknown): Promise<Request> {
  const text = JSON.stringify([parts, freshness.version, [...freshness.marks.hours], [...freshness.marks.settled]]);
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
