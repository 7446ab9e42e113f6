/**
 * Small caches that live as long as an isolate: a Map with expiry and a size cap. Every one of them
 * registers here, so that a change that must be seen at once (a project deleted, its settings
 * changed) can forget them all without knowing who caches what.
 */

const registry = new Set<Map<string, unknown>>();

/**
 * A cache of `size` entries at most; the oldest entry goes first.
 *
 * @example
 * ```ts
 * const sites = isolateCache<SiteConfig | null>(1_000);
 * const site = await sites.get(key, now, 60_000, () => loadSite(key));
 * ```
 */
export function isolateCache<T>(size: number) {
  const entries = new Map<string, { value: T; expires: number }>();
  registry.add(entries as Map<string, unknown>);
  return {
    /** The cached value of `key`, or `load()`'s, kept for `ttl(value)` ms. */
    async get(key: string, now: number, ttl: (value: T) => number, load: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit && hit.expires > now) return hit.value;
      const value = await load();
      if (entries.size >= size) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, expires: now + ttl(value) });
      return value;
    },
  };
}

/** Forget every isolate cache (after a project's settings change or deletion, and between tests). */
export function clearIsolateCaches(): void {
  for (const entries of registry) entries.clear();
}
