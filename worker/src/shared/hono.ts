/**
 * The Hono types every router shares, and the factory for OpenAPI routers: request validation
 * failures become the one error shape, naming each failing field.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Principal } from './principal.ts';
import { ApiError, type FieldIssue } from './errors.ts';

/** Bindings and per-request variables of the app. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Who is calling: a signed-in user, an API key, a share link, or nobody. */
    principal: Principal | null;
  };
}

/**
 * Zod issues as the error body's `details`. An unknown key is reported at its own path (zod puts
 * it at the object's path and names it only in the message), so a client can see which field.
 */
export function fieldIssues(
  issues: readonly { code?: string; path: readonly PropertyKey[]; message: string; keys?: readonly string[] }[],
): FieldIssue[] {
  const path = (parts: readonly PropertyKey[]) => parts.map((part) => (typeof part === 'symbol' ? String(part) : part));
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys?.length
      ? issue.keys.map((key) => ({ path: [...path(issue.path), key], message: 'unknown field' }))
      : [{ path: path(issue.path), message: issue.message }],
  );
}

/**
 * A router whose routes are described in the OpenAPI document by the same zod schemas that
 * validate them.
 *
 * @example
 * ```ts
 * const router = createRouter().openapi(route, (c) => c.json(handler(c.req.valid('json')), 200));
 * ```
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ApiError(400, 'invalid_input', 'The request is invalid', fieldIssues(result.error.issues));
      }
    },
  });
}
