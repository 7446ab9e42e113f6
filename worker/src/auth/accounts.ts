import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { type Db, getDb, members, projects, users } from '../db/index.ts';
import { deleteProject } from '../store/index.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { attemptKeys, beginAttempt, recordFailure, recordSuccess } from './throttle.ts';

/** An email address, normalised: trimmed and lower-cased, so one person has one account. */
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('an email address').max(254))
  .openapi({ example: 'ada@example.com' });

/** NOTE: the upper bound keeps PBKDF2's input small; the lower one is NIST's minimum. */
export const PasswordSchema = z.string().min(8, 'at least 8 characters').max(256, 'at most 256 characters');

/** A user as the API shows it. */
export const UserSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string().nullable(), createdAt: z.number().int() })
  .openapi('User');
export type User = z.infer<typeof UserSchema>;

const invalidCredentials = () => new ApiError(401, 'unauthorized', 'Wrong email or password');

/** A stored hash for unknown emails, so that they cost the same time as known ones. */
let decoyHash: Promise<string> | null = null;

function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, email: row.email, name: row.name, createdAt: row.createdAt };
}

/** Create an account; 409 if the email is taken. */
export async function signUp(
  db: Db,
  input: { email: string; password: string; name?: string | undefined },
  now: number,
): Promise<User> {
  const row = {
    id: uuidv7(now),
    email: input.email,
    name: input.name ?? null,
    passwordHash: await hashPassword(input.password),
    createdAt: now,
  };
  const inserted = await db.insert(users).values(row).onConflictDoNothing().returning();
  if (!inserted[0])
    throw new ApiError(409, 'conflict', 'An account with this email exists', [
      { path: ['email'], message: 'already registered' },
    ]);
  return toUser(inserted[0]);
}

/**
 * Check an email and password. Unknown emails and wrong passwords fail alike — same status, body
 * and (through a decoy hash) time. Throttled per account, address and pair (`throttle.ts`): five
 * failures in a row lock that address out of that account for 15 minutes, but no number of
 * failures from elsewhere keeps the owner out.
 */
export async function signIn(
  env: Env,
  input: { email: string; password: string },
  ip: string,
  now: number,
): Promise<User> {
  const db = getDb(env.DB);
  const keys = await attemptKeys(env.AUTH_SECRET, `email:${input.email}`, ip);
  await beginAttempt(env.DB, keys, now);
  const user = await db.select().from(users).where(eq(users.email, input.email)).get();
  decoyHash ??= hashPassword('decoy password that matches nothing');
  const valid = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash));
  if (!user || !valid) {
    await recordFailure(env.DB, keys, now);
    throw invalidCredentials();
  }
  await recordSuccess(env.DB, keys);
  return toUser(user);
}

/** A user by id, or 401 if the account no longer exists. */
export async function getUser(db: Db, userId: string): Promise<User> {
  const row = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!row) throw new ApiError(401, 'unauthorized', 'The account no longer exists');
  return toUser(row);
}

/** The projects a user belongs to, with their role. */
export async function userProjects(db: Db, userId: string) {
  return db
    .select({ id: projects.id, name: projects.name, siteKey: projects.siteKey, role: members.role })
    .from(members)
    .innerJoin(projects, eq(projects.id, members.projectId))
    .where(eq(members.userId, userId))
    .orderBy(projects.name);
}

/** Change a password after checking the current one. */
export async function changePassword(db: Db, userId: string, current: string, next: string): Promise<void> {
  const row = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!row || !(await verifyPassword(current, row.passwordHash))) {
    throw new ApiError(403, 'forbidden', 'The current password is wrong', [
      { path: ['currentPassword'], message: 'wrong password' },
    ]);
  }
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(next) })
    .where(eq(users.id, userId));
}

/**
 * Delete an account after checking its password. Projects it alone owns are deleted with all their
 * data (as on Plausible); projects with another owner stay, without this member.
 */
export async function deleteAccount(env: Env, userId: string, password: string): Promise<void> {
  const db = getDb(env.DB);
  const row = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!row || !(await verifyPassword(password, row.passwordHash))) {
    throw new ApiError(403, 'forbidden', 'The password is wrong', [{ path: ['password'], message: 'wrong password' }]);
  }
  const owned = await db
    .select({
      projectId: members.projectId,
      // Written out in full: drizzle would render the outer column as a bare, ambiguous name here.
      owners: sql<number>`(SELECT COUNT(*) FROM members AS m WHERE m.project_id = members.project_id AND m.role = 'owner')`,
    })
    .from(members)
    .where(and(eq(members.userId, userId), eq(members.role, 'owner')));
  for (const { projectId, owners } of owned) if (owners === 1) await deleteProject(env, projectId);
  // Memberships and sessions go with the user (ON DELETE CASCADE).
  await db.delete(users).where(eq(users.id, userId));
}
