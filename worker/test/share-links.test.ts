/**
 * Share links through the real Worker: admins mint, list and revoke them; a link reads one project
 * and nothing else; a password-protected link needs its own token; failures are throttled.
 */
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addMember, api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError } from './helpers.ts';

interface ShareLink {
  id: string;
  name: string;
  slug: string;
  path: string;
  hasPassword: boolean;
  createdAt: number;
  revokedAt: number | null;
}

/** A project with an owner, an admin, a viewer, and a signed-in stranger. */
async function team() {
  const [owner, admin, viewer, stranger] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
  const { id: projectId } = await createProjectAs(owner.token, { name: 'Shared site' });
  await addMember(owner.token, projectId, admin.email, 'admin');
  await addMember(owner.token, projectId, viewer.email, 'viewer');
  return { projectId, owner, admin, viewer, stranger };
}

async function createShare(token: string, projectId: string, body: { name: string; password?: string }) {
  return expectJson<ShareLink>(await api(`/api/projects/${projectId}/shares`, { method: 'POST', token, body }), 201);
}

const share = (slug: string, token?: string) => ({
  'x-tally-share': slug,
  ...(token === undefined ? {} : { 'x-tally-share-token': token }),
});

afterEach(() => {
  vi.useRealTimers();
});

describe('managing share links', () => {
  it('an admin creates, lists and revokes links', async () => {
    const { projectId, admin } = await team();
    const open = await createShare(admin.token, projectId, { name: 'Public dashboard' });
    expect(open).toEqual({
      id: expect.any(String),
      name: 'Public dashboard',
      slug: expect.stringMatching(/^[A-Za-z0-9_-]{22,}$/),
      path: `/share/${open.slug}`,
      hasPassword: false,
      embedOrigins: [],
      createdAt: expect.any(Number),
      revokedAt: null,
    });
    const locked = await createShare(admin.token, projectId, { name: 'For the board', password: 'board-only-2024' });
    expect(locked.hasPassword).toBe(true);
    expect(locked.slug).not.toBe(open.slug);
    expect(JSON.stringify(locked)).not.toContain('board-only-2024');

    const listed = await expectJson<{ shares: ShareLink[] }>(
      await api(`/api/projects/${projectId}/shares`, { token: admin.token }),
      200,
    );
    expect(listed.shares).toEqual([open, locked]);

    const revoke = await api(`/api/projects/${projectId}/shares/${open.id}`, { method: 'DELETE', token: admin.token });
    expect(revoke.status).toBe(204);
    const after = await expectJson<{ shares: ShareLink[] }>(
      await api(`/api/projects/${projectId}/shares`, { token: admin.token }),
      200,
    );
    expect(after.shares).toEqual([{ ...open, revokedAt: expect.any(Number) }, locked]);
    // Revoking twice finds nothing to revoke.
    await expectError(
      await api(`/api/projects/${projectId}/shares/${open.id}`, { method: 'DELETE', token: admin.token }),
      404,
      'not_found',
    );
  });

  it('the password is stored only as a hash', async () => {
    const { projectId, owner } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Hashed', password: 'plain-text-never' });
    const row = await env.DB.prepare('SELECT password_hash FROM share_links WHERE id = ?')
      .bind(link.id)
      .first<{ password_hash: string }>();
    expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$/);
    expect(row?.password_hash).not.toContain('plain-text-never');
  });

  it('refuses bad input with the failing field', async () => {
    const { projectId, owner } = await team();
    const shortPassword = await api(`/api/projects/${projectId}/shares`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'x', password: 'short' },
    });
    const error = await expectError(shortPassword, 400, 'invalid_input');
    expect(error.details?.map((issue) => issue.path)).toEqual([['password']]);
    const noName = await api(`/api/projects/${projectId}/shares`, { method: 'POST', token: owner.token, body: {} });
    expect((await expectError(noName, 400, 'invalid_input')).details?.map((issue) => issue.path)).toEqual([['name']]);
  });

  it('viewers get 403, strangers and other projects 404, nobody 401', async () => {
    const { projectId, owner, viewer, stranger } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Link' });
    const routes = [
      { method: 'GET', path: `/api/projects/${projectId}/shares` },
      { method: 'POST', path: `/api/projects/${projectId}/shares`, body: { name: 'Mine now' } },
      { method: 'DELETE', path: `/api/projects/${projectId}/shares/${link.id}` },
    ];
    for (const route of routes) {
      await expectError(await api(route.path, { ...route, token: viewer.token }), 403, 'forbidden');
      await expectError(await api(route.path, { ...route, token: stranger.token }), 404, 'not_found');
      await expectError(await api(route.path, route), 401, 'unauthorized');
      // A share link may only read, never manage links (its own or any other).
      await expectError(await api(route.path, { ...route, headers: share(link.slug) }), 403, 'forbidden');
    }
    // A link of project A cannot be revoked through project B, even by B's owner.
    const { id: otherProject } = await createProjectAs(stranger.token);
    await expectError(
      await api(`/api/projects/${otherProject}/shares/${link.id}`, { method: 'DELETE', token: stranger.token }),
      404,
      'not_found',
    );
    const { shares } = await expectJson<{ shares: ShareLink[] }>(
      await api(`/api/projects/${projectId}/shares`, { token: owner.token }),
      200,
    );
    expect(shares).toEqual([link]);
  });
});

