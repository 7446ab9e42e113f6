/**
 * Projects through the management API: CRUD, site-key regeneration, the role matrix (each role ×
 * each project route), and the OpenAPI document that describes it all.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app.ts';
import { api, createProjectAs as create, expectJson, signUp, type TestUser } from './accounts.ts';
import { expectError, pageview, postEvent } from './helpers.ts';

/** A project as the API shows it. */
interface Project {
  id: string;
  name: string;
  siteKey: string;
  timezone: string;
  retentionDays: number;
  publicLive: boolean;
  rateLimits: Record<string, number> | null;
  hostnames: { hostname: string; includeSubdomains: boolean }[];
  role: string | null;
}

const createProjectAs = async (user: TestUser, body: Record<string, unknown> = {}) =>
  (await create(user.token, { name: 'Blog', ...body })) as unknown as Project;

const readAs = async (user: TestUser, id: string) =>
  expectJson<Project>(await api(`/api/projects/${id}`, { token: user.token }), 200);

/**
 * Membership written straight to D1, so that the matrix tests the project routes' authorisation
 * and nothing of the member routes.
 */
async function grantRole(projectId: string, user: TestUser, role: 'admin' | 'viewer'): Promise<void> {
  await env.DB.prepare('INSERT INTO members (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)')
    .bind(projectId, user.userId, role, Date.now())
    .run();
}

let owner: TestUser;
let other: TestUser;
beforeAll(async () => {
  owner = await signUp();
  other = await signUp();
});

