/**
 * The operator: whoever deploys Tally. Placement — which pool database holds a project — is theirs
 * to decide, not a project owner's (a move fences the project's writes for its length and costs the
 * whole pool reads and writes), so the routes that change it answer only to `OPERATOR_TOKEN`, a
 * secret the operator sets (`wrangler secret put OPERATOR_TOKEN`). Without it they do not exist.
 */
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../shared/errors.ts';
import type { AppEnv } from '../shared/hono.ts';
import { constantTimeEqual } from './password.ts';

/**
 * The header that carries the operator's token. Not `Authorization`: that one names a user or an
 * API key (`principal.ts`), and the operator is neither.
 */
export const OPERATOR_HEADER = 'x-tally-operator';

/** The optional secret, absent from the generated `Env` (wrangler.toml's `[secrets]` lists the required ones). */
type OperatorEnv = { OPERATOR_TOKEN?: string };

/**
 * Whether `token` is the operator's: both are hashed first, so the comparison takes the same time
 * whatever their lengths and wherever they differ. False when no operator token is set.
 */
async function isOperatorToken(env: OperatorEnv, token: string | undefined): Promise<boolean> {
  const expected = env.OPERATOR_TOKEN;
  if (!expected || token === undefined) return false;
  const [a, b] = await Promise.all([sha256(token), sha256(expected)]);
  return constantTimeEqual(a, b);
}

/**
 * Middleware for operator routes: without the right token in {@link OPERATOR_HEADER} — or where no
 * `OPERATOR_TOKEN` is set — 404, exactly as for a route that does not exist. It runs before the route
 * reads its input, so a refused caller learns nothing about the project or the pool (not even that
 * an operator token is set), and a project's id reads there as everywhere else (404 unless yours).
 *
 * @example
 * ```ts
 * createRoute({ method: 'post', path: '/api/projects/{id}/move', middleware: [operatorOnly], … });
 * ```
 */
export const operatorOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!(await isOperatorToken(c.env as OperatorEnv, c.req.header(OPERATOR_HEADER))))
    throw new ApiError(404, 'not_found', 'No such route');
  await next();
});

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}
