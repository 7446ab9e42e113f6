/**
 * Goals through the real Worker: who may read and manage goals and funnels, what input is refused
 * (naming the field), round trips, uniqueness, and that a deleted project leaves none behind.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PROJECT_TABLES } from '../src/store/index.ts';
import { api, createProjectAs, expectJson } from './accounts.ts';
import {
  conflictFields,
  createFunnel,
  createGoal,
  type Funnel,
  funnelsPath,
  type Goal,
  goalsPath,
  invalidFields,
  team,
  twoSteps,
} from './goal-fixtures.ts';
import { createApiKey, expectError } from './helpers.ts';

describe('who may read and manage goals and funnels', () => {
  it('owners and admins manage; viewers, read keys and share links only read; others get 404 or 401', async () => {
    const { projectId, owner, admin, viewer, stranger } = await team();
    const readKey = await createApiKey(projectId, { scopes: ['read'] });
    const { slug } = await expectJson<{ slug: string }>(
      await api(`/api/projects/${projectId}/shares`, { method: 'POST', token: owner.token, body: { name: 'Public' } }),
      201,
    );
    const share = { 'x-tally-share': slug };

    // Fresh resources per caller, so that every allowed write has something to act on.
    let counter = 0;
    const routes = async () => {
      const n = ++counter;
      const goal = await createGoal(owner.token, projectId, { kind: 'pageview', path: `/setup-${n}` });
      const funnel = await createFunnel(owner.token, projectId, { name: `Setup ${n}`, steps: twoSteps });
      return [
        { method: 'GET', path: goalsPath(projectId), ok: 200, read: true },
        { method: 'POST', path: goalsPath(projectId), body: { kind: 'pageview', path: `/new-${n}` }, ok: 201 },
        { method: 'PATCH', path: `${goalsPath(projectId)}/${goal.id}`, body: { name: `Renamed ${n}` }, ok: 200 },
        { method: 'DELETE', path: `${goalsPath(projectId)}/${goal.id}`, ok: 204 },
        { method: 'GET', path: funnelsPath(projectId), ok: 200, read: true },
        { method: 'POST', path: funnelsPath(projectId), body: { name: `New ${n}`, steps: twoSteps }, ok: 201 },
        { method: 'PATCH', path: `${funnelsPath(projectId)}/${funnel.id}`, body: { name: `Renamed ${n}` }, ok: 200 },
        { method: 'DELETE', path: `${funnelsPath(projectId)}/${funnel.id}`, ok: 204 },
      ];
    };

    for (const member of [owner, admin]) {
      for (const route of await routes()) {
        const response = await api(route.path, { ...route, token: member.token });
        expect(response.status, `${route.method} ${route.path}: ${await response.text()}`).toBe(route.ok);
      }
    }
    const readers = [{ token: viewer.token }, { token: readKey.key }, { headers: share }];
    for (const reader of readers) {
      for (const route of await routes()) {
        const response = await api(route.path, { ...route, ...reader });
        if (route.read) await expectJson(response, 200);
        else await expectError(response, 403, 'forbidden');
      }
    }
    for (const route of await routes()) {
      await expectError(await api(route.path, { ...route, token: stranger.token }), 404, 'not_found');
      await expectError(await api(route.path, route), 401, 'unauthorized');
    }
  });

  it('an admin API key manages them', async () => {
    const { projectId } = await team();
    const adminKey = await createApiKey(projectId, { scopes: ['admin'] });
    const goal = await createGoal(adminKey.key, projectId, { kind: 'event', eventName: 'signup' });
    expect(goal.name).toBe('signup');
  });

  it('a goal or funnel of another project is 404, even to the owner of both', async () => {
    const { projectId, owner } = await team();
    const { id: otherId } = await createProjectAs(owner.token, { name: 'Other' });
    const goal = await createGoal(owner.token, projectId, { kind: 'pageview', path: '/mine' });
    const funnel = await createFunnel(owner.token, projectId, { name: 'Mine', steps: twoSteps });
    const wrong = [
      { method: 'PATCH', path: `${goalsPath(otherId)}/${goal.id}`, body: { name: 'Stolen' } },
      { method: 'DELETE', path: `${goalsPath(otherId)}/${goal.id}` },
      { method: 'PATCH', path: `${funnelsPath(otherId)}/${funnel.id}`, body: { name: 'Stolen' } },
      { method: 'PATCH', path: `${funnelsPath(otherId)}/${funnel.id}`, body: {} },
      { method: 'DELETE', path: `${funnelsPath(otherId)}/${funnel.id}` },
      { method: 'DELETE', path: `${goalsPath(projectId)}/no-such-goal` },
    ];
    for (const route of wrong) {
      await expectError(await api(route.path, { ...route, token: owner.token }), 404, 'not_found');
    }
    const list = await expectJson<{ goals: Goal[] }>(await api(goalsPath(projectId), { token: owner.token }), 200);
    expect(list.goals).toEqual([goal]);
    const funnels = await expectJson<{ funnels: Funnel[] }>(
      await api(funnelsPath(projectId), { token: owner.token }),
      200,
    );
    expect(funnels.funnels).toEqual([funnel]);
  });
});

describe('goals', () => {
  it('round trip: create, list, rename, change matching, delete', async () => {
    const { projectId, admin } = await team();
    const blog = await createGoal(admin.token, projectId, {
      name: 'Read the blog',
      kind: 'pageview',
      path: '/blog/**',
    });
    expect(blog).toEqual({
      id: expect.any(String),
      name: 'Read the blog',
      kind: 'pageview',
      path: '/blog/**',
      createdAt: expect.any(Number),
    });
    const pro = await createGoal(admin.token, projectId, {
      kind: 'event',
      eventName: ' buy ',
      propertyKey: 'plan',
      propertyValue: 'pro',
    });
    expect(pro).toMatchObject({ name: 'buy (plan: pro)', kind: 'event', eventName: 'buy', propertyKey: 'plan' });
    const visit = await createGoal(admin.token, projectId, { kind: 'pageview', path: '/pricing' });
    expect(visit.name).toBe('Visit /pricing');

    const list = async () =>
      (await expectJson<{ goals: Goal[] }>(await api(goalsPath(projectId), { token: admin.token }), 200)).goals;
    expect(await list()).toEqual([blog, pro, visit]);

    const patch = async (goal: Goal, body: Record<string, unknown>) =>
      expectJson<Goal>(
        await api(`${goalsPath(projectId)}/${goal.id}`, { method: 'PATCH', token: admin.token, body }),
        200,
      );
    const renamed = await patch(blog, { name: 'Blog readers', path: '/blog/*' });
    expect(renamed).toEqual({ ...blog, name: 'Blog readers', path: '/blog/*' });
    // Dropping the property key drops its value too.
    const anyPurchase = await patch(pro, { propertyKey: null });
    expect(anyPurchase).toEqual({
      id: pro.id,
      name: pro.name,
      kind: 'event',
      eventName: 'buy',
      createdAt: pro.createdAt,
    });
    const switched = await patch(visit, {
      kind: 'event',
      eventName: 'trial',
      propertyKey: 'days',
      propertyValue: '14',
    });
    expect(switched).toEqual({
      id: visit.id,
      name: 'Visit /pricing',
      kind: 'event',
      eventName: 'trial',
      propertyKey: 'days',
      propertyValue: '14',
      createdAt: visit.createdAt,
    });
    const back = await patch(switched, { kind: 'pageview', path: '/' });
    expect(back).toEqual({
      id: visit.id,
      name: 'Visit /pricing',
      kind: 'pageview',
      path: '/',
      createdAt: visit.createdAt,
    });
    expect(await list()).toEqual([renamed, anyPurchase, back]);
    const row = await env.DB.prepare('SELECT * FROM goals WHERE id = ?').bind(visit.id).first();
    expect(row).toMatchObject({
      kind: 'pageview',
      path: '/',
      event_name: null,
      property_key: null,
      property_value: null,
    });

    const removed = await api(`${goalsPath(projectId)}/${blog.id}`, { method: 'DELETE', token: admin.token });
    expect(removed.status).toBe(204);
    expect(await list()).toEqual([anyPurchase, back]);
    await expectError(
      await api(`${goalsPath(projectId)}/${blog.id}`, { method: 'DELETE', token: admin.token }),
      404,
      'not_found',
    );
  });

  it('refuses bad input, naming the field', async () => {
    const { projectId, owner } = await team();
    const post = (body: unknown) => api(goalsPath(projectId), { method: 'POST', token: owner.token, body });
    expect(await invalidFields(await post({ kind: 'pageview', path: 'blog' }))).toEqual([['path']]);
    expect(await invalidFields(await post({ kind: 'pageview', path: `/${'a'.repeat(2000)}` }))).toEqual([['path']]);
    expect(await invalidFields(await post({ kind: 'pageview' }))).toEqual([['path']]);
    expect(await invalidFields(await post({ kind: 'event', eventName: '  ' }))).toEqual([['eventName']]);
    expect(await invalidFields(await post({ kind: 'event', eventName: 'x'.repeat(121) }))).toEqual([['eventName']]);
    expect(await invalidFields(await post({ kind: 'goal', path: '/' }))).toEqual([['kind']]);
    expect(await invalidFields(await post({ kind: 'event', eventName: 'a', propertyValue: 'x' }))).toEqual([
      ['propertyKey'],
    ]);
    expect(await invalidFields(await post({ kind: 'event', eventName: 'a', propertyKey: 'k' }))).toEqual([
      ['propertyValue'],
    ]);
    const longKey = { kind: 'event', eventName: 'a', propertyKey: 'k'.repeat(301), propertyValue: 'v' };
    expect(await invalidFields(await post(longKey))).toEqual([['propertyKey']]);
    const longValue = { kind: 'event', eventName: 'a', propertyKey: 'k', propertyValue: 'v'.repeat(2001) };
    expect(await invalidFields(await post(longValue))).toEqual([['propertyValue']]);
    expect(await invalidFields(await post({ kind: 'pageview', path: '/', name: '' }))).toEqual([['name']]);
    // A field of the other kind is refused, not silently dropped; the message names it.
    const mixed = await expectError(await post({ kind: 'pageview', path: '/', eventName: 'x' }), 400, 'invalid_input');
    expect(JSON.stringify(mixed.details)).toContain('eventName');

    const goal = await createGoal(owner.token, projectId, { kind: 'pageview', path: '/ok' });
    const patch = (body: unknown) =>
      api(`${goalsPath(projectId)}/${goal.id}`, { method: 'PATCH', token: owner.token, body });
    expect(await invalidFields(await patch({ path: 'no-slash' }))).toEqual([['path']]);
    // Turning it into an event goal needs an event name.
    expect(await invalidFields(await patch({ kind: 'event' }))).toEqual([['eventName']]);
    const foreign = await expectError(await patch({ propertyValue: 'x' }), 400, 'invalid_input');
    expect(JSON.stringify(foreign.details)).toContain('propertyValue');
    const signup = await createGoal(owner.token, projectId, { kind: 'event', eventName: 'signup' });
    const patchSignup = (body: unknown) =>
      api(`${goalsPath(projectId)}/${signup.id}`, { method: 'PATCH', token: owner.token, body });
    expect(await invalidFields(await patchSignup({ propertyValue: 'x' }))).toEqual([['propertyKey']]);
    expect(await invalidFields(await patchSignup({ propertyKey: 'plan' }))).toEqual([['propertyValue']]);
    expect(await invalidFields(await patchSignup({ eventName: '' }))).toEqual([['eventName']]);
    expect(await invalidFields(await patch({ name: '' }))).toEqual([['name']]);
    const unchanged = await expectJson<{ goals: Goal[] }>(await api(goalsPath(projectId), { token: owner.token }), 200);
    expect(unchanged.goals).toEqual([goal, signup]);
  });

  it('a name or a matching is used once per project (409 naming the field)', async () => {
    const { projectId, owner } = await team();
    const { id: otherId } = await createProjectAs(owner.token);
    const post = (body: unknown, id = projectId) => api(goalsPath(id), { method: 'POST', token: owner.token, body });

    await createGoal(owner.token, projectId, { name: 'Pricing', kind: 'pageview', path: '/pricing' });
    await createGoal(owner.token, projectId, { kind: 'event', eventName: 'buy' });
    const pro = await createGoal(owner.token, projectId, {
      kind: 'event',
      eventName: 'buy',
      propertyKey: 'plan',
      propertyValue: 'pro',
    });
    expect(await conflictFields(await post({ name: 'Other', kind: 'pageview', path: '/pricing' }))).toEqual([['path']]);
    expect(await conflictFields(await post({ name: 'Pricing', kind: 'pageview', path: '/plans' }))).toEqual([['name']]);
    expect(await conflictFields(await post({ name: 'Pricing', kind: 'pageview', path: '/pricing' }))).toEqual([
      ['name'],
      ['path'],
    ]);
    expect(await conflictFields(await post({ name: 'Again', kind: 'event', eventName: 'buy' }))).toEqual([
      ['eventName'],
    ]);
    const samePro = { name: 'Pro again', kind: 'event', eventName: 'buy', propertyKey: 'plan', propertyValue: 'pro' };
    expect(await conflictFields(await post(samePro))).toEqual([['eventName']]);

    // Different matchings are different goals: another value, an empty value, a pageview of the same text.
    await createGoal(owner.token, projectId, {
      kind: 'event',
      eventName: 'buy',
      propertyKey: 'plan',
      propertyValue: '',
    });
    await createGoal(owner.token, projectId, {
      kind: 'event',
      eventName: 'buy',
      propertyKey: 'plan',
      propertyValue: 'x',
    });
    await createGoal(owner.token, projectId, { kind: 'event', eventName: '/pricing' });
    // The same goal in another project is fine.
    expect((await post({ name: 'Pricing', kind: 'pageview', path: '/pricing' }, otherId)).status).toBe(201);

    const patch = (body: unknown) =>
      api(`${goalsPath(projectId)}/${pro.id}`, { method: 'PATCH', token: owner.token, body });
    expect(await conflictFields(await patch({ name: 'Pricing' }))).toEqual([['name']]);
    expect(await conflictFields(await patch({ propertyKey: null }))).toEqual([['eventName']]);
    // Saving a goal unchanged is not a conflict with itself.
    expect((await patch({ name: pro.name, propertyValue: 'pro' })).status).toBe(200);
  });
});

describe('deleting the project', () => {
  it('leaves no goal or funnel rows', async () => {
    expect(PROJECT_TABLES).toEqual(expect.arrayContaining(['goals', 'funnels']));
    const { projectId, owner } = await team();
    await createGoal(owner.token, projectId, { kind: 'pageview', path: '/a' });
    await createGoal(owner.token, projectId, { kind: 'event', eventName: 'b', propertyKey: 'c', propertyValue: 'd' });
    await createFunnel(owner.token, projectId, { name: 'F', steps: twoSteps });
    expect((await api(`/api/projects/${projectId}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    for (const table of ['goals', 'funnels']) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE project_id = ?`)
        .bind(projectId)
        .first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes the goal and funnel routes', async () => {
    const doc = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
      await api('/api/openapi.json'),
      200,
    );
    for (const kind of ['goals', 'funnels']) {
      expect(Object.keys(doc.paths[`/api/projects/{id}/${kind}`] ?? {}).sort()).toEqual(['get', 'post']);
    }
    expect(Object.keys(doc.paths['/api/projects/{id}/goals/{goalId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
    expect(Object.keys(doc.paths['/api/projects/{id}/funnels/{funnelId}'] ?? {}).sort()).toEqual(['delete', 'patch']);
  });
});
