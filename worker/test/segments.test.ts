/**
 * Saved segments through the real Worker: who may read and manage them, filters validated as the
 * query API validates them (naming the field), names unique per project, the bound per project,
 * and that a deleted project leaves none behind.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MAX_SEGMENTS } from '../src/segments/index.ts';
import { PROJECT_TABLES } from '../src/store/index.ts';
import { api, createProjectAs, expectJson } from './accounts.ts';
import { conflictFields, invalidFields, team } from './goal-fixtures.ts';
import { createApiKey, expectError } from './helpers.ts';

interface Segment {
  id: string;
  name: string;
  filters: unknown[];
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

const segmentsPath = (projectId: string) => `/api/projects/${projectId}/segments`;
const germany = [['is', 'country', ['DE']]];

async function createSegment(token: string, projectId: string, body: Record<string, unknown>): Promise<Segment> {
  return expectJson<Segment>(await api(segmentsPath(projectId), { method: 'POST', token, body }), 201);
}

describe('who may read and manage segments', () => {
  it('owners, admins and admin keys manage; viewers and read keys read; share links, strangers and anonymous callers get nothing', async () => {
    const { projectId, owner, admin, viewer, stranger } = await team();
    const readKey = await createApiKey(projectId, { scopes: ['read'] });
    const adminKey = await createApiKey(projectId, { scopes: ['admin'] });
    const { slug } = await expectJson<{ slug: string }>(
      await api(`/api/projects/${projectId}/shares`, { method: 'POST', token: owner.token, body: { name: 'Public' } }),
      201,
    );
    let counter = 0;
    const routes = async () => {
      const n = ++counter;
      const segment = await createSegment(owner.token, projectId, { name: `Setup ${n}`, filters: germany });
      return [
        { method: 'GET', path: segmentsPath(projectId), ok: 200, read: true },
        { method: 'POST', path: segmentsPath(projectId), body: { name: `New ${n}`, filters: germany }, ok: 201 },
        { method: 'PATCH', path: `${segmentsPath(projectId)}/${segment.id}`, body: { name: `Renamed ${n}` }, ok: 200 },
        { method: 'DELETE', path: `${segmentsPath(projectId)}/${segment.id}`, ok: 204 },
      ];
    };
    for (const manager of [{ token: owner.token }, { token: admin.token }, { token: adminKey.key }]) {
      for (const route of await routes()) {
        const response = await api(route.path, { ...route, ...manager });
        expect(response.status, `${route.method} ${route.path}: ${await response.text()}`).toBe(route.ok);
      }
    }
    for (const reader of [{ token: viewer.token }, { token: readKey.key }]) {
      for (const route of await routes()) {
        const response = await api(route.path, { ...route, ...reader });
        if (route.read) await expectJson(response, 200);
        else await expectError(response, 403, 'forbidden');
      }
    }
    for (const route of await routes()) {
      await expectError(await api(route.path, { ...route, headers: { 'x-tally-share': slug } }), 403, 'forbidden');
      await expectError(await api(route.path, { ...route, token: stranger.token }), 404, 'not_found');
      await expectError(await api(route.path, route), 401, 'unauthorized');
    }
  });

  it('a segment of another project is 404, even to the owner of both', async () => {
    const { projectId, owner } = await team();
    const { id: otherId } = await createProjectAs(owner.token, { name: 'Other' });
    const segment = await createSegment(owner.token, projectId, { name: 'Mine', filters: germany });
    const path = `${segmentsPath(otherId)}/${segment.id}`;
    await expectError(await api(path, { method: 'PATCH', token: owner.token, body: { name: 'x' } }), 404, 'not_found');
    await expectError(await api(path, { method: 'DELETE', token: owner.token }), 404, 'not_found');
    expect(
      (await expectJson<{ segments: Segment[] }>(await api(segmentsPath(otherId), { token: owner.token }), 200))
        .segments,
    ).toEqual([]);
  });
});

describe('segments', () => {
  it('round trip: save, list by name, rename, replace filters, delete', async () => {
    const { projectId, owner, admin, viewer } = await team();
    const list = async () =>
      (await expectJson<{ segments: Segment[] }>(await api(segmentsPath(projectId), { token: viewer.token }), 200))
        .segments;
    const filters = [
      ['is', 'country', ['DE', 'AT']],
      ['does_not_contain', 'page', ['/admin', null]],
      ['is', 'event:goal', ['Signup']],
      ['matches', 'event:props:plan', ['pro*']],
    ];
    const paid = await createSegment(admin.token, projectId, { name: '  Paid  ', filters });
    expect(paid).toMatchObject({ name: 'Paid', filters, createdBy: admin.userId });
    const germans = await createSegment(owner.token, projectId, { name: 'Germans', filters: germany });
    expect(await list()).toEqual([germans, paid]);

    const renamed = await expectJson<Segment>(
      await api(`${segmentsPath(projectId)}/${paid.id}`, {
        method: 'PATCH',
        token: owner.token,
        body: { name: 'Paid plans' },
      }),
      200,
    );
    expect(renamed).toMatchObject({ id: paid.id, name: 'Paid plans', filters });
    const refiltered = await expectJson<Segment>(
      await api(`${segmentsPath(projectId)}/${paid.id}`, {
        method: 'PATCH',
        token: owner.token,
        body: { filters: [['contains', 'source', ['oo']]] },
      }),
      200,
    );
    expect(refiltered).toMatchObject({ name: 'Paid plans', filters: [['contains', 'source', ['oo']]] });
    expect(refiltered.updatedAt).toBeGreaterThanOrEqual(paid.updatedAt);

    expect(
      (await api(`${segmentsPath(projectId)}/${germans.id}`, { method: 'DELETE', token: admin.token })).status,
    ).toBe(204);
    expect((await list()).map((segment) => segment.id)).toEqual([paid.id]);
    await expectError(
      await api(`${segmentsPath(projectId)}/${germans.id}`, { method: 'DELETE', token: admin.token }),
      404,
      'not_found',
    );
  });

  it('refuses bad input in the one error shape, naming the field', async () => {
    const { projectId, owner } = await team();
    const post = (body: unknown) => api(segmentsPath(projectId), { method: 'POST', token: owner.token, body });
    expect(await invalidFields(await post({ name: ' ', filters: germany }))).toEqual([['name']]);
    expect(await invalidFields(await post({ name: 'x'.repeat(101), filters: germany }))).toEqual([['name']]);
    expect(await invalidFields(await post({ name: 'No filters', filters: [] }))).toEqual([['filters']]);
    expect(await invalidFields(await post({ name: 'Bad op', filters: [['resembles', 'country', ['DE']]] }))).toEqual([
      ['filters', 0, 0],
    ]);
    expect(await invalidFields(await post({ name: 'Bad dim', filters: [['is', 'planet', ['Mars']]] }))).toEqual([
      ['filters', 0, 1],
    ]);
    expect(await invalidFields(await post({ name: 'Time', filters: [['is', 'time:day', ['2026-01-01']]] }))).toEqual([
      ['filters', 0],
    ]);
    expect(await invalidFields(await post({ name: 'Goal', filters: [['is_not', 'event:goal', ['Signup']]] }))).toEqual([
      ['filters', 0],
    ]);
    expect(
      await invalidFields(await post({ name: 'Glob', filters: [['matches', 'page', [`/${'*'.repeat(11)}`]]] })),
    ).toEqual([['filters', 0, 2, 0]]);
    const many = Array.from({ length: 19 }, () => ['is', 'country', ['DE']]);
    expect(await invalidFields(await post({ name: 'Many', filters: many }))).toEqual([['filters']]);
    expect(await invalidFields(await post({ name: 'Extra', filters: germany, owner: 'me' }))).toEqual([['owner']]);
    const patch = await api(`${segmentsPath(projectId)}/missing`, {
      method: 'PATCH',
      token: owner.token,
      body: { filters: [['is', 'country', 'DE']] },
    });
    expect(await invalidFields(patch)).toEqual([['filters', 0, 2]]);
  });

  it('keeps names unique per project, and other projects free to reuse them', async () => {
    const { projectId, owner } = await team();
    const first = await createSegment(owner.token, projectId, {
      name: 'Mobile',
      filters: [['is', 'device', ['mobile']]],
    });
    const second = await createSegment(owner.token, projectId, {
      name: 'Desktop',
      filters: [['is', 'device', ['desktop']]],
    });
    const post = await api(segmentsPath(projectId), {
      method: 'POST',
      token: owner.token,
      body: { name: 'Mobile', filters: germany },
    });
    expect(await conflictFields(post)).toEqual([['name']]);
    const rename = await api(`${segmentsPath(projectId)}/${second.id}`, {
      method: 'PATCH',
      token: owner.token,
      body: { name: first.name },
    });
    expect(await conflictFields(rename)).toEqual([['name']]);
    const { id: otherId } = await createProjectAs(owner.token, { name: 'Other' });
    await createSegment(owner.token, otherId, { name: 'Mobile', filters: germany });
  });

  it(`keeps at most ${MAX_SEGMENTS} per project`, async () => {
    const { projectId, owner } = await team();
    // Straight into D1: a hundred round trips would say nothing more.
    const now = Date.now();
    await env.DB.batch(
      Array.from({ length: MAX_SEGMENTS - 1 }, (_, i) =>
        env.DB.prepare(
          'INSERT INTO segments (id, project_id, name, filters, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
        ).bind(`seeded-${projectId}-${i}`, projectId, `Seeded ${i}`, JSON.stringify(germany), now, now),
      ),
    );
    await createSegment(owner.token, projectId, { name: 'The last one', filters: germany });
    const over = await api(segmentsPath(projectId), {
      method: 'POST',
      token: owner.token,
      body: { name: 'One more', filters: germany },
    });
    const error = await expectError(over, 409, 'conflict');
    expect(error.message).toContain(String(MAX_SEGMENTS));
  });
});

describe('deleting the project', () => {
  it('leaves no segment rows', async () => {
    expect(PROJECT_TABLES).toContain('segments');
    const { projectId, owner } = await team();
    await createSegment(owner.token, projectId, { name: 'A', filters: germany });
    expect((await api(`/api/projects/${projectId}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM segments WHERE project_id = ?')
      .bind(projectId)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});

describe('the OpenAPI document', () => {
  it('describes the segment routes', async () => {
    const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
      await api('/api/openapi.json'),
      200,
    );
    expect(Object.keys(doc.paths['/api/projects/{id}/segments'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/projects/{id}/segments/{segmentId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
  });
});
