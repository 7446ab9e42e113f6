import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { IssuedTokens } from './sessions.ts';
import { REFRESH_TTL_MS } from './tokens.ts';

/** Cookie names. The refresh cookie is only ever sent to the auth routes. */
export const ACCESS_COOKIE = 'tally_access';
export const REFRESH_COOKIE = 'tally_refresh';
const REFRESH_PATH = '/api/auth';

// HttpOnly: scripts cannot read them (XSS cannot steal a session). Secure: HTTPS only (browsers
// treat http://localhost as secure). SameSite=Lax: not sent on cross-site subrequests (CSRF).
const BASE = { httpOnly: true, secure: true, sameSite: 'Lax' } as const;

/** Put a session's tokens into cookies. */
export function setSessionCookies(c: Context, tokens: IssuedTokens): void {
  setCookie(c, ACCESS_COOKIE, tokens.accessToken, { ...BASE, path: '/api', maxAge: tokens.expiresIn });
  setCookie(c, REFRESH_COOKIE, tokens.refreshToken, {
    ...BASE,
    path: REFRESH_PATH,
    maxAge: Math.floor(REFRESH_TTL_MS / 1000),
  });
}

/** Remove the session cookies. */
export function clearSessionCookies(c: Context): void {
  deleteCookie(c, ACCESS_COOKIE, { ...BASE, path: '/api' });
  deleteCookie(c, REFRESH_COOKIE, { ...BASE, path: REFRESH_PATH });
}

/** The refresh token a request carries, in its cookie. */
export function refreshCookie(c: Context): string | undefined {
  return getCookie(c, REFRESH_COOKIE);
}
