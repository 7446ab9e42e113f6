/**
 * Live routes: tickets and sockets for dashboards, the public counter's socket, and `/live.js`.
 * Sockets live in the project's ProjectDO (hibernation API); the Worker refuses a handshake with
 * an ordinary error response before anything is upgraded, then hands it over.
 *
 * @example
 * ```ts
 * // A dashboard, signed in with cookies:
 * const { ticket } = await (await fetch(`/api/projects/${id}/live-ticket`, { method: 'POST' })).json();
 * const socket = new WebSocket(`wss://${location.host}/api/projects/${id}/live?ticket=${ticket}`);
 * socket.onmessage = (event) => render(JSON.parse(event.data)); // { type: 'snapshot' | 'update', visitors, … }
 * ```
 */
import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { getDb, projects } from '../db/index.ts';
import { authorizeProject } from '../auth/access.ts';
import { takeShareTokens } from '../auth/principal.ts';
import { verifyShareAccess } from '../auth/share-access.ts';
import { ApiError } from '../shared/errors.ts';
import { createRouter } from '../shared/hono.ts';
import { ErrorSchema, errorResponses, jsonResponse, ProjectIdParams } from '../shared/openapi.ts';
import { digest } from './feed.ts';
import type { ProjectDO } from './project-do.ts';
import { publicLiveProject } from './public.ts';
import { liveSocketRequest, requireAllowedOrigin, requireWebSocketUpgrade } from './upgrade.ts';
import { LIVE_SCRIPT_PATH, LIVE_WIDGET_SCRIPT } from './widget.ts';

const TicketSchema = z
  .object({
    ticket: z.string().openapi({ description: 'Opaque; opens one socket' }),
    expiresAt: z.number().int().openapi({ description: 'Milliseconds since the epoch; 30 s after issue' }),
  })
  .openapi('LiveTicket');

const TicketQuery = z.string().min(1).max(128);
const SlugParam = z.string().min(1).max(128);
/** A protected link's token: a browser's WebSocket cannot send it as a header. */
const ShareTokenQuery = z.string().min(1).max(2048).optional();
const SiteKeyParam = z.string().min(1).max(64);

/** Cached like the tracker script: pages pick up a new version within the hour. */
const SCRIPT_CACHE_CONTROL = 'public, max-age=3600';
const SCRIPT_ETAG = `"live-${digest(LIVE_WIDGET_SCRIPT)}"`;

const invalidTicket = () =>
  new ApiError(401, 'unauthorized', 'The live ticket is missing, used, expired or not for this project');

function projectStub(env: Env, projectId: string): DurableObjectStub<ProjectDO> {
  return env.PROJECT.get(env.PROJECT.idFromName(projectId)) as DurableObjectStub<ProjectDO>;
}

/** Let the ProjectDO answer the handshake: a `101` with the socket (or its 503 when full). */
async function handOver(stub: DurableObjectStub<ProjectDO>, request: Request): Promise<Response> {
  const response = await stub.fetch(request);
  // A fetched response's headers are immutable; the app's middleware adds the security headers.
  return new Response(response.body, {
    status: response.status,
    headers: response.headers,
    webSocket: response.webSocket,
  });
}

/** Routes mounted at the app's root. */
export const liveRoutes = createRouter();

