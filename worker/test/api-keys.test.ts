/**
 * API keys through the real Worker: who may manage them (the role matrix), the secret shown once,
 * what each scope unlocks, identical 401s for every unusable key, rotation, keys of another
 * project, and per-key rate limits (over HTTP with a pinned clock, and on the ProjectDO directly).
 */
import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateApiKey } from '../src/auth/index.ts';
import { apiKeys, getDb } from '../src/db/index.ts';
import { addMember, api, type CreatedProject, createProjectAs, expectJson, signUp, type TestUser } from './accounts.ts';
import { projectStub } from './fixtures.ts';
import { expectError, PIPELINE_WAIT, pageview, postEvent } from './helpers.ts';

type Scope = 'ingest' | 'read' | 'admin';
interface KeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  usageCount: number;
  rateLimit: number;
  status: 'active' | 'revoked' | 'expired';
}
interface CreatedKey extends KeyView {
  key: string;
}

const KEY_PATTERN = /^tly_([a-z0-9]{8})_[A-Za-z0-9]{32}$/;
const MINUTE = 60_000;

let owner: TestUser;
let admin: TestUser;
let viewer: TestUser;
let stranger: TestUser;
/** A project none of the matrix's actors belongs to, and an admin key of it. */
let elsewhere: { project: CreatedProject; adminKey: string };

afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  [owner, admin, viewer, stranger] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
  const project = await createProjectAs(stranger.token);
  elsewhere = { project, adminKey: (await createKey(stranger.token, project.id, { scopes: ['admin'] })).key };
});

/** A project accepting example.com, with owner, admin and viewer. */
async function team(): Promise<CreatedProject> {
  const project = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }] });
  await addMember(owner.token, project.id, admin.email, 'admin');
  await addMember(owner.token, project.id, viewer.email, 'viewer');
  return project;
}

const keysPath = (projectId: string, keyId?: string) =>
  `/api/projects/${projectId}/keys${keyId === undefined ? '' : `/${keyId}`}`;

async function createKey(
  token: string,
  projectId: string,
  body: { name?: string; scopes: Scope[]; expiresAt?: number; rateLimit?: number },
): Promise<CreatedKey> {
  const res = await api(keysPath(projectId), { method: 'POST', token, body: { name: 'test key', ...body } });
  return expectJson<CreatedKey>(res, 201);
}

async function listKeys(projectId: string, token = owner.token): Promise<KeyView[]> {
  return (await expectJson<{ keys: KeyView[] }>(await api(keysPath(projectId), { token }), 200)).keys;
}

const readProject = (projectId: string, token: string) => api(`/api/projects/${projectId}`, { token });

