/**
 * Helpers for tests of the management API: accounts made through the real sign-up route, projects
 * made through the real project route, and one way to call the API as a user, an API key or nobody.
 * Everything goes through the Worker's `fetch`, so CSRF, authentication and validation all run.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { ORIGIN } from './helpers.ts';

/** The password every test account has. */
export const PASSWORD = 'correct horse battery staple';

/** A signed-in test user. */
export interface TestUser {
  userId: string;
  email: string;
  /** The access token (a JWT), for `Authorization: Bearer`. */
  token: string;
  /** `{ authorization: 'Bearer …' }`, ready to spread into a request's headers. */
  headers: { authorization: string };
}

/** How {@link api} makes a request. */
export interface ApiOptions {
  /** `GET` unless given. */
  method?: string;
  /** An access token or an API key (`tly_…`), sent as `Authorization: Bearer`. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Extra headers; they win over the ones set from `token` and `body`. */
  headers?: Record<string, string>;
}

/**
 * Call the API through the real Worker, as an API client would: JSON in, bearer token, no cookies
 * and no `Origin` (header-authenticated requests need none; add `origin: ORIGIN` to act as the
 * dashboard).
 *
 * @example
 * ```ts
 * const res = await api(`/api/projects/${id}`, { method: 'PATCH', token: owner.token, body: { name: 'New' } });
 * ```
 */
export function api(path: string, options: ApiOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, options.headers);
  return exports.default.fetch(`${ORIGIN}${path}`, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

/** Assert a response's status (showing the body when it differs) and return its JSON body. */
export async function expectJson<T = Record<string, unknown>>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** An email address no other test uses; `label` makes failures easier to read. */
export function uniqueEmail(label = 'user'): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/**
 * Create an account through `POST /api/auth/signup` (token mode) and return it signed in.
 *
 * @example
 * ```ts
 * const owner = await signUp(uniqueEmail('owner'));
 * ```
 */
export async function signUp(email: string = uniqueEmail(), name?: string): Promise<TestUser> {
  const res = await api('/api/auth/signup', {
    method: 'POST',
    body: { email, password: PASSWORD, mode: 'token', ...(name === undefined ? {} : { name }) },
    headers: { origin: ORIGIN },
  });
  const body = await expectJson<{ user: { id: string; email: string }; accessToken: string }>(res, 201);
  return {
    userId: body.user.id,
    email: body.user.email,
    token: body.accessToken,
    headers: { authorization: `Bearer ${body.accessToken}` },
  };
}

/** A project as `POST /api/projects` answers it (the fields tests use most). */
export interface CreatedProject {
  id: string;
  name: string;
  siteKey: string;
  hostnames: { hostname: string; includeSubdomains: boolean }[];
  [field: string]: unknown;
}

/**
 * Create a project through `POST /api/projects` as the token's user, who becomes its owner.
 * `body` is the create request; a name is made up when it has none.
 *
 * @example
 * ```ts
 * const project = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }] });
 * ```
 */
export async function createProjectAs(token: string, body: Record<string, unknown> = {}): Promise<CreatedProject> {
  const res = await api('/api/projects', {
    method: 'POST',
    token,
    body: { name: `Project ${crypto.randomUUID().slice(0, 8)}`, ...body },
  });
  return expectJson<CreatedProject>(res, 201);
}

/** Give an existing user a role in a project, through `POST /api/projects/{id}/members`. */
export async function addMember(
  token: string,
  projectId: string,
  email: string,
  role: 'owner' | 'admin' | 'viewer',
): Promise<void> {
  const res = await api(`/api/projects/${projectId}/members`, { method: 'POST', token, body: { email, role } });
  await expectJson(res, 201);
}
