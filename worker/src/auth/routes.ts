/**
 * Account routes: sign up, sign in, refresh, sign out, me, change password, delete account.
 * Browsers get HttpOnly cookies; API clients ask for `mode: "token"` and send
 * `Authorization: Bearer <accessToken>`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getDb } from '../db/index.ts';
import { ApiError } from '../shared/errors.ts';
import { type AppEnv, createRouter } from '../shared/hono.ts';
import { errorResponses, jsonBody, jsonResponse } from '../shared/openapi.ts';
import {
  changePassword,
  deleteAccount,
  EmailSchema,
  getUser,
  PasswordSchema,
  signIn,
  signUp,
  type User,
  UserSchema,
  userProjects,
} from './accounts.ts';
import { clearSessionCookies, refreshCookie, setSessionCookies } from './cookies.ts';
import { requireUser } from './principal.ts';
import {
  type IssuedTokens,
  refreshSession,
  revokeByRefreshToken,
  revokeSession,
  revokeUserSessions,
  startSession,
} from './sessions.ts';

const ModeSchema = z
  .enum(['cookie', 'token'])
  .default('cookie')
  .openapi({ description: '`cookie` (browsers): HttpOnly cookies. `token`: tokens in the body, no cookies.' });

const SessionSchema = z
  .object({
    user: UserSchema,
    accessToken: z.string().optional().openapi({ description: 'Only with `mode: "token"`' }),
    refreshToken: z.string().optional().openapi({ description: 'Only with `mode: "token"`' }),
    expiresIn: z.number().int().openapi({ description: 'Seconds the access token is valid' }),
  })
  .openapi('Session');

const MeSchema = z
  .object({
    user: UserSchema,
    projects: z.array(
      z.object({ id: z.string(), name: z.string(), siteKey: z.string(), role: z.enum(['owner', 'admin', 'viewer']) }),
    ),
  })
  .openapi('Me');

const tags = ['Account'];
const noContent = { 204: { description: 'Done' } };

/** Answer a new session: cookies for browsers, tokens in the body for API clients. */
function sessionResponse(c: Context<AppEnv>, user: User, tokens: IssuedTokens, mode: 'cookie' | 'token') {
  if (mode === 'cookie') {
    setSessionCookies(c, tokens);
    return { user, expiresIn: tokens.expiresIn };
  }
  return { user, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresIn: tokens.expiresIn };
}

export const authRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/auth/signup',
      tags,
      summary: 'Create an account and sign in',
      request: jsonBody(
        z.object({
          email: EmailSchema,
          password: PasswordSchema,
          name: z.string().trim().min(1).max(100).optional(),
          mode: ModeSchema,
        }),
      ),
      responses: { 201: jsonResponse(SessionSchema, 'Signed up and signed in'), ...errorResponses(400, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const now = Date.now();
      const db = getDb(c.env.DB);
      const user = await signUp(db, body, now);
      const tokens = await startSession(db, c.env.AUTH_SECRET, user.id, now);
      return c.json(sessionResponse(c, user, tokens, body.mode), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/auth/signin',
      tags,
      summary: 'Sign in with email and password',
      description:
        'Unknown emails and wrong passwords get the same 401. Five failures in a row from one address lock that ' +
        'address out of the account for 15 minutes, and twenty (on any accounts) lock it out of all (429). An ' +
        'account under attack slows down only the addresses that fail on it; one that has not failed always gets in.',
      request: jsonBody(z.object({ email: EmailSchema, password: z.string().max(256), mode: ModeSchema })),
      responses: { 200: jsonResponse(SessionSchema, 'Signed in'), ...errorResponses(400, 401, 403, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const now = Date.now();
      const user = await signIn(c.env, body, c.req.header('cf-connecting-ip') ?? '', now);
      const tokens = await startSession(getDb(c.env.DB), c.env.AUTH_SECRET, user.id, now);
      return c.json(sessionResponse(c, user, tokens, body.mode), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/auth/refresh',
      tags,
      summary: 'Trade a refresh token for a new pair',
      description:
        'Each refresh token works once; presenting a used one again signs out its whole session (stolen-token detection).',
      request: {
        body: {
          content: { 'application/json': { schema: z.object({ refreshToken: z.string().max(200).optional() }) } },
          required: false,
        },
      },
      responses: { 200: jsonResponse(SessionSchema, 'New tokens'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const fromBody = ((await c.req.json().catch(() => null)) ?? {}) as { refreshToken?: unknown };
      const token = typeof fromBody.refreshToken === 'string' ? fromBody.refreshToken : refreshCookie(c);
      if (!token) throw new ApiError(401, 'unauthorized', 'No refresh token');
      const db = getDb(c.env.DB);
      const tokens = await refreshSession(db, c.env.AUTH_SECRET, token, Date.now());
      const user = await getUser(db, tokens.userId);
      return c.json(
        sessionResponse(c, user, tokens, typeof fromBody.refreshToken === 'string' ? 'token' : 'cookie'),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/auth/signout',
      tags,
      summary: 'Sign out: revoke this session',
      description:
        'Revokes the session of the access token, or — when that has expired — of the refresh token ' +
        '(cookie, or `refreshToken` in the body), so that signing out always ends the session.',
      responses: { ...noContent, ...errorResponses(401, 403) },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const now = Date.now();
      const principal = c.get('principal');
      const fromBody = ((await c.req.json().catch(() => null)) ?? {}) as { refreshToken?: unknown };
      const refreshToken = typeof fromBody.refreshToken === 'string' ? fromBody.refreshToken : refreshCookie(c);
      if (principal?.kind === 'user') await revokeSession(db, principal.sessionId, now);
      else if (!refreshToken || !(await revokeByRefreshToken(db, refreshToken, now))) requireUser(principal);
      clearSessionCookies(c);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/auth/me',
      tags,
      summary: 'The signed-in user and their projects',
      responses: { 200: jsonResponse(MeSchema, 'The user'), ...errorResponses(401) },
    }),
    async (c) => {
      const { userId } = requireUser(c.get('principal'));
      const db = getDb(c.env.DB);
      return c.json({ user: await getUser(db, userId), projects: await userProjects(db, userId) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/api/auth/password',
      tags,
      summary: 'Change the password',
      description: 'Every other session of the user is signed out.',
      request: jsonBody(z.object({ currentPassword: z.string().max(256), newPassword: PasswordSchema })),
      responses: { ...noContent, ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const { userId, sessionId } = requireUser(c.get('principal'));
      const body = c.req.valid('json');
      const db = getDb(c.env.DB);
      await changePassword(db, userId, body.currentPassword, body.newPassword);
      await revokeUserSessions(db, userId, Date.now(), sessionId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/api/auth/me',
      tags,
      summary: 'Delete the account',
      description: 'Projects the user alone owns are deleted with all their data.',
      request: jsonBody(z.object({ password: z.string().max(256) })),
      responses: { ...noContent, ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const { userId } = requireUser(c.get('principal'));
      await deleteAccount(c.env, userId, c.req.valid('json').password);
      clearSessionCookies(c);
      return c.body(null, 204);
    },
  );
