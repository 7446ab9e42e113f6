/**
 * The world the hardening suites attack: an owner with a project and every kind of thing a project
 * holds (a goal, a funnel, a share link, an API key, a viewer), and a stranger with a project of
 * their own — all made through the real API. Also the route list, read from the OpenAPI document so
 * that a route added later is attacked without anyone editing these tests.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { addMember, api, createProjectAs, expectJson, signUp, type TestUser } from './accounts.ts';
import { ORIGIN } from './helpers.ts';

/** One operation of the API: an HTTP method and a path template such as `/api/projects/{id}`. */
export interface Route {
  method: string;
  template: string;
}

/** Routes outside the OpenAPI document (it describes the JSON API only). */
export const UNDOCUMENTED_ROUTES: Route[] = [
  { method: 'GET', template: '/api/health' },
  { method: 'GET', template: '/api/openapi.json' },
  { method: 'GET', template: '/api/docs' },
];

/** Every documented operation, from `GET /api/openapi.json`. */
export async function documentedRoutes(): Promise<Route[]> {
  const res = await exports.default.fetch(`${ORIGIN}/api/openapi.json`);
  const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(res, 200);
  const routes = Object.entries(doc.paths).flatMap(([template, operations]) =>
    Object.keys(operations).map((method) => ({ method: method.toUpperCase(), template })),
  );
  // A document that lost its routes would make every suite built on it pass vacuously.
  expect(routes.length).toBeGreaterThanOrEqual(30);
  return routes;
}

/** The routes of one project, `/api/projects/{id}…`, and the stats routes that name a project in the body. */
export function isProjectRoute(route: Route): boolean {
  return route.template.startsWith('/api/projects/{id}') || route.template.startsWith('/api/v1/');
}

/** Whether a browser request to the route changes state (and so must pass the CSRF check). */
export function changesState(route: Route): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(route.method);
}

/** Everything one project holds, with ids as the API gave them. */
export interface ProjectWorld {
  id: string;
  siteKey: string;
  goalId: string;
  funnelId: string;
  shareId: string;
  shareSlug: string;
  segmentId: string;
  keyId: string;
  /** An API key of this project with every scope and a high rate limit. */
  apiKey: string;
  /** A member other than the owner (a viewer). */
  memberUserId: string;
}

/**
 * The attackers' world: an owner, a viewer of the owner's project, and a stranger with a project
 * of their own (whose viewer is an outsider to the owner's project).
 */
export interface World {
  owner: TestUser;
  viewer: TestUser;
  stranger: TestUser;
  outsider: TestUser;
  project: ProjectWorld;
  /** The stranger's project: the owner has no part in it. */
  foreign: ProjectWorld;
}

/**
 * Make a project with one of everything, as `owner`, through the API. `member` joins as viewer.
 *
 * @example
 * ```ts
 * const project = await makeProject(owner, viewer);
 * ```
 */
export async function makeProject(owner: TestUser, member: TestUser): Promise<ProjectWorld> {
  const project = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }] });
  const at = `/api/projects/${project.id}`;
  const post = async <T>(path: string, body: unknown) =>
    expectJson<T>(await api(`${at}${path}`, { method: 'POST', token: owner.token, body }), 201);
  const goal = await post<{ id: string; name: string }>('/goals', { kind: 'pageview', path: '/pricing' });
  const funnel = await post<{ id: string; name: string }>('/funnels', {
    name: 'Checkout',
    steps: [
      { kind: 'pageview', path: '/' },
      { kind: 'event', eventName: 'signup' },
    ],
  });
  const share = await post<{ id: string; slug: string }>('/shares', { name: 'Public' });
  const segment = await post<{ id: string }>('/segments', { name: 'Germany', filters: [['is', 'country', ['DE']]] });
  const key = await post<{ id: string; key: string }>('/keys', {
    name: 'all scopes',
    scopes: ['ingest', 'read', 'admin'],
    rateLimit: 100_000,
  });
  await addMember(owner.token, project.id, member.email, 'viewer');
  return {
    id: project.id,
    siteKey: project.siteKey,
    goalId: goal.id,
    funnelId: funnel.id,
    shareId: share.id,
    shareSlug: share.slug,
    segmentId: segment.id,
    keyId: key.id,
    apiKey: key.key,
    memberUserId: member.userId,
  };
}