describe('project CRUD', () => {
  it('creates a project owned by its creator, with defaults and lower-cased hostnames', async () => {
    const project = await createProjectAs(owner, {
      hostnames: [{ hostname: 'Example.COM' }, { hostname: ' Docs.Example.com ', includeSubdomains: true }],
    });
    expect(project).toMatchObject({
      name: 'Blog',
      role: 'owner',
      timezone: 'UTC',
      retentionDays: 365,
      publicLive: false,
      rateLimits: null,
      hostnames: [
        { hostname: 'docs.example.com', includeSubdomains: true },
        { hostname: 'example.com', includeSubdomains: false },
      ],
    });
    expect(project.siteKey).toMatch(/^[a-z0-9]{16}$/);
    const member = await env.DB.prepare('SELECT user_id, role FROM members WHERE project_id = ?')
      .bind(project.id)
      .all();
    expect(member.results).toEqual([{ user_id: owner.userId, role: 'owner' }]);
    expect(await readAs(owner, project.id)).toEqual(project);
  });

  it.each([
    ['hostnames', { hostnames: [{ hostname: 'https://x.com/path' }] }, ['hostnames', 0, 'hostname']],
    ['timezone', { timezone: 'Mars/Olympus' }, ['timezone']],
    ['retentionDays', { retentionDays: 0 }, ['retentionDays']],
  ])('refuses an invalid %s with 400 naming the field, on create and update', async (_field, body, path) => {
    const before = (await (await api('/api/projects', { token: other.token })).json()) as { projects: Project[] };
    const created = await api('/api/projects', { method: 'POST', token: other.token, body: { name: 'Bad', ...body } });
    const error = await expectError(created, 400, 'invalid_input');
    expect(error.details).toEqual([expect.objectContaining({ path })]);
    const after = (await (await api('/api/projects', { token: other.token })).json()) as { projects: Project[] };
    expect(after.projects).toHaveLength(before.projects.length);

    const project = await createProjectAs(other);
    const updated = await api(`/api/projects/${project.id}`, { method: 'PATCH', token: other.token, body });
    expect((await expectError(updated, 400, 'invalid_input')).details).toEqual([expect.objectContaining({ path })]);
    expect(await readAs(other, project.id)).toEqual(project);
  });

  it('lists only the caller’s projects', async () => {
    const ada = await signUp();
    const bob = await signUp();
    const adas = [await createProjectAs(ada, { name: 'A1' }), await createProjectAs(ada, { name: 'A2' })];
    const bobs = [await createProjectAs(bob, { name: 'B1' })];
    for (const [user, mine] of [
      [ada, adas],
      [bob, bobs],
    ] as const) {
      const res = await api('/api/projects', { token: user.token });
      expect(res.status).toBe(200);
      const { projects } = (await res.json()) as { projects: Project[] };
      expect(projects.map((p) => p.id).sort()).toEqual(mine.map((p) => p.id).sort());
    }
  });

  it('updates settings: hostnames replace the list, rate-limit overrides are stored and returned', async () => {
    const project = await createProjectAs(owner, {
      hostnames: [{ hostname: 'old.example' }, { hostname: 'keep.example' }],
    });
    const changes = {
      name: 'Renamed',
      hostnames: [{ hostname: 'New.Example', includeSubdomains: true }],
      timezone: 'Europe/Berlin',
      retentionDays: 30,
      publicLive: true,
      rateLimits: { projectRate: 5, visitorBurst: 3 },
    };
    const res = await api(`/api/projects/${project.id}`, { method: 'PATCH', token: owner.token, body: changes });
    expect(res.status).toBe(200);
    const expected = { ...changes, hostnames: [{ hostname: 'new.example', includeSubdomains: true }] };
    expect(await res.json()).toMatchObject(expected);
    expect(await readAs(owner, project.id)).toMatchObject(expected);
    const row = await env.DB.prepare('SELECT rate_limits FROM projects WHERE id = ?')
      .bind(project.id)
      .first<{ rate_limits: string }>();
    expect(JSON.parse(row?.rate_limits ?? 'null')).toEqual(changes.rateLimits);

    // A partial update leaves everything else alone; null clears the overrides.
    const partial = await api(`/api/projects/${project.id}`, {
      method: 'PATCH',
      token: owner.token,
      body: { rateLimits: null },
    });
    expect(await partial.json()).toMatchObject({ ...expected, rateLimits: null });
  });

  it('regenerates the site key: the old one stops ingesting, the new one starts', async () => {
    const project = await createProjectAs(owner, { hostnames: [{ hostname: 'example.com' }] });
    expect((await postEvent(pageview(project.siteKey))).status).toBe(202);

    const res = await api(`/api/projects/${project.id}/site-key`, { method: 'POST', token: owner.token });
    expect(res.status).toBe(200);
    const { siteKey } = (await res.json()) as { siteKey: string };
    expect(siteKey).toMatch(/^[a-z0-9]{16}$/);
    expect(siteKey).not.toBe(project.siteKey);
    expect((await readAs(owner, project.id)).siteKey).toBe(siteKey);

    await expectError(await postEvent(pageview(project.siteKey)), 404, 'unknown_site');
    expect((await postEvent(pageview(siteKey))).status).toBe(202);
  });
});

