/** Pieces every OpenAPI route description shares: the error body and its responses. */
import { z } from '@hono/zod-openapi';

/** The one error shape of every rejection. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_input' }),
      message: z.string().openapi({ example: 'The request is invalid' }),
      details: z.unknown().optional().openapi({ description: 'For 400s: the failing fields, `[{ path, message }]`' }),
    }),
  })
  .openapi('Error');

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; `details` names each failing field',
  401: 'Not signed in, or the credentials are invalid or expired',
  403: 'Signed in, but not allowed (role, scope, or a cross-origin browser request)',
  404: 'No such resource — or one you have no access to',
  409: 'Conflicts with an existing resource',
  429: 'Too many attempts; see `Retry-After`',
};

/** Error responses for a route, by status. */
export function errorResponses(...statuses: (keyof typeof DESCRIPTIONS)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: DESCRIPTIONS[status] ?? 'Error', content: { 'application/json': { schema: ErrorSchema } } },
    ]),
  );
}

/** A JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    body: { content: { 'application/json': { schema } }, required: true, ...(description ? { description } : {}) },
  };
}

/** A JSON response. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** The `{id}` of a project route. */
export const ProjectIdParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});
