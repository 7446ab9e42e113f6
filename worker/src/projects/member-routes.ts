/** Member routes: list, invite by email, change role, remove (or leave). */
import { createRoute, z } from '@hono/zod-openapi';
import { EmailSchema } from '../auth/accounts.ts';
import { getDb } from '../db/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { authorizeProject, ROLES } from '../auth/access.ts';
import { changeMemberRole, inviteMember, listMembers, removeMember } from './members.ts';
import { ProjectIdParams } from './schemas.ts';

const RoleSchema = z
  .enum(ROLES)
  .openapi({ description: 'owner: everything; admin: settings, keys, members except owners; viewer: read stats' });

const MemberSchema = z
  .object({
    userId: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: RoleSchema,
    createdAt: z.number().int().openapi({ description: 'When they joined the project (ms)' }),
  })
  .openapi('Member');

const InviteSchema = z.object({ email: EmailSchema, role: RoleSchema }).openapi('InviteMember');
const RoleChangeSchema = z.object({ role: RoleSchema }).openapi('ChangeMemberRole');

const MemberParams = ProjectIdParams.extend({
  userId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'userId', in: 'path' } }),
});

const tags = ['Members'];
const path = '/api/projects/{id}/members';

export const memberRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path,
      tags,
      summary: "A project's members (admin)",
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ members: z.array(MemberSchema) }), 'Members, oldest first'),
        ...errorResponses(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json({ members: await listMembers(db, access) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path,
      tags,
      summary: 'Add an existing user by email (admin; only owners add owners)',
      description: 'No email is sent. 404 when no account has the address, 409 when they are already a member.',
      request: { params: ProjectIdParams, ...jsonBody(InviteSchema) },
      responses: { 201: jsonResponse(MemberSchema, 'Added'), ...errorResponses(400, 401, 403, 404, 409, 429) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(await inviteMember(db, access, c.req.valid('json'), Date.now()), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: `${path}/{userId}`,
      tags,
      summary: "Change a member's role (admin; only owners touch owners)",
      description: 'The last owner cannot be demoted (409).',
      request: { params: MemberParams, ...jsonBody(RoleChangeSchema) },
      responses: { 200: jsonResponse(MemberSchema, 'The member'), ...errorResponses(400, 401, 403, 404, 409, 429) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { id, userId } = c.req.valid('param');
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(await changeMemberRole(db, access, { userId, role: c.req.valid('json').role }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: `${path}/{userId}`,
      tags,
      summary: 'Remove a member (admin; only owners remove owners), or leave the project (yourself)',
      description: 'The last owner can neither leave nor be removed (409).',
      request: { params: MemberParams },
      responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404, 409, 429) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const principal = c.get('principal');
      const { id, userId } = c.req.valid('param');
      // Leaving needs only membership; removing someone else needs the admin role.
      const self = principal?.kind === 'user' && principal.userId === userId;
      const access = await authorizeProject(db, principal, id, self ? 'read' : 'admin');
      await removeMember(db, access, { userId, self });
      return c.body(null, 204);
    },
  );
