/** Funnels through the real Worker: round trips, validation naming the field, unique names. */
import { describe, expect, it } from 'vitest';
import { MAX_FUNNELS } from '../src/projects/funnels.ts';
import { api, expectJson } from './accounts.ts';
import {
  conflictFields,
  createFunnel,
  type Funnel,
  funnelsPath,
  invalidFields,
  team,
  twoSteps,
} from './goal-fixtures.ts';

describe('funnels', () => {
  it('round trip: create, list, rename, replace steps, delete', async () => {
    const { projectId, admin } = await team();
    const steps = [
      { kind: 'pageview', path: '/pricing' },
      { kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
      { kind: 'pageview', path: '/welcome/**' },
    ];
    const funnel = await createFunnel(admin.token, projectId, { name: ' Sign-up ', steps });
    expect(funnel).toEqual({ id: expect.any(String), name: 'Sign-up', steps, createdAt: expect.any(Number) });
    const other = await createFunnel(admin.token, projectId, { name: 'Other', steps: twoSteps });

    const path = `${funnelsPath(projectId)}/${funnel.id}`;
    const renamed = await expectJson<Funnel>(
      await api(path, { method: 'PATCH', token: admin.token, body: { name: 'Sign-up flow' } }),
      200,
    );
    expect(renamed).toEqual({ ...funnel, name: 'Sign-up flow' });
    const restepped = await expectJson<Funnel>(
      await api(path, { method: 'PATCH', token: admin.token, body: { steps: twoSteps } }),
      200,
    );
    expect(restepped).toEqual({ ...renamed, steps: twoSteps });
    expect(await expectJson(await api(path, { method: 'PATCH', token: admin.token, body: {} }), 200)).toEqual(
      restepped,
    );

    const list = await expectJson<{ funnels: Funnel[] }>(
      await api(funnelsPath(projectId), { token: admin.token }),
      200,
    );
    expect(list.funnels).toEqual([restepped, other]);
    expect((await api(path, { method: 'DELETE', token: admin.token })).status).toBe(204);
    const after = await expectJson<{ funnels: Funnel[] }>(
      await api(funnelsPath(projectId), { token: admin.token }),
      200,
    );
    expect(after.funnels).toEqual([other]);
  });

  it('refuses bad input, naming the field', async () => {
    const { projectId, owner } = await team();
    const post = (body: unknown) => api(funnelsPath(projectId), { method: 'POST', token: owner.token, body });
    const step = { kind: 'pageview', path: '/a' };
    expect(await invalidFields(await post({ name: 'One', steps: [step] }))).toEqual([['steps']]);
    expect(await invalidFields(await post({ name: 'Nine', steps: Array(9).fill(step) }))).toEqual([['steps']]);
    expect((await post({ name: 'Eight', steps: Array(8).fill(step) })).status).toBe(201);
    expect(await invalidFields(await post({ steps: twoSteps }))).toEqual([['name']]);
    const badStep = { name: 'Bad', steps: [step, { kind: 'pageview', path: 'nope' }] };
    expect(await invalidFields(await post(badStep))).toEqual([['steps', 1, 'path']]);
    const badProperty = { name: 'Bad', steps: [step, { kind: 'event', eventName: 'x', propertyValue: 'v' }] };
    expect(await invalidFields(await post(badProperty))).toEqual([['steps', 1, 'propertyKey']]);
  });

  it('a name is used once per project (409)', async () => {
    const { projectId, owner } = await team();
    await createFunnel(owner.token, projectId, { name: 'Checkout', steps: twoSteps });
    const second = await createFunnel(owner.token, projectId, { name: 'Trial', steps: twoSteps });
    const again = await api(funnelsPath(projectId), {
      method: 'POST',
      token: owner.token,
      body: { name: 'Checkout', steps: twoSteps },
    });
    expect(await conflictFields(again)).toEqual([['name']]);
    const rename = await api(`${funnelsPath(projectId)}/${second.id}`, {
      method: 'PATCH',
      token: owner.token,
      body: { name: 'Checkout' },
    });
    expect(await conflictFields(rename)).toEqual([['name']]);
  });

  it(`a project keeps at most ${MAX_FUNNELS} funnels (409), so the cron's work per day stays bounded`, async () => {
    const { projectId, owner } = await team();
    for (let i = 0; i < MAX_FUNNELS; i++)
      await createFunnel(owner.token, projectId, { name: `F${i}`, steps: twoSteps });
    const over = await api(funnelsPath(projectId), {
      method: 'POST',
      token: owner.token,
      body: { name: 'One more', steps: twoSteps },
    });
    expect(await conflictFields(over)).toEqual([[]]);
    // A taken name is still named as such while there is room.
    await api(`${funnelsPath(projectId)}/${(await createFunnelList(owner.token, projectId))[0]?.id}`, {
      method: 'DELETE',
      token: owner.token,
    });
    const taken = await api(funnelsPath(projectId), {
      method: 'POST',
      token: owner.token,
      body: { name: 'F1', steps: twoSteps },
    });
    expect(await conflictFields(taken)).toEqual([['name']]);
  });
});

async function createFunnelList(token: string, projectId: string): Promise<Funnel[]> {
  return (await expectJson<{ funnels: Funnel[] }>(await api(funnelsPath(projectId), { token }), 200)).funnels;
}
