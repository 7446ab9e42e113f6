import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../shared/errors.ts';
import type { AppEnv } from '../shared/hono.ts';
import { ACCESS_COOKIE, REFRESH_COOKIE } from './cookies.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The API's own origin, plus `ALLOWED_ORIGINS` (comma-separated) from the environment. */
export function allowedOrigins(requestUrl: string, configured: string | undefined): Set<string> {
  const origins = new Set([new URL(requestUrl).origin]);
  for (const origin of (configured ?? '').split(',')) if (origin.trim()) origins.add(origin.trim().replace(/\/$/, ''));
  return origins;
}

/**
 * CSRF protection for the management API. A state-changing request that a browser could make on
 * a user's behalf — one that carries our cookies, or that would set them (sign-in, sign-up) — must
 * come from an allowed `Origin`. Requests authenticated only by a header (`Authorization`, an API
 * key) cannot be forged cross-site and need no Origin, so API clients work unchanged.
 */
export const csrfProtection = createMiddleware<AppEnv>(async (c, next) => {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const origin = c.req.header('origin');
  const fetchSite = c.req.header('sec-fetch-site');
  const usesCookies = getCookie(c, ACCESS_COOKIE) !== undefined || getCookie(c, REFRESH_COOKIE) !== undefined;
  const setsCookies = /^\/api\/auth\/(signin|signup|refresh)$/.test(c.req.path);
  if (origin !== undefined) {
    if (!allowedOrigins(c.req.url, c.env.ALLOWED_ORIGINS).has(origin)) {
      throw new ApiError(403, 'forbidden', 'Cross-origin request refused');
    }
  } else if (fetchSite === 'cross-site' || (usesCookies && !c.req.header('authorization'))) {
    throw new ApiError(403, 'forbidden', 'State-changing requests from a browser must carry an allowed Origin');
  } else if (setsCookies && fetchSite !== undefined && fetchSite !== 'same-origin') {
    throw new ApiError(403, 'forbidden', 'Cross-origin request refused');
  }
  return next();
});
