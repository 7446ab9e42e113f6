/**
 * What a share link adds to its view: the origins that may frame it (validated, stored, answered to
 * the dashboard without the password), and its live visitor count — the count alone, through a
 * socket only the dashboard's origin opens, closed when the link is revoked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { api, createProjectAs, expectJson, signUp, uniqueEmail } from './accounts.ts';
import { admitOne, MINUTE, PINNED_NOW, projectStub, randomFingerprint, SECOND } from './fixtures.ts';
import { invalidFields } from './goal-fixtures.ts';
import { expectError } from './helpers.ts';
import { closedWith, handshake, openDashboard, openSocket } from './live-helpers.ts';

const T = PINNED_NOW;

interface ShareLink {
  id: string;
  slug: string;
  embedOrigins: string[];
}

async function sharedProject(body: Record<string, unknown> = {}) {
  const owner = await signUp(uniqueEmail('owner'));
  const project = await createProjectAs(owner.token, {});
  const link = await expectJson<ShareLink>(
    await api(`/api/projects/${project.id}/shares`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'Blog', ...body },
    }),
    201,
  );
  return { owner, project, link, stub: projectStub(project.id) };
}

beforeEach(() => {
  vi.setSystemTime(T);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('embed origins', () => {
  it('are normalised, deduplicated, stored and answered to anyone holding the slug', async () => {
    const { owner, project, link } = await sharedProject({
      embedOrigins: [
        'https://Blog.Example.com/',
        'https://blog.example.com:443',
        'https://docs.example.com:8443',
        'http://localhost:5173',
      ],
    });
    const expected = ['https://blog.example.com', 'https://docs.example.com:8443', 'http://localhost:5173'];
    expect(link.embedOrigins).toEqual(expected);
    expect(await expectJson(await api(`/api/share/${link.slug}/embed`), 200)).toEqual({ frameAncestors: expected });

    const changed = await expectJson<ShareLink>(
      await api(`/api/projects/${project.id}/shares/${link.id}`, {
        method: 'PATCH',
        token: owner.token,
        body: { embedOrigins: [] },
      }),
      200,
    );
    expect(changed.embedOrigins).toEqual([]);
    expect(await expectJson(await api(`/api/share/${link.slug}/embed`), 200)).toEqual({ frameAncestors: [] });
  });

  it('answer for a password-protected link without its password, and 404 once it is revoked', async () => {
    const { owner, project, link } = await sharedProject({
      password: 'a long enough password',
      embedOrigins: ['https://blog.example.com'],
    });
    await expectError(await api(`/api/share/${link.slug}`), 401, 'password_required');
    expect(await expectJson(await api(`/api/share/${link.slug}/embed`), 200)).toEqual({
      frameAncestors: ['https://blog.example.com'],
    });
    await api(`/api/projects/${project.id}/shares/${link.id}`, { method: 'DELETE', token: owner.token });
    await expectError(await api(`/api/share/${link.slug}/embed`), 404, 'not_found');
    await expectError(await api('/api/share/no-such-slug/embed'), 404, 'not_found');
    const patch = await api(`/api/projects/${project.id}/shares/${link.id}`, {
      method: 'PATCH',
      token: owner.token,
      body: { embedOrigins: ['https://blog.example.com'] },
    });
    await expectError(patch, 404, 'not_found');
  });

  it('refuses what is not a bare https origin, naming the entry', async () => {
    const { owner, project } = await sharedProject();
    const post = (embedOrigins: unknown) =>
      api(`/api/projects/${project.id}/shares`, {
        method: 'POST',
        token: owner.token,
        body: { name: 'x', embedOrigins },
      });
    for (const bad of [
      'http://blog.example.com',
      'https://*.example.com',
      'https://blog.example.com/embed',
      'https://blog.example.com/?x=1',
      'https://user:pw@blog.example.com',
      'blog.example.com',
      "https://a.example.com 'unsafe-inline'",
      'https://a.example.com;script-src',
      'javascript:alert(1)',
      'https://[::1]',
    ]) {
      expect(await invalidFields(await post(['https://ok.example.com', bad])), bad).toEqual([['embedOrigins', 1]]);
    }
    const many = Array.from({ length: 11 }, (_, i) => `https://s${i}.example.com`);
    expect(await invalidFields(await post(many))).toEqual([['embedOrigins']]);
  });

  it('are changed by admins only', async () => {
    const { project, link } = await sharedProject();
    const viewer = await signUp(uniqueEmail('viewer'));
    const patch = (token: string) =>
      api(`/api/projects/${project.id}/shares/${link.id}`, {
        method: 'PATCH',
        token,
        body: { embedOrigins: ['https://a.example.com'] },
      });
    await expectError(await patch(viewer.token), 404, 'not_found');
  });
});

describe("a share link's live count", () => {
  it('is the count alone, on open and when it changes', async () => {
    const { owner, project, link, stub } = await sharedProject();
    const alice = randomFingerprint();
    await admitOne(stub, project.id, alice, T - MINUTE, { path: '/secret-pricing', country: 'DE' });
    const counter = await openSocket(`/api/share/${link.slug}/live`);
    const dashboard = await openDashboard(project.id, owner.token);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 1 }]);
    expect(await dashboard.take()).toMatchObject([{ type: 'snapshot', visitors: 1 }]);

    await admitOne(stub, project.id, alice, T, { path: '/checkout' });
    vi.setSystemTime(T + SECOND);
    await runDurableObjectAlarm(stub);
    expect(await counter.take()).toEqual([]);
    await admitOne(stub, project.id, randomFingerprint(), T + SECOND, { path: '/' });
    vi.setSystemTime(T + 2 * SECOND);
    await runDurableObjectAlarm(stub);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 2 }]);
  });

  it('opens only from an allowed origin, with a valid link, and its token when protected', async () => {
    const { link } = await sharedProject();
    await expectError(await handshake(`/api/share/${link.slug}/live`, 'https://a-blog.example'), 403, 'forbidden');
    await expectError(await handshake('/api/share/no-such-slug/live'), 404, 'not_found');
    await expectError(await api(`/api/share/${link.slug}/live`), 426, 'upgrade_required');

    const locked = await sharedProject({ password: 'a long enough password' });
    await expectError(await handshake(`/api/share/${locked.link.slug}/live`), 401, 'password_required');
    const { token } = await expectJson<{ token: string }>(
      await api(`/api/share/${locked.link.slug}/auth`, {
        method: 'POST',
        body: { password: 'a long enough password' },
      }),
      200,
    );
    const counter = await openSocket(`/api/share/${locked.link.slug}/live?token=${encodeURIComponent(token)}`);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 0 }]);
  });

  it("closes when the link is revoked, and leaves other links' counters open", async () => {
    const { owner, project, link } = await sharedProject();
    const other = await expectJson<ShareLink>(
      await api(`/api/projects/${project.id}/shares`, { method: 'POST', token: owner.token, body: { name: 'Other' } }),
      201,
    );
    const counter = await openSocket(`/api/share/${link.slug}/live`);
    const kept = await openSocket(`/api/share/${other.slug}/live`);
    await api(`/api/projects/${project.id}/shares/${link.id}`, { method: 'DELETE', token: owner.token });
    expect(await closedWith(counter)).toEqual({ code: 4403, reason: 'The share link was revoked' });
    expect(await kept.take()).toEqual([{ type: 'count', visitors: 0 }]);
    expect(kept.closed).toBeNull();
  });
});

describe('the OpenAPI document', () => {
  it('describes the embed and live routes of share links', async () => {
    const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
      await api('/api/openapi.json'),
      200,
    );
    expect(Object.keys(doc.paths['/api/share/{slug}/embed'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/share/{slug}/live'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/projects/{id}/shares/{shareId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
  });
});