liveRoutes
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/live-ticket',
      tags: ['Live'],
      summary: 'A ticket that opens the live socket (any member)',
      description:
        'Single use, valid 30 seconds, bound to the project and the signed-in member. Open the socket with ' +
        '`GET /api/projects/{id}/live?ticket=…` (a WebSocket). API keys and share links cannot open it.',
      request: { params: ProjectIdParams },
      responses: { 201: jsonResponse(TicketSchema, 'Issued'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const principal = c.get('principal');
      await authorizeProject(getDb(c.env.DB), principal, id, 'read');
      if (principal?.kind !== 'user') throw new ApiError(403, 'forbidden', 'Live sockets are for signed-in members');
      const ticket = await projectStub(c.env, id).issueLiveTicket(id, principal.userId, Date.now());
      c.header('Cache-Control', 'no-store');
      return c.json(ticket, 201);
    },
  )
  .get('/api/projects/:id/live', async (c) => {
    requireWebSocketUpgrade(c.req.raw);
    requireAllowedOrigin(c.req.raw, c.env.ALLOWED_ORIGINS);
    const id = ProjectIdParams.shape.id.safeParse(c.req.param('id'));
    const ticket = TicketQuery.safeParse(c.req.query('ticket'));
    if (!id.success || !ticket.success) throw invalidTicket();
    // An unknown project answers like a bad ticket, and never brings a ProjectDO into being.
    const project = await getDb(c.env.DB)
      .select({ id: projects.id })
      .from(projects)
      .where(eq(projects.id, id.data))
      .get();
    if (!project) throw invalidTicket();
    const stub = projectStub(c.env, project.id);
    const userId = await stub.consumeLiveTicket(ticket.data, project.id, Date.now());
    if (!userId) throw invalidTicket();
    return handOver(stub, liveSocketRequest(c.req.raw, { audience: 'dashboard', projectId: project.id, userId }));
  })
  .get('/api/live/public/:siteKey', async (c) => {
    requireWebSocketUpgrade(c.req.raw);
    const siteKey = SiteKeyParam.safeParse(c.req.param('siteKey'));
    const project = siteKey.success ? await publicLiveProject(c.env.DB, siteKey.data) : null;
    if (!project) throw new ApiError(404, 'not_found', 'This site has no public live counter');
    const stub = projectStub(c.env, project.id);
    return handOver(stub, liveSocketRequest(c.req.raw, { audience: 'public', projectId: project.id, userId: null }));
  })
  .get('/api/share/:slug/live', async (c) => {
    requireWebSocketUpgrade(c.req.raw);
    // The link's view is on the dashboard's origin, framed or not: no other page opens this socket.
    requireAllowedOrigin(c.req.raw, c.env.ALLOWED_ORIGINS);
    const slug = SlugParam.safeParse(c.req.param('slug'));
    const token = ShareTokenQuery.safeParse(c.req.query('token'));
    if (!slug.success || !token.success) throw new ApiError(404, 'not_found', 'No such share link');
    const now = Date.now();
    const access = await verifyShareAccess(c.env, slug.data, token.data, now);
    // Metered as one request of the link (and of its caller): opening sockets is no way around the limits.
    await takeShareTokens(c.env, access, c.req.header('cf-connecting-ip') ?? '', now);
    const stub = projectStub(c.env, access.projectId);
    const target = { audience: 'share', projectId: access.projectId, userId: null, shareId: access.shareId } as const;
    return handOver(stub, liveSocketRequest(c.req.raw, target));
  })
  .get(LIVE_SCRIPT_PATH, (c) => {
    c.header('Cache-Control', SCRIPT_CACHE_CONTROL);
    c.header('ETag', SCRIPT_ETAG);
    if (c.req.header('if-none-match') === SCRIPT_ETAG) return c.body(null, 304);
    c.header('Content-Type', 'application/javascript; charset=utf-8');
    return c.body(LIVE_WIDGET_SCRIPT);
  });

liveRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/api/projects/{id}/live',
  tags: ['Live'],
  summary: "The project's live view, as a WebSocket",
  description:
    'Opens with a ticket from `POST /api/projects/{id}/live-ticket`, from an allowed `Origin`. The server sends ' +
    '`{ type: "snapshot" }` at once, then `{ type: "update" }` when the view changes (at most one a second): ' +
    '`visitors` (seen in the last 5 minutes), `pages` `[{ path, visitors }]`, `countries` `[{ country, visitors }]`, ' +
    '`recent` (the last 50 events, newest first: `{ ts, name, path, country, source }`). A client may send `ping` ' +
    '(answered `pong`); anything else closes the socket.',
  security: [{}],
  request: { params: ProjectIdParams, query: z.object({ ticket: TicketQuery }) },
  responses: {
    101: { description: 'Switching to the WebSocket protocol' },
    ...errorResponses(401, 403),
    426: { description: 'Not a WebSocket handshake', content: { 'application/json': { schema: ErrorSchema } } },
  },
});

liveRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/api/live/public/{siteKey}',
  tags: ['Live'],
  summary: "A site's public live counter, as a WebSocket",
  description:
    'Only when the project enables `publicLive`; from any origin. Sends `{ type: "count", visitors }` on open and ' +
    'whenever the number changes (at most once a second). `/live.js` renders it on a page.',
  security: [{}],
  request: { params: z.object({ siteKey: SiteKeyParam.openapi({ param: { name: 'siteKey', in: 'path' } }) }) },
  responses: {
    101: { description: 'Switching to the WebSocket protocol' },
    ...errorResponses(404),
    426: { description: 'Not a WebSocket handshake', content: { 'application/json': { schema: ErrorSchema } } },
    503: {
      description: 'Too many counters open; retry later',
      content: { 'application/json': { schema: ErrorSchema } },
    },
  },
});

liveRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/api/share/{slug}/live',
  tags: ['Live'],
  summary: "A share link's live visitor count, as a WebSocket",
  description:
    "From an allowed `Origin` (the dashboard serving the link's view). A password-protected link sends the token " +
    'from `POST /api/share/{slug}/auth` as `?token=`. Counts as one request of the link. Sends `{ type: "count", ' +
    'visitors }` on open and whenever the number changes (at most once a second) — the count alone, like the public ' +
    'counter. Revoking the link closes the socket (code 4403).',
  security: [{}],
  request: {
    params: z.object({ slug: SlugParam.openapi({ param: { name: 'slug', in: 'path' } }) }),
    query: z.object({ token: ShareTokenQuery }),
  },
  responses: {
    101: { description: 'Switching to the WebSocket protocol' },
    ...errorResponses(401, 403, 404, 429),
    426: { description: 'Not a WebSocket handshake', content: { 'application/json': { schema: ErrorSchema } } },
    503: {
      description: 'Too many counters open; retry later',
      content: { 'application/json': { schema: ErrorSchema } },
    },
  },
});