describe('the role matrix', () => {
  type Actor = 'owner' | 'admin' | 'viewer' | 'stranger' | 'nobody' | 'adminKey' | 'readKey' | 'ingestKey' | 'otherKey';
  const outcome: Record<Actor, { status?: number; code?: string }> = {
    owner: {},
    admin: {},
    adminKey: {},
    viewer: { status: 403, code: 'forbidden' },
    readKey: { status: 403, code: 'forbidden' },
    ingestKey: { status: 403, code: 'forbidden' },
    stranger: { status: 404, code: 'not_found' },
    otherKey: { status: 404, code: 'not_found' },
    nobody: { status: 401, code: 'unauthorized' },
  };
  const routes = [
    {
      name: 'create',
      method: 'POST',
      path: (id: string) => keysPath(id),
      body: { name: 'new', scopes: ['read'] },
      ok: 201,
    },
    { name: 'list', method: 'GET', path: (id: string) => keysPath(id), ok: 200 },
    { name: 'revoke', method: 'DELETE', path: (id: string, keyId: string) => keysPath(id, keyId), ok: 204 },
    { name: 'rotate', method: 'POST', path: (id: string, keyId: string) => `${keysPath(id, keyId)}/rotate`, ok: 201 },
  ];
  const cases = routes.flatMap((route) =>
    (Object.keys(outcome) as Actor[]).map((actor) => ({ route, actor, ...outcome[actor] })),
  );

  it.each(cases)('$route.name by $actor', async ({ route, actor, status, code }) => {
    const project = await team();
    const existing = await createKey(owner.token, project.id, { scopes: ['ingest'] });
    const keyFor = async (scope: Scope) => (await createKey(owner.token, project.id, { scopes: [scope] })).key;
    const tokens: Record<Actor, () => Promise<string | undefined>> = {
      owner: async () => owner.token,
      admin: async () => admin.token,
      viewer: async () => viewer.token,
      stranger: async () => stranger.token,
      nobody: async () => undefined,
      adminKey: () => keyFor('admin'),
      readKey: () => keyFor('read'),
      ingestKey: () => keyFor('ingest'),
      otherKey: async () => elsewhere.adminKey,
    };
    const token = await tokens[actor]();
    const res = await api(route.path(project.id, existing.id), {
      method: route.method,
      ...(token ? { token } : {}),
      ...(route.body ? { body: route.body } : {}),
    });
    if (code && status) await expectError(res, status, code);
    else expect(res.status, await res.clone().text()).toBe(route.ok);
  });
});

