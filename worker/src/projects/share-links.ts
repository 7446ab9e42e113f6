/**
 * Share links: public, read-only doors to one project's stats. Admins mint, list and revoke them;
 * anyone holding a slug (and, for a protected link, its password) can open the project it names.
 */
import { z } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { PasswordSchema } from '../auth/accounts.ts';
import { hashPassword } from '../auth/password.ts';
import { issueShareToken, verifyShareAccess } from '../auth/share-access.ts';
import { type Db, getDb, projects, shareLinks } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import type { ProjectAccess } from '../auth/access.ts';
import { EmbedOriginsSchema, embedOriginsColumn, storedEmbedOrigins } from './embed-origins.ts';

/** Where the dashboard serves a link's public view, relative to its origin. */
export const SHARE_VIEW_PREFIX = '/share/';

/** NOTE: 16 random bytes are 128 bits — the slug is the capability, so it must not be guessable. */
const SLUG_BYTES = 16;

export const ShareLinkSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string().openapi({ description: 'The capability: whoever holds it can read the project' }),
    path: z.string().openapi({ description: "The public view's path on the dashboard", example: '/share/3q2-7wEj…' }),
    hasPassword: z.boolean(),
    embedOrigins: z.array(z.string()).openapi({
      description: "Origins whose pages may frame the link's view (add `?embed=1` to its URL for the dashboard alone)",
    }),
    createdAt: z.number().int(),
    revokedAt: z.number().int().nullable(),
  })
  .openapi('ShareLink');
export type ShareLinkView = z.infer<typeof ShareLinkSchema>;

export const CreateShareLinkSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    password: PasswordSchema.optional().openapi({ description: 'Viewers must enter it before they see anything' }),
    embedOrigins: EmbedOriginsSchema.default([]),
  })
  .openapi('CreateShareLink');

export const UpdateShareLinkSchema = z
  .strictObject({ embedOrigins: EmbedOriginsSchema })
  .openapi('UpdateShareLink', { description: 'The origins replace the ones the link had' });

export const ShareEmbedSchema = z
  .object({
    frameAncestors: z.array(z.string()).openapi({ description: "Origins whose pages may frame the link's view" }),
  })
  .openapi('ShareEmbed');

export const SharedProjectSchema = z
  .object({
    project: z.object({ id: z.string(), name: z.string(), timezone: z.string() }),
    passwordRequired: z.boolean().openapi({ description: 'Whether the link is password-protected' }),
  })
  .openapi('SharedProject');
export type SharedProject = z.infer<typeof SharedProjectSchema>;

export const ShareTokenSchema = z
  .object({
    token: z.string().openapi({ description: 'Send it as `X-Tally-Share-Token` with `X-Tally-Share: <slug>`' }),
    expiresIn: z.number().int().openapi({ description: 'Seconds the token is valid' }),
  })
  .openapi('ShareToken');

/** A fresh slug: 128 random bits as 22 URL-safe characters. */
export function newShareSlug(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SLUG_BYTES));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function toView(row: typeof shareLinks.$inferSelect): ShareLinkView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    path: `${SHARE_VIEW_PREFIX}${row.slug}`,
    hasPassword: row.passwordHash !== null,
    embedOrigins: storedEmbedOrigins(row.embedOrigins),
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}

/** Every link of a project, revoked ones included (so admins see what was shared), oldest first. */
export async function listShareLinks(db: Db, access: ProjectAccess): Promise<ShareLinkView[]> {
  const rows = await db
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.projectId, access.project.id))
    .orderBy(asc(shareLinks.createdAt), asc(shareLinks.id));
  return rows.map(toView);
}