describe('role matrix', () => {
  type Who = 'owner' | 'admin' | 'viewer' | 'stranger' | 'anonymous';
  const ROUTES = [
    { route: 'GET /api/projects/{id}', method: 'GET', path: '', body: undefined, ok: 200 },
    { route: 'PATCH /api/projects/{id}', method: 'PATCH', path: '', body: { name: 'Changed' }, ok: 200 },
    { route: 'DELETE /api/projects/{id}', method: 'DELETE', path: '', body: undefined, ok: 204 },
    { route: 'POST /api/projects/{id}/site-key', method: 'POST', path: '/site-key', body: undefined, ok: 200 },
  ] as const;
  /** What each caller gets on each route, in the order of ROUTES ('ok' = the route's success). */
  const EXPECTED: Record<Who, (number | 'ok')[]> = {
    owner: ['ok', 'ok', 'ok', 'ok'],
    admin: ['ok', 'ok', 403, 'ok'],
    viewer: ['ok', 403, 403, 403],
    stranger: [404, 404, 404, 404],
    anonymous: [401, 401, 401, 401],
  };
  const CODES: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' };
  const cases = (Object.keys(EXPECTED) as Who[]).flatMap((who) =>
    ROUTES.map((route, i) => ({ who, ...route, expected: EXPECTED[who][i] ?? 'missing' })),
  );

  const users = {} as Record<Exclude<Who, 'anonymous'>, TestUser>;
  beforeAll(async () => {
    users.owner = owner;
    [users.admin, users.viewer, users.stranger] = await Promise.all([signUp(), signUp(), signUp()]);
  });

  it.each(cases)('$who → $route: $expected', async ({ who, method, path, body, ok, expected }) => {
    const project = await createProjectAs(users.owner, { hostnames: [{ hostname: 'example.com' }] });
    if (who === 'admin' || who === 'viewer') await grantRole(project.id, users[who], who);
    const token = who === 'anonymous' ? undefined : users[who].token;
    const res = await api(`/api/projects/${project.id}${path}`, { method, body, token });

    if (expected === 'ok') {
      expect(res.status, await res.clone().text()).toBe(ok);
      return;
    }
    const text = await res.clone().text();
    await expectError(res, expected as number, CODES[expected as number] ?? '?');
    // Refused means untouched: the project still exists, with its name and site key.
    expect(await readAs(users.owner, project.id)).toEqual(project);
    if (who === 'stranger') {
      // Someone else's project answers exactly like one that does not exist.
      const missing = await api(`/api/projects/0193a000-0000-7000-8000-000000000000${path}`, { method, body, token });
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe(text);
    }
  });

  it('a deleted project is gone for its owner too', async () => {
    const project = await createProjectAs(owner);
    expect((await api(`/api/projects/${project.id}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    await expectError(await api(`/api/projects/${project.id}`, { token: owner.token }), 404, 'not_found');
    const { projects } = (await (await api('/api/projects', { token: owner.token })).json()) as { projects: Project[] };
    expect(projects.map((p) => p.id)).not.toContain(project.id);
  });
});

describe('OpenAPI document', () => {
  interface Operation {
    requestBody?: unknown;
    responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  }
  type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };
  const DOCUMENTED = /^\/api\/(auth|projects|event)(\/|$)/;
  let doc: Doc;
  beforeAll(async () => {
    const res = await api('/api/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });

  const operations = () =>
    Object.entries(doc.paths)
      .filter(([path]) => DOCUMENTED.test(path))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));

  it('is OpenAPI 3.1', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('lists every route the app serves under /api/auth, /api/projects and /api/event', () => {
    // The oracle is the router itself, so a route added without a description fails here.
    const served = app.routes
      .filter((route) => route.method !== 'ALL' && DOCUMENTED.test(route.path))
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(served.length).toBeGreaterThanOrEqual(14);
    const documented = operations().map(({ path, method }) => `${method} ${path}`);
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it('declares the error responses of every operation, in the one error shape', () => {
    const missing: string[] = [];
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      const errors = Object.keys(op.responses).filter((status) => /^[45]\d\d$/.test(status));
      if (!errors.length) missing.push(`${where}: no error response`);
      for (const status of errors) {
        const schema = op.responses[status]?.content?.['application/json']?.schema?.$ref;
        if (schema !== '#/components/schemas/Error') missing.push(`${where}: ${status} is not the Error shape`);
      }
      const needs = [
        // A body can be invalid; an id can be unknown (or not yours); a project route needs a caller;
        // and every browser-reachable write passes the CSRF check, which can refuse it.
        ...(op.requestBody ? ['400'] : []),
        // (The dashboard's WebSocket answers an unknown project like a bad ticket, 401, so that
        // project ids cannot be probed through it.)
        ...(path.includes('{') && !op.responses['101'] ? ['404'] : []),
        ...(path.startsWith('/api/projects') ? ['401'] : []),
        ...(method !== 'get' && !path.startsWith('/api/event') ? ['403'] : []),
      ];
      for (const status of needs) if (!errors.includes(status)) missing.push(`${where}: no ${status}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('API documentation', () => {
  it('serves a docs page that reads the OpenAPI document', async () => {
    const res = await exports.default.fetch('http://tally.test/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('data-url="/api/openapi.json"');
  });
});
