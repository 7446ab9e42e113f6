/**
 * The dashboard's server: `/api/*`, the tracker and the live widget go to the API worker (service
 * binding `API`, WebSocket upgrades included); pages get the security headers, and a share link's
 * view the `frame-ancestors` its link allows (frame-ancestors.ts). In `vite dev` the
 * same paths never reach this hook — Vite's proxy sends them to the local worker (vite.config.ts).
 */
import type { Handle } from '@sveltejs/kit';
import { forward, isWorkerPath } from '$lib/server/forward.ts';
import { allowFraming, shareFrameAncestors, shareSlug } from '$lib/server/frame-ancestors.ts';

const PAGE_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
  // The CSP (svelte.config.js) says `frame-ancestors 'none'`; this is for browsers that predate it.
  'X-Frame-Options': 'DENY',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
};

export const handle: Handle = async ({ event, resolve }) => {
  if (isWorkerPath(event.url.pathname)) {
    const api = event.platform?.env?.API;
    if (!api) {
      return Response.json(
        { error: { code: 'unavailable', message: 'The dashboard has no API binding (see dashboard/wrangler.toml)' } },
        { status: 502 },
      );
    }
    return forward(event.request, api, event.platform?.caches?.default, event.platform?.ctx);
  }
  const response = await resolve(event);
  for (const [name, value] of Object.entries(PAGE_HEADERS)) response.headers.set(name, value);
  // A share link's view may be framed by the origins its link lists; every other page by none.
  const slug = shareSlug(event.url.pathname);
  const api = event.platform?.env?.API;
  if (slug && api) allowFraming(response.headers, await shareFrameAncestors(api, event.url.origin, slug));
  return response;
};