/** Mint a link for a project; the password, if any, is stored only as a PBKDF2 hash. */
export async function createShareLink(
  db: Db,
  access: ProjectAccess,
  input: z.infer<typeof CreateShareLinkSchema>,
  now: number,
): Promise<ShareLinkView> {
  const row = {
    id: uuidv7(now),
    projectId: access.project.id,
    slug: newShareSlug(),
    name: input.name,
    passwordHash: input.password === undefined ? null : await hashPassword(input.password),
    createdAt: now,
    revokedAt: null,
    embedOrigins: embedOriginsColumn(input.embedOrigins),
  };
  await db.insert(shareLinks).values(row);
  return toView(row);
}

/** Change which origins may frame a live link of this project; a revoked or unknown one is 404. */
export async function updateShareLink(
  db: Db,
  access: ProjectAccess,
  shareId: string,
  input: z.infer<typeof UpdateShareLinkSchema>,
): Promise<ShareLinkView> {
  const rows = await db
    .update(shareLinks)
    .set({ embedOrigins: embedOriginsColumn(input.embedOrigins) })
    .where(and(eq(shareLinks.id, shareId), eq(shareLinks.projectId, access.project.id), isNull(shareLinks.revokedAt)))
    .returning();
  if (!rows[0]) throw new ApiError(404, 'not_found', 'No such share link');
  return toView(rows[0]);
}

/**
 * Which origins may frame a link's view: what the dashboard puts in the page's `frame-ancestors`.
 * Asked before the page loads, so a password-protected link answers too (the origins are not its
 * numbers); unknown and revoked slugs are 404, and their pages are framed by no one.
 */
export async function shareEmbed(db: Db, slug: string): Promise<z.infer<typeof ShareEmbedSchema>> {
  const row = await db
    .select({ embedOrigins: shareLinks.embedOrigins, revokedAt: shareLinks.revokedAt })
    .from(shareLinks)
    .where(eq(shareLinks.slug, slug))
    .get();
  if (!row || row.revokedAt !== null) throw new ApiError(404, 'not_found', 'No such share link');
  return { frameAncestors: storedEmbedOrigins(row.embedOrigins) };
}

/**
 * Revoke a link of this project: from now on its slug and every token issued for it answer 404.
 * A link of another project, or one already revoked, is 404 too.
 */
export async function revokeShareLink(db: Db, access: ProjectAccess, shareId: string, now: number): Promise<void> {
  const revoked = await db
    .update(shareLinks)
    .set({ revokedAt: now })
    .where(and(eq(shareLinks.id, shareId), eq(shareLinks.projectId, access.project.id), isNull(shareLinks.revokedAt)))
    .returning({ id: shareLinks.id });
  if (!revoked[0]) throw new ApiError(404, 'not_found', 'No such share link');
}

/**
 * What the public view shows before loading stats: the project a valid link opens. A protected
 * link without a valid token is 401 `password_required`; unknown and revoked slugs are 404.
 */
export async function openShareLink(
  env: Env,
  slug: string,
  token: string | undefined,
  now: number,
): Promise<SharedProject> {
  const { shareId } = await verifyShareAccess(env, slug, token, now);
  const row = await getDb(env.DB)
    .select({
      id: projects.id,
      name: projects.name,
      timezone: projects.timezone,
      passwordHash: shareLinks.passwordHash,
    })
    .from(shareLinks)
    .innerJoin(projects, eq(projects.id, shareLinks.projectId))
    .where(eq(shareLinks.id, shareId))
    .get();
  if (!row) throw new ApiError(404, 'not_found', 'No such share link');
  const { passwordHash, ...project } = row;
  return { project, passwordRequired: passwordHash !== null };
}

/** Trade a protected link's password for a token (throttled per caller address: `auth/throttle.ts`). */
export async function authenticateShareLink(
  env: Env,
  slug: string,
  password: string,
  ip: string,
  now: number,
): Promise<z.infer<typeof ShareTokenSchema>> {
  const token = await issueShareToken(env, slug, password, ip, now);
  // The lifetime is share-access.ts's to decide; read it back from the token rather than repeat it.
  const { exp } = decodeJwt(token);
  return { token, expiresIn: Math.max(0, (exp ?? 0) - Math.floor(now / 1000)) };
}