describe('what a share link opens', () => {
  it('reads its own project only, and changes nothing', async () => {
    const { projectId, owner } = await team();
    const { id: otherProject } = await createProjectAs(owner.token, { name: 'Not shared' });
    const link = await createShare(owner.token, projectId, { name: 'Public' });

    const opened = await expectJson<unknown>(await api(`/api/share/${link.slug}`), 200);
    expect(opened).toEqual({
      project: { id: projectId, name: 'Shared site', timezone: 'UTC' },
      passwordRequired: false,
    });

    const project = await expectJson<{ id: string; role: unknown }>(
      await api(`/api/projects/${projectId}`, { headers: share(link.slug) }),
      200,
    );
    expect(project).toMatchObject({ id: projectId, role: null });
    await expectError(await api(`/api/projects/${otherProject}`, { headers: share(link.slug) }), 404, 'not_found');

    const writes = [
      { method: 'PATCH', path: `/api/projects/${projectId}`, body: { name: 'Hijacked' } },
      { method: 'POST', path: `/api/projects/${projectId}/site-key` },
      { method: 'POST', path: `/api/projects/${projectId}/keys`, body: { name: 'stolen', scopes: ['read'] } },
      { method: 'GET', path: `/api/projects/${projectId}/keys` },
      { method: 'GET', path: `/api/projects/${projectId}/members` },
      { method: 'DELETE', path: `/api/projects/${projectId}` },
    ];
    for (const write of writes) {
      const response = await api(write.path, { ...write, headers: share(link.slug) });
      expect([403, 404], `${write.method} ${write.path}`).toContain(response.status);
    }
    // Account routes want a signed-in user.
    await expectError(await api('/api/projects', { headers: share(link.slug) }), 401, 'unauthorized');
    await expectError(await api('/api/auth/me', { headers: share(link.slug) }), 401, 'unauthorized');

    const unchanged = await expectJson<{ name: string }>(
      await api(`/api/projects/${projectId}`, { token: owner.token }),
      200,
    );
    expect(unchanged.name).toBe('Shared site');
  });

  it('an unknown slug is 404 everywhere', async () => {
    const { projectId } = await team();
    await expectError(await api('/api/share/no-such-slug-0000000000'), 404, 'not_found');
    await expectError(
      await api('/api/share/no-such-slug-0000000000/auth', { method: 'POST', body: { password: 'whatever1' } }),
      404,
      'not_found',
    );
    await expectError(
      await api(`/api/projects/${projectId}`, { headers: share('no-such-slug-0000000000') }),
      404,
      'not_found',
    );
  });

  it('a revoked link is 404 everywhere, its tokens too', async () => {
    const { projectId, owner } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Soon gone', password: 'gone-tomorrow' });
    const { token } = await expectJson<{ token: string }>(
      await api(`/api/share/${link.slug}/auth`, { method: 'POST', body: { password: 'gone-tomorrow' } }),
      200,
    );
    expect((await api(`/api/projects/${projectId}`, { headers: share(link.slug, token) })).status).toBe(200);

    const revoke = await api(`/api/projects/${projectId}/shares/${link.id}`, { method: 'DELETE', token: owner.token });
    expect(revoke.status).toBe(204);
    await expectError(
      await api(`/api/share/${link.slug}`, { headers: { 'x-tally-share-token': token } }),
      404,
      'not_found',
    );
    await expectError(
      await api(`/api/share/${link.slug}/auth`, { method: 'POST', body: { password: 'gone-tomorrow' } }),
      404,
      'not_found',
    );
    await expectError(await api(`/api/projects/${projectId}`, { headers: share(link.slug, token) }), 404, 'not_found');
  });
});

