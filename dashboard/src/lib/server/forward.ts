/**
 * Forwarding from the dashboard (Pages) to the API worker through its service binding, so that the
 * browser talks to one origin: the session cookies are first-party, and the worker's Origin check
 * sees the dashboard's own origin. Share-link reads are cached at the edge for a minute.
 */

/** Paths the API worker answers: the API itself, the tracker (`/t.js`, `/t.<hash>.js`) and the live widget. */
export function isWorkerPath(pathname: string): boolean {
  return (
    pathname === '/api' ||
    pathname.startsWith('/api/') ||
    /^\/t(\.[\w-]+)?\.js$/.test(pathname) ||
    pathname === '/live.js'
  );
}

/** How long public share-view answers stay in the edge cache. */
export const SHARE_CACHE_SECONDS = 60;

const SHARE_READS = new Set(['/api/v1/query', '/api/v1/funnel', '/api/v1/drops']);

/**
 * The cache key of a share-link read, or null when the request must not be cached: only reads by a
 * link without a password (a token is per viewer), carrying no cookies, are shared between viewers.
 * POST bodies are part of the key through their SHA-256, since the Cache API keys GET requests only.
 */
export async function shareCacheKey(request: Request, body: string | null): Promise<Request | null> {
  const slug = request.headers.get('x-tally-share');
  if (!slug || request.headers.has('x-tally-share-token') || request.headers.has('cookie')) return null;
  if (request.headers.has('authorization') || request.headers.has('x-tally-key')) return null;
  const url = new URL(request.url);
  const isLinkRead = request.method === 'GET' && url.pathname.startsWith('/api/share/');
  const isStatsRead = request.method === 'POST' && SHARE_READS.has(url.pathname);
  if (!isLinkRead && !isStatsRead) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${slug}\n${body ?? ''}`));
  const hash = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return new Request(`${url.origin}/__share-cache${url.pathname}?key=${hash}`, { method: 'GET' });
}

interface Binding {
  fetch(request: Request): Promise<Response>;
}

interface EdgeCache {
  match(request: Request): Promise<Response | undefined>;
  put(request: Request, response: Response): Promise<void>;
}

/**
 * Send a request to the worker; share-link reads go through the edge cache.
 *
 * @example
 * ```ts
 * return forward(event.request, platform.env.API, platform.caches?.default, platform.ctx);
 * ```
 */
export async function forward(
  request: Request,
  api: Binding,
  cache: EdgeCache | undefined,
  ctx: { waitUntil(promise: Promise<unknown>): void } | undefined,
): Promise<Response> {
  if (!cache || !request.headers.has('x-tally-share')) return api.fetch(request);
  const body = request.method === 'POST' ? await request.text() : null;
  const key = await shareCacheKey(request, body);
  const upstream = new Request(request, { body });
  if (!key) return api.fetch(upstream);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await api.fetch(upstream);
  if (response.status !== 200) return response;
  const cached = new Response(response.body, response);
  cached.headers.set('Cache-Control', `public, max-age=${SHARE_CACHE_SECONDS}`);
  const stored = cache.put(key, cached.clone());
  if (ctx) ctx.waitUntil(stored);
  else await stored;
  return cached;
}
