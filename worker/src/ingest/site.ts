import { type ApiKeyScope, recordApiKeyUse, verifyApiKeyFrom } from '../auth/index.ts';
import { loadSiteById, loadSiteBySiteKey, type SiteConfig } from '../projects/site-config.ts';
import { ApiError } from '../shared/errors.ts';
import { clearIsolateCaches, isolateCache } from '../shared/isolate-cache.ts';

/** Found sites are cached for a minute per isolate; unknown keys for ten seconds. */
const FOUND_TTL_MS = 60_000;
const MISSING_TTL_MS = 10_000;
const sites = isolateCache<SiteConfig | null>(1_000);
const ttl = (site: SiteConfig | null) => (site ? FOUND_TTL_MS : MISSING_TTL_MS);

/** Forget cached sites (after a project's settings change, and between tests). */
export const clearSiteCache = clearIsolateCaches;

/** The project a public site key belongs to; 404 when none does. */
export async function siteForKey(d1: D1Database, siteKey: string, now: number): Promise<SiteConfig> {
  const site = await sites.get(`site:${siteKey}`, now, ttl, () => loadSiteBySiteKey(d1, siteKey));
  if (!site) throw new ApiError(404, 'unknown_site', 'No project has this site key');
  return site;
}

/**
 * The project a secret API key belongs to, if the key holds `scope`. Unknown, revoked, expired and
 * malformed keys all get the same 401; an address that sent too many gets 429 (`api-key-throttle.ts`).
 */
export async function siteForApiKey(
  env: Pick<Env, 'DB' | 'API_KEY_PEPPER' | 'AUTH_SECRET'>,
  key: string,
  ip: string,
  scope: ApiKeyScope,
  now: number,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<SiteConfig> {
  const verified = await verifyApiKeyFrom(env, key, ip, now);
  if (!verified) throw new ApiError(401, 'unauthorized', 'Invalid API key');
  if (!verified.scopes.includes(scope)) throw new ApiError(403, 'forbidden', `This API key lacks the ${scope} scope`);
  waitUntil(recordApiKeyUse(env.DB, verified.id, now).catch(() => undefined));
  const site = await sites.get(`project:${verified.projectId}`, now, ttl, () =>
    loadSiteById(env.DB, verified.projectId),
  );
  if (!site) throw new ApiError(401, 'unauthorized', 'Invalid API key');
  return site;
}