describe('creating', () => {
  it('shows the whole secret once; the list and the database never hold it', async () => {
    const project = await team();
    const created = await createKey(admin.token, project.id, { name: 'backend', scopes: ['read', 'ingest'] });
    const prefix = KEY_PATTERN.exec(created.key)?.[1];
    expect(created).toEqual({
      id: expect.any(String),
      name: 'backend',
      prefix,
      scopes: ['ingest', 'read'],
      createdAt: expect.any(Number),
      expiresAt: null,
      lastUsedAt: null,
      usageCount: 0,
      rateLimit: 600,
      status: 'active',
      key: expect.stringMatching(KEY_PATTERN),
    });

    const res = await api(keysPath(project.id), { token: owner.token });
    const text = await res.clone().text();
    const secret = created.key.slice(`tly_${prefix}_`.length);
    expect(text).not.toContain(secret);
    const { key: _key, ...view } = created;
    expect((await expectJson<{ keys: KeyView[] }>(res, 200)).keys).toEqual([view]);

    const row = await getDb(env.DB).select().from(apiKeys).where(eq(apiKeys.id, created.id)).get();
    expect(row?.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('keeps expiry and rate limit as given', async () => {
    const project = await team();
    const expiresAt = Date.now() + 86_400_000;
    const created = await createKey(owner.token, project.id, { scopes: ['admin'], expiresAt, rateLimit: 42 });
    expect(created).toMatchObject({ expiresAt, rateLimit: 42, status: 'active' });
  });

  it('refuses bad input, naming the field', async () => {
    const project = await team();
    const bad: [unknown, string][] = [
      [{ name: 'k', scopes: [] }, 'scopes'],
      [{ name: 'k', scopes: ['read', 'read'] }, 'scopes'],
      [{ name: 'k', scopes: ['write'] }, 'scopes'],
      [{ name: 'k', scopes: ['ingest', 'read', 'admin', 'read'] }, 'scopes'],
      [{ name: '  ', scopes: ['read'] }, 'name'],
      [{ scopes: ['read'] }, 'name'],
      [{ name: 'k', scopes: ['read'], expiresAt: Date.now() - 1_000 }, 'expiresAt'],
      [{ name: 'k', scopes: ['read'], expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'k', scopes: ['read'], rateLimit: 0 }, 'rateLimit'],
      [{ name: 'k', scopes: ['read'], rateLimit: 100_001 }, 'rateLimit'],
      [{ name: 'k', scopes: ['read'], rateLimit: 1.5 }, 'rateLimit'],
    ];
    for (const [body, field] of bad) {
      const error = await expectError(
        await api(keysPath(project.id), { method: 'POST', token: owner.token, body }),
        400,
        'invalid_input',
      );
      expect(
        error.details?.map((issue) => issue.path[0]),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(await listKeys(project.id)).toEqual([]);
  });
});

describe('what each scope unlocks', () => {
  it('an ingest key sends events, and reads nothing', async () => {
    const project = await team();
    const { key } = await createKey(owner.token, project.id, { scopes: ['ingest'] });
    const res = await postEvent(pageview(undefined), { headers: { authorization: `Bearer ${key}` } });
    expect(res.status, await res.clone().text()).toBe(202);
    await expectError(await readProject(project.id, key), 403, 'forbidden');
  });

  it('a read key reads the project, but cannot change it or send events', async () => {
    const project = await team();
    const { key } = await createKey(owner.token, project.id, { scopes: ['read'] });
    expect((await expectJson<{ id: string }>(await readProject(project.id, key), 200)).id).toBe(project.id);
    await expectError(
      await api(`/api/projects/${project.id}`, { method: 'PATCH', token: key, body: { name: 'Renamed' } }),
      403,
      'forbidden',
    );
    await expectError(
      await postEvent(pageview(undefined), { headers: { authorization: `Bearer ${key}` } }),
      403,
      'forbidden',
    );
  });

  it('counts uses for the list', async () => {
    const project = await team();
    const { id, key } = await createKey(owner.token, project.id, { scopes: ['read'] });
    for (let i = 0; i < 3; i++) await expectJson(await readProject(project.id, key), 200);
    // The count is written after the response (waitUntil).
    await vi.waitFor(async () => {
      const view = (await listKeys(project.id)).find((k) => k.id === id);
      expect(view).toMatchObject({ usageCount: 3, lastUsedAt: expect.any(Number) });
    }, PIPELINE_WAIT);
  });
});

describe('401: every unusable key gets the same answer', () => {
  it('for unknown, malformed, wrong-secret, revoked and expired keys, on every route', async () => {
    const project = await team();
    const start = Date.now();
    vi.setSystemTime(start);
    const good = await createKey(owner.token, project.id, { scopes: ['ingest', 'read'] });
    const revoked = await createKey(owner.token, project.id, { scopes: ['ingest', 'read'] });
    const expiring = await createKey(owner.token, project.id, {
      scopes: ['ingest', 'read'],
      expiresAt: start + MINUTE,
    });
    const expiredInDb = await createKey(owner.token, project.id, { scopes: ['ingest', 'read'] });
    expect((await api(keysPath(project.id, revoked.id), { method: 'DELETE', token: owner.token })).status).toBe(204);
    await getDb(env.DB)
      .update(apiKeys)
      .set({ expiresAt: start - 1 })
      .where(eq(apiKeys.id, expiredInDb.id));
    expect((await readProject(project.id, expiring.key)).status).toBe(200);
    vi.setSystemTime(start + MINUTE);

    const keys = {
      unknown: generateApiKey().key,
      malformed: 'tly_nope',
      wrongSecret: `${good.key.slice(0, -1)}${good.key.endsWith('A') ? 'B' : 'A'}`,
      revoked: revoked.key,
      expired: expiring.key,
      expiredInDb: expiredInDb.key,
    };
    const bodies = new Set<string>();
    for (const [kind, key] of Object.entries(keys)) {
      for (const res of [
        await readProject(project.id, key),
        await api(keysPath(project.id), { token: key }),
        await postEvent(pageview(undefined), { headers: { authorization: `Bearer ${key}` } }),
      ]) {
        expect(res.status, kind).toBe(401);
        bodies.add(await res.text());
      }
    }
    expect([...bodies]).toHaveLength(1);
    expect(JSON.parse([...bodies][0] as string)).toEqual({
      error: { code: 'unauthorized', message: expect.any(String) },
    });

    const status = Object.fromEntries((await listKeys(project.id)).map((k) => [k.id, k.status]));
    expect(status).toEqual({
      [good.id]: 'active',
      [revoked.id]: 'revoked',
      [expiring.id]: 'expired',
      [expiredInDb.id]: 'expired',
    });
  });

  it('revoking twice is harmless', async () => {
    const project = await team();
    const { id } = await createKey(owner.token, project.id, { scopes: ['read'] });
    for (let i = 0; i < 2; i++) {
      expect((await api(keysPath(project.id, id), { method: 'DELETE', token: owner.token })).status).toBe(204);
    }
    await expectError(
      await api(keysPath(project.id, 'no-such-key'), { method: 'DELETE', token: owner.token }),
      404,
      'not_found',
    );
  });
});

describe('rotating', () => {
  it('replaces the secret, keeps everything else, and retires the old key', async () => {
    const project = await team();
    const expiresAt = Date.now() + 86_400_000;
    const old = await createKey(owner.token, project.id, {
      name: 'ci',
      scopes: ['read', 'admin'],
      expiresAt,
      rateLimit: 77,
    });
    const rotated = await expectJson<CreatedKey>(
      await api(`${keysPath(project.id, old.id)}/rotate`, { method: 'POST', token: admin.token }),
      201,
    );
    expect(rotated).toMatchObject({
      name: 'ci',
      scopes: ['read', 'admin'],
      expiresAt,
      rateLimit: 77,
      status: 'active',
    });
    expect(rotated.id).not.toBe(old.id);
    expect(rotated.prefix).not.toBe(old.prefix);
    expect(rotated.key).toMatch(KEY_PATTERN);

    await expectError(await readProject(project.id, old.key), 401, 'unauthorized');
    await expectJson(await readProject(project.id, rotated.key), 200);
    const status = Object.fromEntries((await listKeys(project.id)).map((k) => [k.id, k.status]));
    expect(status).toEqual({ [old.id]: 'revoked', [rotated.id]: 'active' });

    // A retired key cannot be rotated again: that would bring it back.
    await expectError(
      await api(`${keysPath(project.id, old.id)}/rotate`, { method: 'POST', token: owner.token }),
      409,
      'conflict',
    );
    await expectError(
      await api(`${keysPath(project.id, 'no-such-key')}/rotate`, { method: 'POST', token: owner.token }),
      404,
      'not_found',
    );
  });
});

describe('keys of another project', () => {
  it('are not found through this project, and keep working in their own', async () => {
    const [a, b] = [await team(), await team()];
    const keyOfA = await createKey(owner.token, a.id, { scopes: ['read', 'admin'] });
    await expectError(await api(keysPath(b.id, keyOfA.id), { method: 'DELETE', token: owner.token }), 404, 'not_found');
    await expectError(
      await api(`${keysPath(b.id, keyOfA.id)}/rotate`, { method: 'POST', token: owner.token }),
      404,
      'not_found',
    );
    expect((await listKeys(b.id)).map((k) => k.id)).not.toContain(keyOfA.id);
    // A's key acting on B: B answers as if it did not exist.
    await expectError(await readProject(b.id, keyOfA.key), 404, 'not_found');
    await expectError(await api(keysPath(b.id), { token: keyOfA.key }), 404, 'not_found');
    await expectJson(await readProject(a.id, keyOfA.key), 200);
  });
});

describe('per-key rate limits', () => {
  it('answer 429 with Retry-After past the limit, and let the key in again once the bucket refills', async () => {
    const project = await team();
    const start = Date.now();
    vi.setSystemTime(start);
    const limited = await createKey(owner.token, project.id, { scopes: ['read'], rateLimit: 3 });
    const other = await createKey(owner.token, project.id, { scopes: ['read'], rateLimit: 3 });

    for (let i = 0; i < 3; i++) await expectJson(await readProject(project.id, limited.key), 200);
    const denied = await readProject(project.id, limited.key);
    // 3 a minute is one token every 20 s.
    expect(denied.headers.get('retry-after')).toBe('20');
    await expectError(denied, 429, 'rate_limited');
    // The bucket is the key's own: another key of the project is not held back.
    await expectJson(await readProject(project.id, other.key), 200);

    vi.setSystemTime(start + 19_000);
    const stillDenied = await readProject(project.id, limited.key);
    expect(stillDenied.headers.get('retry-after')).toBe('1');
    await expectError(stillDenied, 429, 'rate_limited');

    vi.setSystemTime(start + 20_000);
    await expectJson(await readProject(project.id, limited.key), 200);
    await expectError(await readProject(project.id, limited.key), 429, 'rate_limited');
  });

  it('also hold for management routes of an admin key', async () => {
    const project = await team();
    vi.setSystemTime(Date.now());
    const { key } = await createKey(owner.token, project.id, { scopes: ['admin'], rateLimit: 1 });
    await expectJson(await api(keysPath(project.id), { token: key }), 200);
    const res = await api(keysPath(project.id), { token: key });
    expect(res.headers.get('retry-after')).toBe('60');
    await expectError(res, 429, 'rate_limited');
  });
});

describe('ProjectDO.takeApiKeyToken', () => {
  const T = Date.UTC(2031, 0, 1);

  it('holds perMinute tokens, refills perMinute a minute, and never more than it holds', async () => {
    const stub = projectStub(`keys-${crypto.randomUUID()}`);
    for (let i = 0; i < 3; i++) expect(await stub.takeApiKeyToken('a', 3, T)).toEqual({ ok: true });
    expect(await stub.takeApiKeyToken('a', 3, T)).toEqual({ ok: false, retryAfter: 20 });
    expect(await stub.takeApiKeyToken('b', 3, T)).toEqual({ ok: true });
    expect(await stub.takeApiKeyToken('a', 3, T + 20_000)).toEqual({ ok: true });
    // An hour idle refills to the bucket's size, not to 180.
    const later = T + 3_600_000;
    for (let i = 0; i < 3; i++) expect(await stub.takeApiKeyToken('a', 3, later)).toEqual({ ok: true });
    expect((await stub.takeApiKeyToken('a', 3, later)).ok).toBe(false);
  });

  it('never lets more through than the limit allows in any window, and honours its own Retry-After', async () => {
    const stub = projectStub(`keys-${crypto.randomUUID()}`);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 40 }),
        async (perMinute, gaps) => {
          const keyId = crypto.randomUUID();
          const admitted: number[] = [];
          let now = T;
          for (const gap of gaps) {
            now += gap;
            const result = await stub.takeApiKeyToken(keyId, perMinute, now);
            if (result.ok) admitted.push(now);
            else {
              expect(result.retryAfter).toBeGreaterThanOrEqual(1);
              now += result.retryAfter * 1_000;
              expect(await stub.takeApiKeyToken(keyId, perMinute, now)).toEqual({ ok: true });
              admitted.push(now);
            }
          }
          // A bucket of size B refilling at r lets through at most B + r·T in any window of T.
          for (let i = 0; i < admitted.length; i++) {
            for (let j = i; j < admitted.length; j++) {
              const window = ((admitted[j] as number) - (admitted[i] as number)) / MINUTE;
              expect(j - i + 1).toBeLessThanOrEqual(perMinute + perMinute * window + 1e-9);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('the OpenAPI document', () => {
  it('describes the key and member routes', async () => {
    const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
      await api('/api/openapi.json'),
      200,
    );
    expect(Object.keys(doc.paths['/api/projects/{id}/keys'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/projects/{id}/keys/{keyId}'] ?? {})).toEqual(['delete']);
    expect(Object.keys(doc.paths['/api/projects/{id}/keys/{keyId}/rotate'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/projects/{id}/members'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/projects/{id}/members/{userId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
  });
});
