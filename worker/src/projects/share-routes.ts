/** Share link routes: manage a project's links (admin), and open one (public). */
import { createRoute, z } from '@hono/zod-openapi';
import { SHARE_TOKEN_HEADER } from '../auth/principal.ts';
import { getDb } from '../db/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { authorizeProject } from '../auth/access.ts';
import { ProjectIdParams } from './schemas.ts';
import {
  authenticateShareLink,
  CreateShareLinkSchema,
  createShareLink,
  listShareLinks,
  openShareLink,
  revokeShareLink,
  ShareEmbedSchema,
  SharedProjectSchema,
  ShareLinkSchema,
  ShareTokenSchema,
  shareEmbed,
  UpdateShareLinkSchema,
  updateShareLink,
} from './share-links.ts';

/** What revoking needs of the ProjectDO (`live/project-do.ts`): the link's live counters, closed. */
interface ShareSockets extends Rpc.DurableObjectBranded {
  closeShareSockets(shareId: string): Promise<void>;
}

const tags = ['Share links'];

const ShareIdParams = ProjectIdParams.extend({
  shareId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'shareId', in: 'path' } }),
});

// Any string is accepted: a malformed slug is simply unknown (404), like a revoked one.
const SlugParams = z.object({
  slug: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'slug', in: 'path' } }),
});

const ShareTokenHeaders = z.object({
  [SHARE_TOKEN_HEADER]: z
    .string()
    .optional()
    .openapi({ description: 'For a password-protected link: the token from `POST /api/share/{slug}/auth`' }),
});

export const shareRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}/shares',
      tags,
      summary: "A project's share links, revoked ones included (admin)",
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ shares: z.array(ShareLinkSchema) }), 'Share links'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json({ shares: await listShareLinks(db, access) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/shares',
      tags,
      summary: 'Create a public read-only share link (admin)',
      description:
        "Anyone with the link can read this project's stats; with a password, only after entering it. With " +
        '`embedOrigins`, pages of those origins may show its view in an iframe.',
      request: { params: ProjectIdParams, ...jsonBody(CreateShareLinkSchema) },
      responses: { 201: jsonResponse(ShareLinkSchema, 'Created'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(await createShareLink(db, access, c.req.valid('json'), Date.now()), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/api/projects/{id}/shares/{shareId}',
      tags,
      summary: 'Change which origins may frame a share link (admin)',
      request: { params: ShareIdParams, ...jsonBody(UpdateShareLinkSchema) },
      responses: { 200: jsonResponse(ShareLinkSchema, 'The share link'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id, shareId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(await updateShareLink(db, access, shareId, c.req.valid('json')), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/projects/{id}/shares/{shareId}',
      tags,
      summary: 'Revoke a share link (admin)',
      description: 'The link, and every token issued for it, answers 404 from now on.',
      request: { params: ShareIdParams },
      responses: { 204: { description: 'Revoked' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id, shareId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      await revokeShareLink(db, access, shareId, Date.now());
      // Its live counters close now, not when their viewers leave.
      const stub = c.env.PROJECT.get(c.env.PROJECT.idFromName(id)) as DurableObjectStub<ShareSockets>;
      await stub.closeShareSockets(shareId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/share/{slug}',
      tags,
      summary: 'Open a share link (public)',
      description:
        'The project a link opens. A password-protected link answers 401 `password_required` until the ' +
        'request carries a valid `X-Tally-Share-Token`. Read its stats with `X-Tally-Share: <slug>`.',
      security: [],
      request: { params: SlugParams, headers: ShareTokenHeaders },
      responses: { 200: jsonResponse(SharedProjectSchema, 'The shared project'), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const token = c.req.valid('header')[SHARE_TOKEN_HEADER];
      return c.json(await openShareLink(c.env, c.req.valid('param').slug, token, Date.now()), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/share/{slug}/embed',
      tags,
      summary: "Which origins may frame a share link's view (public)",
      description:
        "What the dashboard writes into the view's `Content-Security-Policy: frame-ancestors`. Answers for a " +
        'password-protected link too: the origins are not its numbers.',
      security: [],
      request: { params: SlugParams },
      responses: { 200: jsonResponse(ShareEmbedSchema, 'The origins'), ...errorResponses(404) },
    }),
    async (c) => c.json(await shareEmbed(getDb(c.env.DB), c.req.valid('param').slug), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/share/{slug}/auth',
      tags,
      summary: "Enter a share link's password (public)",
      description:
        'Five wrong passwords in a row from one address lock that address out of the link for 15 minutes ' +
        '(429 with `Retry-After`); other addresses are only slowed down, and never one that has not failed.',
      security: [],
      request: { params: SlugParams, ...jsonBody(z.object({ password: z.string().max(256) })) },
      responses: {
        200: jsonResponse(ShareTokenSchema, 'A token for `X-Tally-Share-Token`'),
        ...errorResponses(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { password } = c.req.valid('json');
      const ip = c.req.header('cf-connecting-ip') ?? '';
      return c.json(await authenticateShareLink(c.env, c.req.valid('param').slug, password, ip, Date.now()), 200);
    },
  );
