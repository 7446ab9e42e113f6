import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { getDb } from '../db/index.ts';
import { hmacSha256Hex } from '../shared/crypto.ts';
import { ApiError } from '../shared/errors.ts';
import type { AppEnv } from '../shared/hono.ts';
import type { ApiKeyTokenResult, Principal, ProjectMeters, ShareTokenResult } from '../shared/principal.ts';
import { verifyApiKeyFrom } from './api-key-throttle.ts';
import { recordApiKeyUse, type VerifiedApiKey } from './api-keys.ts';
import { ACCESS_COOKIE } from './cookies.ts';
import { isSessionOpen } from './sessions.ts';
import { verifyShareAccess } from './share-access.ts';
import { verifyAccessToken } from './tokens.ts';

export type { Principal };

/** Headers that carry a share link's slug and, for a password-protected one, its access token. */
export const SHARE_HEADER = 'x-tally-share';
export const SHARE_TOKEN_HEADER = 'x-tally-share-token';

/** Routes that start a session: a dead access cookie must not lock a browser out of them. */
const SESSION_STARTS = /^\/api\/auth\/(signin|signup|refresh)$/;

const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);

/**
 * Find out who is calling, from (in order) `Authorization: Bearer` (an API key `tly_…` or an access
 * JWT), `X-Tally-Key`, the access cookie, or a share link header. Credentials that are present but
 * invalid are refused outright (401) rather than treated as anonymous — except the access cookie on
 * the routes that start a session, which a browser keeps sending after its session was revoked.
 * API keys are metered per key (`api_keys.rate_limit` requests a minute), share links per link and
 * per (link, client address) (`DEFAULT_SHARE_LIMITS`): past a limit, 429 with `Retry-After`.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const now = Date.now();
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
  const apiKey = bearer?.startsWith('tly_') ? bearer : c.req.header('x-tally-key');
  const cookie = SESSION_STARTS.test(c.req.path) ? undefined : getCookie(c, ACCESS_COOKIE);
  const jwt = bearer && !bearer.startsWith('tly_') ? bearer : cookie;
  const share = c.req.header(SHARE_HEADER);
  const ip = c.req.header('cf-connecting-ip') ?? '';
  const db = getDb(c.env.DB);

  let principal: Principal | null = null;
  if (apiKey) {
    const key = await verifyApiKeyFrom(c.env, apiKey, ip, now);
    if (!key) throw unauthorized('Invalid API key');
    await takeApiKeyToken(c.env, key, now);
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
    await takeShareTokens(c.env, access, ip, now);
    principal = { kind: 'share', shareId: access.shareId, projectId: access.projectId };
  }
  c.set('principal', principal);
  await next();
});

/**
 * Spend one of a key's requests; 429 with `Retry-After` when its per-minute budget is gone. The
 * bucket lives in the key's project DO: one call per request, shared by every isolate.
 */
async function takeApiKeyToken(env: Env, key: VerifiedApiKey, now: number): Promise<void> {
  const result = await meter<ApiKeyTokenResult>(env, key.projectId, 'takeApiKeyToken', (stub) =>
    stub.takeApiKeyToken(key.id, key.rateLimit, now),
  );
  if (!result.ok) throw rateLimited('This API key is making too many requests', result.retryAfter);
}

/**
 * Spend one of a share link's requests and one of its caller's; 429 with `Retry-After` when either
 * budget is gone. Privacy: the project DO keeps the address only as an HMAC under the server
 * secret, salted with the link, so no row holds an address and rows of two links cannot be matched.
 */
export async function takeShareTokens(
  env: Env,
  access: { shareId: string; projectId: string },
  ip: string,
  now: number,
): Promise<void> {
  const address = (await hmacSha256Hex(env.AUTH_SECRET, `share-ip\n${access.shareId}\n${ip}`)).slice(0, 32);
  const result = await meter<ShareTokenResult>(env, access.projectId, 'takeShareTokens', (stub) =>
    stub.takeShareTokens(access.shareId, address, now),
  );
  if (!result.ok) {
    throw rateLimited(
      result.scope === 'link'
        ? 'This share link is serving too many requests; retry later'
        : 'Too many requests from this address through this share link',
      result.retryAfter,
    );
  }
}

/** One call to a project's DO that meters a request. */
async function meter<T>(
  env: Env,
  projectId: string,
  name: string,
  call: (stub: DurableObjectStub<ProjectMeters & Rpc.DurableObjectBranded>) => Promise<T>,
): Promise<T> {
  const stub = env.PROJECT.get(env.PROJECT.idFromName(projectId)) as DurableObjectStub<
    ProjectMeters & Rpc.DurableObjectBranded
  >;
  try {
    return await call(stub);
  } catch (error) {
    // Fail closed: an unmetered caller is what the limits exist to prevent. Never retry an overloaded DO.
    console.error(`ProjectDO ${name} failed:`, error instanceof Error ? error.message : String(error));
    throw new ApiError(503, 'unavailable', 'The API is unavailable; retry later', undefined, { 'Retry-After': '5' });
  }
}

const rateLimited = (message: string, retryAfter: number) =>
  new ApiError(429, 'rate_limited', message, undefined, { 'Retry-After': String(retryAfter) });

/** The signed-in user, or 401. Routes about one's own account accept nothing else. */
export function requireUser(principal: Principal | null): Extract<Principal, { kind: 'user' }> {
  if (principal?.kind !== 'user') throw unauthorized('Sign in first');
  return principal;
}
