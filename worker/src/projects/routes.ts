/** Project routes: list, create, read, update, delete, reset data, property keys, regenerate the site key. */
import { createRoute, z } from '@hono/zod-openapi';
import { requireUser } from '../auth/principal.ts';
import { getDb } from '../db/index.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { authorizeProject } from '../auth/access.ts';
import { databaseOf, deleteProject, pickDatabase, resetProjectData } from '../store/index.ts';
import { propertyKeys } from './property-keys.ts';
import { createProject, listProjects, projectView, regenerateSiteKey, updateProject } from './projects.ts';
import { CreateProjectSchema, ProjectIdParams, ProjectSchema, UpdateProjectSchema } from './schemas.ts';

const tags = ['Projects'];

export const projectCrudRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects',
      tags,
      summary: "The signed-in user's projects",
      responses: {
        200: jsonResponse(z.object({ projects: z.array(ProjectSchema) }), 'Projects'),
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const { userId } = requireUser(c.get('principal'));
      return c.json({ projects: await listProjects(getDb(c.env.DB), userId) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects',
      tags,
      summary: 'Create a project (you become its owner)',
      request: jsonBody(CreateProjectSchema),
      responses: { 201: jsonResponse(ProjectSchema, 'Created'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const { userId } = requireUser(c.get('principal'));
      const db = getDb(c.env.DB);
      const access = await createProject(db, userId, c.req.valid('json'), Date.now(), await pickDatabase(c.env));
      return c.json(await projectView(db, access), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}',
      tags,
      summary: 'A project',
      description: 'Any member, a `read` API key of the project, or its share link.',
      request: { params: ProjectIdParams },
      responses: { 200: jsonResponse(ProjectSchema, 'The project'), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'read');
      return c.json(await projectView(db, access), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/api/projects/{id}',
      tags,
      summary: "Change a project's settings (admin)",
      request: { params: ProjectIdParams, ...jsonBody(UpdateProjectSchema) },
      responses: { 200: jsonResponse(ProjectSchema, 'The project'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(
        await projectView(
          db,
          await updateProject(db, getDb(databaseOf(c.env, access.project)), access, c.req.valid('json'), Date.now()),
        ),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/projects/{id}',
      tags,
      summary: 'Delete a project and all its data (owner)',
      request: { params: ProjectIdParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { project } = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'owner');
      await deleteProject(c.env, project.id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/reset',
      tags,
      summary: "Delete a project's data, keep its settings (owner)",
      description:
        'Events, rollups and drop counts are deleted; settings, goals, funnels, members, API keys and share links stay.',
      request: { params: ProjectIdParams },
      responses: { 204: { description: 'Reset' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { project } = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'owner');
      await resetProjectData(c.env, project.id, Date.now());
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/projects/{id}/property-keys',
      tags,
      summary: 'The custom property keys of recent events',
      description:
        'Distinct keys of `props` in the last 30 days (at most 100, by name), optionally of one event name: what ' +
        'the dashboard offers for an `event:props:<key>` breakdown.',
      request: {
        params: ProjectIdParams,
        query: z.object({ event: z.string().min(1).max(120).optional().openapi({ example: 'signup' }) }),
      },
      responses: {
        200: jsonResponse(z.object({ keys: z.array(z.string()) }), 'Keys'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { project } = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'read');
      const { event } = c.req.valid('query');
      return c.json(
        { keys: await propertyKeys(databaseOf(c.env, project), project.id, event ?? null, Date.now()) },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/projects/{id}/site-key',
      tags,
      summary: 'Regenerate the public site key (admin)',
      description: 'The old key stops working; update the script tag.',
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ siteKey: z.string() }), 'The new key'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json({ siteKey: await regenerateSiteKey(db, access, Date.now()) }, 200);
    },
  );
