import { eq } from 'drizzle-orm';
import { jwtVerify, SignJWT } from 'jose';
import { getDb, shareLinks } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import { verifyPassword } from './password.ts';
import { attemptKeys, beginAttempt, recordFailure, recordSuccess } from './throttle.ts';

/** A password-protected link's access token lives a day. */
const SHARE_TOKEN_TTL_S = 86_400;
const AUDIENCE = 'tally-share';

const notFound = () => new ApiError(404, 'not_found', 'No such share link');

async function findLink(env: Env, slug: string) {
  const link = await getDb(env.DB).select().from(shareLinks).where(eq(shareLinks.slug, slug)).get();
  if (!link || link.revokedAt !== null) throw notFound();
  return link;
}

/**
 * The project a share link opens, read-only. A password-protected link also needs the token that
 * `issueShareToken` hands out for the right password.
 */
export async function verifyShareAccess(
  env: Env,
  slug: string,
  token: string | undefined,
  now: number,
): Promise<{ shareId: string; projectId: string }> {
  const link = await findLink(env, slug);
  if (link.passwordHash !== null) {
    const valid =
      !!token &&
      (await jwtVerify(token, new TextEncoder().encode(env.AUTH_SECRET), {
        algorithms: ['HS256'],
        audience: AUDIENCE,
        subject: link.id,
        currentDate: new Date(now),
      }).then(
        () => true,
        () => false,
      ));
    if (!valid) throw new ApiError(401, 'password_required', 'This share link is password-protected');
  }
  return { shareId: link.id, projectId: link.projectId };
}

/**
 * Trade a share link's password for an access token, throttled like sign-in with the link in the
 * account's place (`throttle.ts`): five wrong passwords in a row lock the address that sent them
 * out of the link, never everyone else. `ip` is the caller's `CF-Connecting-IP`.
 */
export async function issueShareToken(
  env: Env,
  slug: string,
  password: string,
  ip: string,
  now: number,
): Promise<string> {
  const link = await findLink(env, slug);
  if (link.passwordHash === null) throw new ApiError(400, 'invalid_input', 'This share link has no password');
  const keys = await attemptKeys(env.AUTH_SECRET, `share:${link.id}`, ip);
  await beginAttempt(env.DB, keys, now);
  if (!(await verifyPassword(password, link.passwordHash))) {
    await recordFailure(env.DB, keys, now);
    throw new ApiError(401, 'unauthorized', 'Wrong password');
  }
  await recordSuccess(env.DB, keys);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(link.id)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor(now / 1000) + SHARE_TOKEN_TTL_S)
    .sign(new TextEncoder().encode(env.AUTH_SECRET));
}
