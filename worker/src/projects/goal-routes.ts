/** Goal and funnel routes: anyone who reads the project lists them; admins manage them. */
import { createRoute, z } from '@hono/zod-openapi';
import { getDb } from '../db/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { authorizeProject } from '../auth/access.ts';
import {
  CreateFunnelSchema,
  createFunnel,
  deleteFunnel,
  FunnelSchema,
  listFunnels,
  UpdateFunnelSchema,
  updateFunnel,
} from './funnels.ts';
import {
  CreateGoalSchema,
  createGoal,
  deleteGoal,
  GoalSchema,
  listGoals,
  UpdateGoalSchema,
  updateGoal,
} from './goals.ts';
import { ProjectIdParams } from './schemas.ts';
import { databaseOf } from '../store/index.ts';

const idParam = (name: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } });

const GoalIdParams = ProjectIdParams.extend({ goalId: idParam('goalId') });
const FunnelIdParams = ProjectIdParams.extend({ funnelId: idParam('funnelId') });

const goalTags = ['Goals'];
const funnelTags = ['Funnels'];
const readers = 'Any member, a `read` API key, or a share link';

export const goalRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}/goals',
      tags: goalTags,
      summary: "A project's goals",
      description: `${readers}. Oldest first.`,
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ goals: z.array(GoalSchema) }), 'Goals'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'read');
      return c.json({ goals: await listGoals(db, access) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/goals',
      tags: goalTags,
      summary: 'Add a goal (admin)',
      description:
        'A pageview goal matches page views whose path matches `path` (`*` within a segment, `**` across ' +
        'segments); an event goal matches custom events named `eventName`, and, with `propertyKey`, only ' +
        'those whose property has the string form `propertyValue`. Names and matchings are unique per project.',
      request: { params: ProjectIdParams, ...jsonBody(CreateGoalSchema) },
      responses: { 201: jsonResponse(GoalSchema, 'Created'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(
        await createGoal(db, getDb(databaseOf(c.env, access.project)), access, c.req.valid('json'), Date.now()),
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/api/projects/{id}/goals/{goalId}',
      tags: goalTags,
      summary: 'Rename a goal or change what it matches (admin)',
      request: { params: GoalIdParams, ...jsonBody(UpdateGoalSchema) },
      responses: { 200: jsonResponse(GoalSchema, 'The goal'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, goalId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(
        await updateGoal(db, getDb(databaseOf(c.env, access.project)), access, goalId, c.req.valid('json')),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/projects/{id}/goals/{goalId}',
      tags: goalTags,
      summary: 'Delete a goal (admin)',
      description: 'Only the definition goes; the events it counted stay.',
      request: { params: GoalIdParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id, goalId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      await deleteGoal(db, getDb(databaseOf(c.env, access.project)), access, goalId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}/funnels',
      tags: funnelTags,
      summary: "A project's funnels",
      description: `${readers}. Oldest first.`,
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ funnels: z.array(FunnelSchema) }), 'Funnels'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'read');
      return c.json({ funnels: await listFunnels(db, access) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/funnels',
      tags: funnelTags,
      summary: 'Add a funnel (admin)',
      description:
        'A visit reaches a step when, after reaching the one before, it has an event the step matches ' +
        '(the same matching as goals). Names are unique per project.',
      request: { params: ProjectIdParams, ...jsonBody(CreateFunnelSchema) },
      responses: { 201: jsonResponse(FunnelSchema, 'Created'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(
        await createFunnel(db, getDb(databaseOf(c.env, access.project)), access, c.req.valid('json'), Date.now()),
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/api/projects/{id}/funnels/{funnelId}',
      tags: funnelTags,
      summary: 'Rename a funnel or replace its steps (admin)',
      request: { params: FunnelIdParams, ...jsonBody(UpdateFunnelSchema) },
      responses: { 200: jsonResponse(FunnelSchema, 'The funnel'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, funnelId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(
        await updateFunnel(
          db,
          getDb(databaseOf(c.env, access.project)),
          access,
          funnelId,
          c.req.valid('json'),
          Date.now(),
        ),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/projects/{id}/funnels/{funnelId}',
      tags: funnelTags,
      summary: 'Delete a funnel (admin)',
      request: { params: FunnelIdParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id, funnelId } = c.req.valid('param');
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      await deleteFunnel(db, getDb(databaseOf(c.env, access.project)), access, funnelId);
      return c.body(null, 204);
    },
  );
