import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { getDb } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import type { AppEnv } from '../shared/hono.ts';
import { type ApiKeyScope, recordApiKeyUse, verifyApiKey } from './api-keys.ts';
import { ACCESS_COOKIE } from './cookies.ts';
import { isSessionOpen } from './sessions.ts';
import { verifyShareAccess } from './share-access.ts';
import { verifyAccessToken } from './tokens.ts';

/** Who is calling. */
export type Principal =
  | { kind: 'user'; userId: string; sessionId: string }
  | { kind: 'apiKey'; keyId: string; projectId: string; scopes: ApiKeyScope[] }
  | { kind: 'share'; shareId: string; projectId: string };

/** Headers that carry a share link's slug and, for a password-protected one, its access token. */
export const SHARE_HEADER = 'x-tally-share';
export const SHARE_TOKEN_HEADER = 'x-tally-share-token';

const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);

/**
 * Find out who is calling, from (in order) `Authorization: Bearer` (an API key `tly_…` or an access
 * JWT), `X-Tally-Key`, the access cookie, or a share link header. Credentials that are present but
 * invalid are refused outright (401) rather than treated as anonymous.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const now = Date.now();
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
  const apiKey = bearer?.startsWith('tly_') ? bearer : c.req.header('x-tally-key');
  const jwt = bearer && !bearer.startsWith('tly_') ? bearer : getCookie(c, ACCESS_COOKIE);
  const share = c.req.header(SHARE_HEADER);
  const db = getDb(c.env.DB);

  let principal: Principal | null = null;
  if (apiKey) {
    const key = await verifyApiKey(c.env.DB, c.env.API_KEY_PEPPER, apiKey, now);
    if (!key) throw unauthorized('Invalid API key');
    c.executionCtx.waitUntil(recordApiKeyUse(c.env.DB, key.id, now).catch(() => undefined));
    principal = { kind: 'apiKey', keyId: key.id, projectId: key.projectId, scopes: key.scopes };
  } else if (jwt) {
    const claims = await verifyAccessToken(c.env.AUTH_SECRET, jwt, now);
    if (!claims || !(await isSessionOpen(db, claims.sessionId, claims.userId))) {
      throw unauthorized('The session is invalid or has expired');
    }
    principal = { kind: 'user', userId: claims.userId, sessionId: claims.sessionId };
  } else if (share) {
    const access = await verifyShareAccess(c.env, share, c.req.header(SHARE_TOKEN_HEADER), now);
    principal = { kind: 'share', shareId: access.shareId, projectId: access.projectId };
  }
  c.set('principal', principal);
  await next();
});

/** The signed-in user, or 401. Routes about one's own account accept nothing else. */
export function requireUser(principal: Principal | null): Extract<Principal, { kind: 'user' }> {
  if (principal?.kind !== 'user') throw unauthorized('Sign in first');
  return principal;
}
