/** Segment routes: members read a project's segments; admins and owners save and manage them. */
import { createRoute, z } from '@hono/zod-openapi';
import { authorizeProject } from '../auth/access.ts';
import { getDb } from '../db/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse, ProjectIdParams } from '../shared/openapi.ts';
import {
  CreateSegmentSchema,
  createSegment,
  deleteSegment,
  listSegments,
  MAX_SEGMENTS,
  refuseShareLinks,
  SegmentSchema,
  UpdateSegmentSchema,
  updateSegment,
} from './segments.ts';

const SegmentIdParams = ProjectIdParams.extend({
  segmentId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'segmentId', in: 'path' } }),
});

const tags = ['Segments'];

export const segmentRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}/segments',
      tags,
      summary: "A project's saved segments",
      description: 'Any member, or a `read` API key (not a share link). By name.',
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ segments: z.array(SegmentSchema) }), 'Segments'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const principal = c.get('principal');
      const access = await authorizeProject(db, principal, c.req.valid('param').id, 'read');
      refuseShareLinks(principal);
      return c.json({ segments: await listSegments(db, access) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/segments',
      tags,
      summary: 'Save a segment (admin)',
      description:
        'A name and the filters a dashboard applies when the segment is picked, validated as the query API ' +
        `validates them. Names are unique per project (409); a project keeps at most ${MAX_SEGMENTS} segments (409).`,
      request: { params: ProjectIdParams, ...jsonBody(CreateSegmentSchema) },
      responses: { 201: jsonResponse(SegmentSchema, 'Created'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const principal = c.get('principal');
      const access = await authorizeProject(db, principal, c.req.valid('param').id, 'admin');
      const userId = principal?.kind === 'user' ? principal.userId : null;
      return c.json(await createSegment(db, access, userId, c.req.valid('json'), Date.now()), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/api/projects/{id}/segments/{segmentId}',
      tags,
      summary: 'Rename a segment or replace its filters (admin)',
      request: { params: SegmentIdParams, ...jsonBody(UpdateSegmentSchema) },
      responses: { 200: jsonResponse(SegmentSchema, 'The segment'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, segmentId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(await updateSegment(db, access, segmentId, c.req.valid('json'), Date.now()), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/projects/{id}/segments/{segmentId}',
      tags,
      summary: 'Delete a segment (admin)',
      request: { params: SegmentIdParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id, segmentId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      await deleteSegment(db, access, segmentId);
      return c.body(null, 204);
    },
  );
