/** API key routes: create (secret shown once), list, revoke, rotate. All need `admin` on the project. */
import { createRoute, z } from '@hono/zod-openapi';
import { getDb } from '../db/index.ts';
import { authorizeProject } from './access.ts';
import { createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse, ProjectIdParams } from '../shared/openapi.ts';
import { createApiKey, DEFAULT_API_KEY_RATE_LIMIT, listApiKeys, revokeApiKey, rotateApiKey } from './api-key-admin.ts';
import { API_KEY_SCOPES } from './api-keys.ts';

const ScopesSchema = z
  .array(z.enum(API_KEY_SCOPES))
  .min(1)
  .max(API_KEY_SCOPES.length)
  .refine((scopes) => new Set(scopes).size === scopes.length, 'each scope at most once')
  .openapi({
    description: '`ingest`: POST /api/event; `read`: the stats API; `admin`: the management API of this project',
    example: ['ingest'],
  });

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The 8 characters after `tly_`, to tell keys apart' }),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    createdAt: z.number().int(),
    expiresAt: z.number().int().nullable(),
    lastUsedAt: z.number().int().nullable(),
    usageCount: z.number().int(),
    rateLimit: z.number().int().openapi({ description: 'Requests per minute' }),
    status: z.enum(['active', 'revoked', 'expired']),
  })
  .openapi('ApiKey');

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z
    .string()
    .openapi({ description: 'The whole secret. Shown this once: store it now.', example: 'tly_k3j9x0ab_…' }),
}).openapi('CreatedApiKey');

const CreateApiKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: ScopesSchema,
    expiresAt: z
      .number()
      .int()
      .positive()
      .max(8.64e15)
      .optional()
      .openapi({ description: 'When the key stops working (ms since the epoch, in the future); never when absent' }),
    rateLimit: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(DEFAULT_API_KEY_RATE_LIMIT)
      .openapi({ description: 'Requests per minute; past it, 429 with `Retry-After`' }),
  })
  .openapi('CreateApiKey');

const KeyParams = ProjectIdParams.extend({
  keyId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'keyId', in: 'path' } }),
});

const tags = ['API keys'];
const path = '/api/projects/{id}/keys';

export const apiKeyRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path,
      tags,
      summary: 'Create an API key (admin)',
      request: { params: ProjectIdParams, ...jsonBody(CreateApiKeySchema) },
      responses: {
        201: jsonResponse(CreatedApiKeySchema, 'Created; `key` is never shown again'),
        ...errorResponses(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json(await createApiKey(db, c.env.API_KEY_PEPPER, access, c.req.valid('json'), Date.now()), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path,
      tags,
      summary: "A project's API keys (admin)",
      description: 'Never the secrets: only their prefixes.',
      request: { params: ProjectIdParams },
      responses: {
        200: jsonResponse(z.object({ keys: z.array(ApiKeySchema) }), 'Keys, oldest first'),
        ...errorResponses(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const access = await authorizeProject(db, c.get('principal'), c.req.valid('param').id, 'admin');
      return c.json({ keys: await listApiKeys(db, access, Date.now()) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: `${path}/{keyId}`,
      tags,
      summary: 'Revoke an API key (admin)',
      description: 'The key stops working at once; it stays in the list as `revoked`.',
      request: { params: KeyParams },
      responses: { 204: { description: 'Revoked' }, ...errorResponses(401, 403, 404, 429) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { id, keyId } = c.req.valid('param');
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      await revokeApiKey(db, access, keyId, Date.now());
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: `${path}/{keyId}/rotate`,
      tags,
      summary: 'Rotate an API key (admin)',
      description:
        'Revokes the key and returns a new one with the same name, scopes, expiry and rate limit. ' +
        'Revoked and expired keys cannot be rotated (409).',
      request: { params: KeyParams },
      responses: {
        201: jsonResponse(CreatedApiKeySchema, 'The new key; `key` is never shown again'),
        ...errorResponses(401, 403, 404, 409, 429),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const { id, keyId } = c.req.valid('param');
      const access = await authorizeProject(db, c.get('principal'), id, 'admin');
      return c.json(await rotateApiKey(db, c.env.API_KEY_PEPPER, access, keyId, Date.now()), 201);
    },
  );