/** Sign up the four users and make both projects. */
export async function makeWorld(): Promise<World> {
  const [owner, viewer, stranger, outsider] = [await signUp(), await signUp(), await signUp(), await signUp()];
  return {
    owner,
    viewer,
    stranger,
    outsider,
    project: await makeProject(owner, viewer),
    foreign: await makeProject(stranger, outsider),
  };
}

/** A template's path with each `{param}` filled from the project (the ids it really has). */
export function pathFor(template: string, project: ProjectWorld): string {
  const values: Record<string, string> = {
    id: project.id,
    goalId: project.goalId,
    funnelId: project.funnelId,
    shareId: project.shareId,
    keyId: project.keyId,
    userId: project.memberUserId,
    slug: project.shareSlug,
    segmentId: project.segmentId,
    siteKey: project.siteKey,
  };
  return template.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

/**
 * A well-formed body for each operation that takes one, naming `project`'s resources. The
 * malformed-input suite mutates these; the access suites send them as they are.
 */
export function validBody(route: Route, project: ProjectWorld): unknown {
  const range = '7d';
  const bodies: Record<string, unknown> = {
    'POST /api/auth/signup': { email: 'fuzz@example.com', password: 'correct horse battery staple', mode: 'token' },
    'POST /api/auth/signin': { email: 'nobody@example.com', password: 'not the password', mode: 'token' },
    'POST /api/auth/refresh': { refreshToken: 'not-a-refresh-token' },
    'POST /api/auth/signout': {},
    'POST /api/auth/password': { currentPassword: 'not the password', newPassword: 'another long password' },
    'DELETE /api/auth/me': { password: 'not the password' },
    'POST /api/projects': { name: 'Fuzzed', hostnames: [{ hostname: 'example.org' }], timezone: 'Europe/Berlin' },
    'PATCH /api/projects/{id}': { name: 'Renamed', retentionDays: 30, rateLimits: { projectRate: 50 } },
    'POST /api/projects/{id}/move': { database: 'DB_1' },
    'POST /api/projects/{id}/members': { email: 'nobody@example.com', role: 'viewer' },
    'PATCH /api/projects/{id}/members/{userId}': { role: 'viewer' },
    'POST /api/projects/{id}/keys': { name: 'fuzzed', scopes: ['read'] },
    'POST /api/projects/{id}/shares': { name: 'fuzzed' },
    'PATCH /api/projects/{id}/shares/{shareId}': { embedOrigins: ['https://blog.example.com'] },
    'POST /api/share/{slug}/auth': { password: 'not the password' },
    'POST /api/projects/{id}/segments': {
      name: 'Fuzzed segment',
      filters: [['does_not_contain', 'page', ['/admin', null]]],
    },
    'PATCH /api/projects/{id}/segments/{segmentId}': { name: 'Renamed segment' },
    'POST /api/projects/{id}/goals': { kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
    'PATCH /api/projects/{id}/goals/{goalId}': { path: '/blog/**', kind: 'pageview' },
    'POST /api/projects/{id}/funnels': {
      name: 'Fuzzed funnel',
      steps: [
        { kind: 'pageview', path: '/' },
        { kind: 'pageview', path: '/pricing' },
      ],
    },
    'PATCH /api/projects/{id}/funnels/{funnelId}': { name: 'Renamed funnel' },
    'POST /api/v1/query': {
      project: project.id,
      metrics: ['visitors', 'pageviews', 'bounce_rate'],
      date_range: range,
      dimensions: ['source', 'event:props:plan'],
      filters: [
        ['is', 'country', ['DE', null]],
        ['contains', 'page', ['/blog']],
      ],
      order_by: [['visitors', 'desc']],
      limit: 10,
      include: { totals: true, compare: 'previous_period' },
    },
    'POST /api/v1/drops': { project: project.id, date_range: range },
    'POST /api/v1/funnel': { project: project.id, funnel: project.funnelId, date_range: range },
    'POST /api/v1/export': { project: project.id, date_range: range, filters: [['is_not', 'browser', ['Safari']]] },
    'POST /api/event': {
      s: project.siteKey,
      n: 'pageview',
      u: 'https://example.com/pricing?utm_source=fuzz',
      r: 'https://news.example.org/',
      w: 1280,
      p: { plan: 'pro' },
    },
  };
  return bodies[`${route.method} ${route.template}`];
}
