import { sha256Hex } from '../shared/crypto.ts';
import { jwtVerify, SignJWT } from 'jose';

/** Access tokens live 15 minutes; refresh tokens 30 days. */
export const ACCESS_TTL_S = 15 * 60;
export const REFRESH_TTL_MS = 30 * 86_400_000;

const ISSUER = 'tally';
const AUDIENCE = 'tally-api';
/** NOTE: the algorithm is pinned: `alg: none` and any other algorithm (RS/HS confusion) are refused. */
const ALGORITHM = 'HS256';

/** Who an access token speaks for. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
}

function signingKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * A signed access JWT (HS256) for a user's session, valid for 15 minutes from `now`.
 *
 * @example
 * ```ts
 * const jwt = await signAccessToken(env.AUTH_SECRET, { userId, sessionId }, Date.now());
 * ```
 */
export async function signAccessToken(secret: string, claims: AccessClaims, now: number): Promise<string> {
  const issuedAt = Math.floor(now / 1000);
  return new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ACCESS_TTL_S)
    .sign(signingKey(secret));
}

/**
 * The claims of a valid access token, or null: wrong algorithm, wrong key, tampered, expired, or
 * wrong issuer or audience. Whether its session was revoked is checked by the caller.
 */
export async function verifyAccessToken(secret: string, token: string, now: number): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, signingKey(secret), {
      algorithms: [ALGORITHM],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'sid', 'exp', 'iat'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return null;
  }
}

/** A fresh opaque token: 32 random bytes, base64url. */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** SHA-256 of a token, hex: what the database keeps instead of the token. */
export async function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}
