/**
 * Project members: list, invite an existing user by email, change a role, remove. The rules: an
 * owner may do anything; an admin manages every member except owners (and cannot make one); a
 * project always keeps at least one owner.
 */
import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import { type Db, members, users } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import type { ProjectAccess, Role } from '../auth/access.ts';

/** A member as the API shows it. */
export interface MemberView {
  userId: string;
  email: string;
  name: string | null;
  role: Role;
  createdAt: number;
}

const noSuchMember = () => new ApiError(404, 'not_found', 'No such member');
const ownersOnly = () => new ApiError(403, 'forbidden', 'Only an owner can grant, change or remove the owner role');

/**
 * The role the caller manages members with. An API key (role null) got here only with the `admin`
 * scope, and a key never acts as an owner.
 */
function actorRole(access: ProjectAccess): Role {
  return access.role ?? 'admin';
}

/**
 * True while the project has more than one owner. Evaluated inside the UPDATE or DELETE that needs
 * it, so two owners demoting each other at once cannot both succeed and leave none.
 */
function anotherOwner(projectId: string): SQL {
  return sql`(SELECT COUNT(*) FROM ${members} WHERE ${members.projectId} = ${projectId} AND ${members.role} = 'owner') > 1`;
}

const view = {
  userId: members.userId,
  email: users.email,
  name: users.name,
  role: members.role,
  createdAt: members.createdAt,
};

/**
 * Why a conditional write of `target` changed nothing: the member left, their role changed in
 * between (the write compares and sets), or they are the last owner.
 */
async function refusal(db: Db, projectId: string, target: MemberView, lastOwner: string): Promise<ApiError> {
  const current = await findMember(db, projectId, target.userId);
  if (!current) return noSuchMember();
  if (current.role !== target.role) {
    return new ApiError(409, 'conflict', "The member's role changed meanwhile; reload and try again");
  }
  return new ApiError(409, 'conflict', lastOwner);
}

async function findMember(db: Db, projectId: string, userId: string): Promise<MemberView | undefined> {
  return db
    .select(view)
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.projectId, projectId), eq(members.userId, userId)))
    .get();
}

/** Everyone with a role in the project, oldest first. */
export async function listMembers(db: Db, access: ProjectAccess): Promise<MemberView[]> {
  return db
    .select(view)
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(eq(members.projectId, access.project.id))
    .orderBy(asc(members.createdAt), asc(members.userId));
}

/**
 * Give an existing user a role in the project (no email is sent). 404 when no account has the
 * email — it is an admin asking, and they need to know to tell the person to sign up — and 409 when
 * the user is already a member (change their role instead).
 */
export async function inviteMember(
  db: Db,
  access: ProjectAccess,
  input: { email: string; role: Role },
  now: number,
): Promise<MemberView> {
  if (input.role === 'owner' && actorRole(access) !== 'owner') throw ownersOnly();
  const user = await db.select().from(users).where(eq(users.email, input.email)).get();
  if (!user) {
    throw new ApiError(404, 'not_found', 'No account has this email address; ask them to sign up first', [
      { path: ['email'], message: 'no account with this email' },
    ]);
  }
  const inserted = await db
    .insert(members)
    .values({ projectId: access.project.id, userId: user.id, role: input.role, createdAt: now })
    .onConflictDoNothing()
    .returning();
  if (!inserted[0]) {
    throw new ApiError(409, 'conflict', 'This user is already a member; change their role instead', [
      { path: ['email'], message: 'already a member' },
    ]);
  }
  return { userId: user.id, email: user.email, name: user.name, role: input.role, createdAt: now };
}

/** Change a member's role. Demoting the last owner is refused (409). */
export async function changeMemberRole(
  db: Db,
  access: ProjectAccess,
  input: { userId: string; role: Role },
): Promise<MemberView> {
  const projectId = access.project.id;
  const target = await findMember(db, projectId, input.userId);
  if (!target) throw noSuchMember();
  if (actorRole(access) !== 'owner' && (target.role === 'owner' || input.role === 'owner')) throw ownersOnly();
  if (target.role === input.role) return target;

  const demotesOwner = target.role === 'owner';
  const updated = await db
    .update(members)
    .set({ role: input.role })
    .where(
      and(
        eq(members.projectId, projectId),
        eq(members.userId, input.userId),
        eq(members.role, target.role),
        demotesOwner ? anotherOwner(projectId) : undefined,
      ),
    )
    .returning();
  if (!updated[0]) {
    throw await refusal(db, projectId, target, 'A project needs at least one owner; make someone else owner first');
  }
  return { ...target, role: input.role };
}

/**
 * Remove a member. `self` is a member leaving, which any role may do; removing someone else is for
 * admins, and only owners remove owners. The last owner can neither leave nor be removed (409).
 */
export async function removeMember(
  db: Db,
  access: ProjectAccess,
  input: { userId: string; self: boolean },
): Promise<void> {
  const projectId = access.project.id;
  const target = await findMember(db, projectId, input.userId);
  if (!target) throw noSuchMember();
  if (!input.self && actorRole(access) !== 'owner' && target.role === 'owner') throw ownersOnly();

  const deleted = await db
    .delete(members)
    .where(
      and(
        eq(members.projectId, projectId),
        eq(members.userId, input.userId),
        eq(members.role, target.role),
        target.role === 'owner' ? anotherOwner(projectId) : undefined,
      ),
    )
    .returning();
  if (!deleted[0]) {
    throw await refusal(
      db,
      projectId,
      target,
      'A project needs at least one owner; make someone else owner first, or delete the project',
    );
  }
}
