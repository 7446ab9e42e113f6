import { and, eq } from 'drizzle-orm';
import type { Principal } from '../shared/principal.ts';
import { type Db, members, projects } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';

/** Member roles, weakest first. */
export const ROLES = ['viewer', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

/** What a route needs: to read stats, to change settings, or to own the project. */
export type Need = 'read' | 'admin' | 'owner';

const RANK: Record<Need | Role, number> = { read: 0, viewer: 0, admin: 1, owner: 2 };

/** A project, and the caller's role in it (null for API keys and share links). */
export interface ProjectAccess {
  project: typeof projects.$inferSelect;
  role: Role | null;
}

const notFound = () => new ApiError(404, 'not_found', 'No such project');
const forbidden = () => new ApiError(403, 'forbidden', 'Your role does not allow this');

/**
 * Authorise a caller for a project. A project the caller has no part in answers exactly like one
 * that does not exist (404), so ids cannot be probed; a member whose role is too weak gets 403.
 * API keys act for their own project only — `read` for reading, `admin` for settings, never as
 * owner — and share links only read.
 */
export async function authorizeProject(
  db: Db,
  principal: Principal | null,
  projectId: string,
  need: Need,
): Promise<ProjectAccess> {
  if (!principal) throw new ApiError(401, 'unauthorized', 'Sign in or send an API key');
  if (principal.kind === 'user') {
    const row = await db
      .select({ project: projects, role: members.role })
      .from(members)
      .innerJoin(projects, eq(projects.id, members.projectId))
      .where(and(eq(members.projectId, projectId), eq(members.userId, principal.userId)))
      .get();
    if (!row) throw notFound();
    if (RANK[row.role] < RANK[need]) throw forbidden();
    return { project: row.project, role: row.role };
  }
  if (principal.projectId !== projectId) throw notFound();
  const project = await db.select().from(projects).where(eq(projects.id, projectId)).get();
  if (!project) throw notFound();
  if (principal.kind === 'share') {
    if (need !== 'read') throw forbidden();
    return { project, role: null };
  }
  const allowed =
    need === 'read'
      ? principal.scopes.includes('read') || principal.scopes.includes('admin')
      : need === 'admin' && principal.scopes.includes('admin');
  if (!allowed) throw forbidden();
  return { project, role: null };
}
