import { and, eq, isNull, ne } from 'drizzle-orm';
import { type Db, refreshTokens, sessions } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import { ACCESS_TTL_S, hashToken, REFRESH_TTL_MS, randomToken, signAccessToken } from './tokens.ts';

/** What a sign-in or a refresh hands out. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  userId: string;
  /** Seconds the access token is valid. */
  expiresIn: number;
  refreshExpiresAt: number;
}

const refused = () => new ApiError(401, 'unauthorized', 'The session has ended; sign in again');

async function issue(db: Db, secret: string, userId: string, sessionId: string, now: number): Promise<IssuedTokens> {
  const refreshToken = randomToken();
  const refreshExpiresAt = now + REFRESH_TTL_MS;
  await db
    .insert(refreshTokens)
    .values({ tokenHash: await hashToken(refreshToken), sessionId, createdAt: now, expiresAt: refreshExpiresAt });
  const accessToken = await signAccessToken(secret, { userId, sessionId }, now);
  return { accessToken, refreshToken, sessionId, userId, expiresIn: ACCESS_TTL_S, refreshExpiresAt };
}

/** Start a session (a refresh-token family) for a user who just proved who they are. */
export async function startSession(db: Db, secret: string, userId: string, now: number): Promise<IssuedTokens> {
  const sessionId = uuidv7(now);
  await db.insert(sessions).values({ id: sessionId, userId, createdAt: now, lastUsedAt: now });
  return issue(db, secret, userId, sessionId, now);
}

/**
 * Trade a refresh token for a new pair. Each refresh token works once: a token presented again
 * after it was used — by an attacker who stole it, or by its owner after the attacker did — revokes
 * the whole family, signing both out.
 */
export async function refreshSession(db: Db, secret: string, refreshToken: string, now: number): Promise<IssuedTokens> {
  const row = await db
    .select({
      sessionId: refreshTokens.sessionId,
      usedAt: refreshTokens.usedAt,
      expiresAt: refreshTokens.expiresAt,
      userId: sessions.userId,
      revokedAt: sessions.revokedAt,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .where(eq(refreshTokens.tokenHash, await hashToken(refreshToken)))
    .get();
  if (!row || row.revokedAt !== null) throw refused();
  if (row.usedAt !== null) {
    await revokeSession(db, row.sessionId, now);
    throw refused();
  }
  if (row.expiresAt <= now) throw refused();
  // Marking used is conditional, so two concurrent refreshes cannot both succeed: the loser is a reuse.
  const marked = await db
    .update(refreshTokens)
    .set({ usedAt: now })
    .where(and(eq(refreshTokens.tokenHash, await hashToken(refreshToken)), isNull(refreshTokens.usedAt)))
    .returning({ sessionId: refreshTokens.sessionId });
  if (!marked.length) {
    await revokeSession(db, row.sessionId, now);
    throw refused();
  }
  await db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, row.sessionId));
  return issue(db, secret, row.userId, row.sessionId, now);
}

/** End a session: its access tokens stop working at once, its refresh tokens never work again. */
export async function revokeSession(db: Db, sessionId: string, now: number): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** End the session a refresh token belongs to; false if the token is unknown. */
export async function revokeByRefreshToken(db: Db, refreshToken: string, now: number): Promise<boolean> {
  const row = await db
    .select({ sessionId: refreshTokens.sessionId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await hashToken(refreshToken)))
    .get();
  if (!row) return false;
  await revokeSession(db, row.sessionId, now);
  return true;
}

/** End every session of a user, except one (the caller's, after a password change). */
export async function revokeUserSessions(db: Db, userId: string, now: number, except?: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), except ? ne(sessions.id, except) : undefined));
}

/**
 * Whether a session is still open. Fails closed: if the database cannot answer, the caller gets
 * an error, never access.
 */
export async function isSessionOpen(db: Db, sessionId: string, userId: string): Promise<boolean> {
  const row = await db
    .select({ userId: sessions.userId, revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
    .get();
  return !!row && row.userId === userId && row.revokedAt === null;
}