describe('password-protected links', () => {
  it('need the password, then a token that opens that link only', async () => {
    const { projectId, owner } = await team();
    const a = await createShare(owner.token, projectId, { name: 'A', password: 'password-for-a' });
    const b = await createShare(owner.token, projectId, { name: 'B', password: 'password-for-b' });

    await expectError(await api(`/api/share/${a.slug}`), 401, 'password_required');
    await expectError(await api(`/api/projects/${projectId}`, { headers: share(a.slug) }), 401, 'password_required');
    await expectError(
      await api(`/api/projects/${projectId}`, { headers: share(a.slug, 'not-a-token') }),
      401,
      'password_required',
    );

    await expectError(
      await api(`/api/share/${a.slug}/auth`, { method: 'POST', body: { password: 'password-for-b' } }),
      401,
      'unauthorized',
    );
    const issued = await expectJson<{ token: string; expiresIn: number }>(
      await api(`/api/share/${a.slug}/auth`, { method: 'POST', body: { password: 'password-for-a' } }),
      200,
    );
    expect(issued).toEqual({ token: expect.any(String), expiresIn: 86_400 });

    const opened = await expectJson<unknown>(
      await api(`/api/share/${a.slug}`, { headers: { 'x-tally-share-token': issued.token } }),
      200,
    );
    expect(opened).toEqual({
      project: { id: projectId, name: 'Shared site', timezone: 'UTC' },
      passwordRequired: true,
    });
    expect((await api(`/api/projects/${projectId}`, { headers: share(a.slug, issued.token) })).status).toBe(200);

    // A's token is not B's.
    await expectError(
      await api(`/api/share/${b.slug}`, { headers: { 'x-tally-share-token': issued.token } }),
      401,
      'password_required',
    );
    await expectError(
      await api(`/api/projects/${projectId}`, { headers: share(b.slug, issued.token) }),
      401,
      'password_required',
    );
  });

  it('a token expires after a day', async () => {
    const { projectId, owner } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Day pass', password: 'one-day-only' });
    const start = Date.now();
    const { token } = await expectJson<{ token: string }>(
      await api(`/api/share/${link.slug}/auth`, { method: 'POST', body: { password: 'one-day-only' } }),
      200,
    );
    vi.setSystemTime(start + 86_400_000 + 60_000);
    await expectError(
      await api(`/api/share/${link.slug}`, { headers: { 'x-tally-share-token': token } }),
      401,
      'password_required',
    );
  });

  it('a link without a password has no password to enter', async () => {
    const { projectId, owner } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Open' });
    await expectError(
      await api(`/api/share/${link.slug}/auth`, { method: 'POST', body: { password: 'anything-at-all' } }),
      400,
      'invalid_input',
    );
  });

  it('five wrong passwords from one address lock that address out of the link for 15 minutes', async () => {
    const { projectId, owner } = await team();
    const link = await createShare(owner.token, projectId, { name: 'Guarded', password: 'the-right-one' });
    const other = await createShare(owner.token, projectId, { name: 'Other', password: 'the-right-one' });
    const start = Date.now();
    vi.setSystemTime(start);
    const attempt = (slug: string, password: string, ip = '10.4.0.1') =>
      api(`/api/share/${slug}/auth`, { method: 'POST', body: { password }, headers: { 'cf-connecting-ip': ip } });
    for (let i = 0; i < 5; i++) await expectError(await attempt(link.slug, `wrong-guess-${i}`), 401, 'unauthorized');

    // Locked: even the right password is refused, and the client is told when to come back.
    const locked = await attempt(link.slug, 'the-right-one');
    const retryAfter = Number(locked.headers.get('retry-after'));
    await expectError(locked, 429, 'rate_limited');
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // The lock is per link and per address: the guesser cannot keep everyone else out.
    expect((await attempt(other.slug, 'the-right-one')).status).toBe(200);
    expect((await attempt(link.slug, 'the-right-one', '10.4.0.2')).status).toBe(200);

    vi.setSystemTime(start + 15 * 60_000 + 1_000);
    expect((await attempt(link.slug, 'the-right-one')).status).toBe(200);
  });
});

describe('the OpenAPI document', () => {
  it('describes the share routes', async () => {
    const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
      await api('/api/openapi.json'),
      200,
    );
    expect(Object.keys(doc.paths['/api/projects/{id}/shares'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/projects/{id}/shares/{shareId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
    expect(Object.keys(doc.paths['/api/share/{slug}'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/share/{slug}/auth'] ?? {})).toEqual(['post']);
  });
});
