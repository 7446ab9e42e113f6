/**
 * The public live counter: a socket anyone may open (`/api/live/public/{siteKey}`) when the project
 * turned `publicLive` on, which is told the number of live visitors and nothing else; and the
 * `/live.js` widget that shows it on a page (its behaviour in a browser: e2e/live.test.ts).
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, createProjectAs, expectJson, signUp, uniqueEmail } from './accounts.ts';
import { admitOne, MINUTE, PINNED_NOW, projectStub, randomFingerprint, SECOND } from './fixtures.ts';
import { expectError } from './helpers.ts';
import { closedWith, handshake, openDashboard, openSocket } from './live-helpers.ts';

const T = PINNED_NOW;
const ELSEWHERE = 'https://a-blog.example';

/** A project whose public counter is on (or off), and its owner. */
async function publicProject(publicLive = true) {
  const owner = await signUp(uniqueEmail('owner'));
  const project = await createProjectAs(owner.token, { publicLive });
  return { owner, project, stub: projectStub(project.id) };
}

async function setPublicLive(projectId: string, token: string, publicLive: boolean): Promise<void> {
  await expectJson(await api(`/api/projects/${projectId}`, { method: 'PATCH', token, body: { publicLive } }), 200);
}

async function alarmAt(stub: ReturnType<typeof projectStub>, at: number): Promise<void> {
  vi.setSystemTime(at);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

beforeEach(() => {
  vi.setSystemTime(T);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the public live counter', () => {
  it('opens from any origin and is sent the count alone, on open and when it changes', async () => {
    const { owner, project, stub } = await publicProject();
    const [alice, bob] = [randomFingerprint(), randomFingerprint()];
    await admitOne(stub, project.id, alice, T - MINUTE, { path: '/secret-pricing', country: 'DE' });

    const counter = await openSocket(`/api/live/public/${project.siteKey}`, ELSEWHERE);
    const dashboard = await openDashboard(project.id, owner.token);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 1 }]);
    expect(await dashboard.take()).toMatchObject([{ type: 'snapshot', visitors: 1 }]);

    // Alice moves on: the dashboard's view changes, the count does not.
    await admitOne(stub, project.id, alice, T, { path: '/checkout' });
    await alarmAt(stub, T + SECOND);
    expect(await counter.take()).toEqual([]);
    expect(await dashboard.take()).toMatchObject([{ type: 'update', pages: [{ path: '/checkout' }] }]);

    await admitOne(stub, project.id, bob, T + SECOND, { path: '/' });
    await alarmAt(stub, T + 2 * SECOND);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 2 }]);
  });

  it('answers 404 while the project has it off, for unknown sites, and 426 without a handshake', async () => {
    const { owner, project } = await publicProject(false);
    const path = `/api/live/public/${project.siteKey}`;
    const refused = await handshake(path, ELSEWHERE);
    expect(refused.webSocket).toBeNull();
    await expectError(refused, 404, 'not_found');
    await expectError(await handshake('/api/live/public/no-such-site', ELSEWHERE), 404, 'not_found');

    await setPublicLive(project.id, owner.token, true);
    await expectError(await api(path), 426, 'upgrade_required');
    expect(await (await openSocket(path, ELSEWHERE)).take()).toEqual([{ type: 'count', visitors: 0 }]);
    await setPublicLive(project.id, owner.token, false);
    await expectError(await handshake(path, ELSEWHERE), 404, 'not_found');
  });

  it('closes open counters once the project turns it off', async () => {
    const { owner, project, stub } = await publicProject();
    const counter = await openSocket(`/api/live/public/${project.siteKey}`, ELSEWHERE);
    await admitOne(stub, project.id, randomFingerprint(), T, { path: '/' });
    await alarmAt(stub, T + SECOND);
    expect(await counter.take()).toEqual([
      { type: 'count', visitors: 0 },
      { type: 'count', visitors: 1 },
    ]);

    await setPublicLive(project.id, owner.token, false);
    // The switch is rechecked at most once a minute, before an update goes out.
    await admitOne(stub, project.id, randomFingerprint(), T + SECOND, { path: '/' });
    await alarmAt(stub, T + 2 * SECOND);
    expect(await counter.take()).toEqual([{ type: 'count', visitors: 2 }]);
    await admitOne(stub, project.id, randomFingerprint(), T + MINUTE + SECOND, { path: '/' });
    await alarmAt(stub, T + MINUTE + 2 * SECOND);
    expect(await closedWith(counter)).toEqual({ code: 4403, reason: 'The public live counter is off' });
    expect(counter.messages).toHaveLength(3);
  });
});

describe('GET /live.js', () => {
  it('serves the widget as cacheable JavaScript that renders text only', async () => {
    const res = await api('/live.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const script = await res.text();
    expect(script).toContain('/api/live/public/');
    expect(script).toContain("setAttribute('role', 'status')");
    expect(script).toContain("setAttribute('aria-live', 'polite')");
    expect(script).toContain('textContent');
    expect(script).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write|eval\(/);

    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"live-[0-9a-z]+"$/);
    const again = await api('/live.js', { headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });
});

describe('the OpenAPI document', () => {
  it('describes the live routes', async () => {
    const doc = await expectJson<{ paths: Record<string, unknown> }>(await api('/api/openapi.json'), 200);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/projects/{id}/live-ticket',
        '/api/projects/{id}/live',
        '/api/live/public/{siteKey}',
      ]),
    );
  });
});
