/**
 * Moving a project's data to another database of the pool (the operator: `auth/operator.ts`):
 * `store/move.ts` does the work.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { OPERATOR_HEADER, operatorOnly } from '../auth/operator.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import { moveProject } from '../store/index.ts';
import { ProjectIdParams } from './schemas.ts';

const MoveSchema = z
  .object({
    database: z.string().min(1).max(40).openapi({ example: 'DB_1', description: 'A D1 binding of the pool' }),
  })
  .strict();

const MoveProgressSchema = z
  .object({
    move: z.object({
      source: z.string(),
      target: z.string(),
      step: z.enum(['copy', 'verify', 'switch', 'clean', 'done']),
      table: z.string().nullable(),
      attempts: z.number().int(),
      busy: z.boolean().openapi({ description: 'Another call or the cron is working on it right now' }),
    }),
  })
  .openapi('MoveProgress');

export const moveRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/api/projects/{id}/move',
    tags: ['Projects'],
    summary: "Move a project's data to another database of the pool (the operator)",
    description:
      `For the operator of the deployment alone: \`${OPERATOR_HEADER}: <OPERATOR_TOKEN>\` (a secret); without it, ` +
      'or where it is not set, the route does not exist: 404. Starts the move, or carries on with it, for up to about ' +
      '20 seconds: the source is fenced (events wait on the queue), every table is copied and verified, the ' +
      "project switches to the target, and the source's rows are deleted. 200 once done; 202 while under " +
      'way — the cron carries on every tick, and calling again carries on at once.',
    middleware: [operatorOnly] as const,
    request: { params: ProjectIdParams, ...jsonBody(MoveSchema) },
    responses: {
      200: jsonResponse(MoveProgressSchema, 'Moved'),
      202: jsonResponse(MoveProgressSchema, 'Under way'),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const { projectId: _, ...move } = await moveProject(c.env, c.req.valid('param').id, c.req.valid('json').database);
    return c.json({ move }, move.step === 'done' ? 200 : 202);
  },
);
