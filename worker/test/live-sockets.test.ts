/**
 * A dashboard's live socket: the snapshot it opens with, the updates that follow an admitted
 * event or a visitor leaving the 5-minute window, the one-a-second throttle, hibernation, and
 * how the alarm it shares with the outbox flush is kept. The clock is pinned and the ProjectDO's
 * alarm is run by hand, so the tests count messages instead of timing them.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LIVE_WINDOW_MS, RECENT_EVENTS } from '../src/live/index.ts';
import { GENERATION_MS, STATE_HORIZON_MS } from '../src/live/log.ts';
import { api, createProjectAs, signUp, uniqueEmail } from './accounts.ts';
import { admitOne, MINUTE, PINNED_NOW, projectStub, randomFingerprint, SECOND } from './fixtures.ts';
import { pageview, postEvent } from './helpers.ts';
import { closedWith, openDashboard } from './live-helpers.ts';

const T = PINNED_NOW;

/** A project with an owner, and its ProjectDO. */
async function liveProject() {
  const owner = await signUp(uniqueEmail('owner'));
  const project = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }] });
  return { owner, project, stub: projectStub(project.id) };
}

/** When the ProjectDO's alarm is set to fire. */
function alarmOf(stub: ReturnType<typeof projectStub>): Promise<number | null> {
  return runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
}

/**
 * Expect the alarm to fire at `at`: at it, or a millisecond before when its parity had to say
 * whether events wait (`src/live/alarm.ts`).
 */
async function expectAlarmAt(stub: ReturnType<typeof projectStub>, at: number): Promise<void> {
  expect([at - 1, at]).toContain(await alarmOf(stub));
}

/** The next UTC midnight after `now`, and a second: when an idle object's alarm comes back. */
function nextMidnight(now: number): number {
  return Math.floor(now / 86_400_000) * 86_400_000 + 86_400_000 + 1_000;
}

/** Move the clock to `at` and run the ProjectDO's alarm (one must be set). */
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

describe('the snapshot a live socket opens with', () => {
  it('lists live visitors, their pages and countries, and the latest events newest first', async () => {
    const { owner, project, stub } = await liveProject();
    const seen = [
      { at: T - 10 * MINUTE, path: '/old', country: 'US', source: 'Google', name: 'pageview' },
      { at: T - 2 * MINUTE, path: '/pricing', country: 'DE', source: 'Hacker News', name: 'pageview' },
      { at: T - MINUTE, path: '/pricing', country: null, source: null, name: 'signup' },
      { at: T - MINUTE, path: '/docs', country: 'DE', source: null, name: 'pageview' },
    ];
    for (const { at, ...fields } of seen)
      await admitOne(stub, project.id, randomFingerprint(), at, { ts: at, ...fields });

    const socket = await openDashboard(project.id, owner.token);
    const messages = await socket.take();
    expect(messages).toEqual([
      {
        type: 'snapshot',
        visitors: 3,
        pages: [
          { path: '/pricing', visitors: 2 },
          { path: '/docs', visitors: 1 },
        ],
        countries: [
          { country: 'DE', visitors: 2 },
          { country: null, visitors: 1 },
        ],
        recent: seen.map(({ at, path, country, source, name }) => ({ ts: at, name, path, country, source })).reverse(),
      },
    ]);
  });

  it(`keeps only the last ${RECENT_EVENTS} events, and keeps them when the object is evicted`, async () => {
    const { owner, project, stub } = await liveProject();
    const fingerprint = randomFingerprint();
    for (let i = 0; i < RECENT_EVENTS + 5; i++) await admitOne(stub, project.id, fingerprint, T, { path: `/p${i}` });
    await evictDurableObject(stub);

    const [snapshot] = await (await openDashboard(project.id, owner.token)).take();
    const paths = ((snapshot?.recent ?? []) as { path: string }[]).map((event) => event.path);
    expect(paths).toEqual(Array.from({ length: RECENT_EVENTS }, (_, i) => `/p${RECENT_EVENTS + 4 - i}`));
  });
});

describe('live updates', () => {
  it('follow an event admitted through ingest', async () => {
    const { owner, project, stub } = await liveProject();
    const socket = await openDashboard(project.id, owner.token);
    expect(await socket.take()).toMatchObject([{ type: 'snapshot', visitors: 0, recent: [] }]);

    const res = await postEvent(pageview(project.siteKey, { u: 'https://example.com/docs?utm_source=news' }), {
      cf: { country: 'FR' },
    });
    expect(res.status).toBe(202);
    await alarmAt(stub, T + SECOND);

    expect(await socket.take()).toEqual([
      {
        type: 'update',
        visitors: 1,
        pages: [{ path: '/docs', visitors: 1 }],
        countries: [{ country: 'FR', visitors: 1 }],
        recent: [{ ts: T, name: 'pageview', path: '/docs', country: 'FR', source: 'news' }],
      },
    ]);
  });

  it('come at most once a second, and only when something changed', async () => {
    const { owner, project, stub } = await liveProject();
    const socket = await openDashboard(project.id, owner.token); // the snapshot is sent at T
    await socket.take();
    const admit = (at: number, path: string) => admitOne(stub, project.id, randomFingerprint(), at, { path });

    await admit(T, '/a');
    await alarmAt(stub, T);
    await alarmAt(stub, T + 999);
    expect(await socket.take()).toEqual([]);
    // The throttled update is due when the second is up.
    await expectAlarmAt(stub, T + SECOND);
    await alarmAt(stub, T + SECOND);
    const first = await socket.take();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ type: 'update', visitors: 1, recent: [{ path: '/a' }] });

    await admit(T + SECOND, '/b');
    await admit(T + SECOND, '/c');
    await alarmAt(stub, T + SECOND);
    await alarmAt(stub, T + 1_500);
    expect(await socket.take()).toEqual([]);
    await alarmAt(stub, T + 2 * SECOND);
    const second = await socket.take();
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ visitors: 3, recent: [{ path: '/c' }, { path: '/b' }, { path: '/a' }] });

    // Nothing changed: however often the alarm runs, nothing is sent.
    for (const at of [T + 3 * SECOND, T + 10 * SECOND, T + MINUTE]) await alarmAt(stub, at);
    expect(await socket.take()).toEqual([]);
  });

  it('follow visitors leaving the 5-minute window, with nothing else happening', async () => {
    const { owner, project, stub } = await liveProject();
    await admitOne(stub, project.id, randomFingerprint(), T - 2 * MINUTE, { path: '/early' });
    await admitOne(stub, project.id, randomFingerprint(), T - MINUTE, { path: '/late' });
    const socket = await openDashboard(project.id, owner.token);
    expect(await socket.take()).toMatchObject([{ type: 'snapshot', visitors: 2 }]);

    // The outbox flush comes first; then the alarm waits for the first visitor to leave.
    await alarmAt(stub, T + 200);
    await expectAlarmAt(stub, T - 2 * MINUTE + LIVE_WINDOW_MS + 1);
    await alarmAt(stub, T - 2 * MINUTE + LIVE_WINDOW_MS + 1);
    expect(await socket.take()).toMatchObject([{ type: 'update', visitors: 1, pages: [{ path: '/late' }] }]);

    await expectAlarmAt(stub, T - MINUTE + LIVE_WINDOW_MS + 1);
    await alarmAt(stub, T - MINUTE + LIVE_WINDOW_MS + 1);
    expect(await socket.take()).toMatchObject([{ type: 'update', visitors: 0, pages: [], countries: [] }]);
    // Nobody is live: the alarm is back to housekeeping — dropping the log's generation once its
    // visit states can no longer matter (src/live/log.ts), before midnight's salt rotation.
    await expectAlarmAt(stub, Math.min(nextMidnight(T), T + GENERATION_MS + STATE_HORIZON_MS));
  });

  it('share the alarm with the outbox flush: the earliest wins and neither is lost', async () => {
    const { owner, project, stub } = await liveProject();
    const socket = await openDashboard(project.id, owner.token);
    await admitOne(stub, project.id, randomFingerprint(), T, { path: '/a' });
    await alarmAt(stub, T + SECOND); // sends the update for /a, and flushes
    expect((await socket.take()).map((message) => message.type)).toEqual(['snapshot', 'update']);

    vi.setSystemTime(T + 1_100);
    await admitOne(stub, project.id, randomFingerprint(), T + 1_100, { path: '/b' });
    // The flush (200 ms) is due before the next update may go (a second after the last).
    await expectAlarmAt(stub, T + 1_300);
    expect(await stub.pendingEvents()).toBe(1);
    await alarmAt(stub, T + 1_300);
    expect(await stub.pendingEvents()).toBe(0);
    expect(await socket.take()).toEqual([]);
    await expectAlarmAt(stub, T + 2 * SECOND);
    await alarmAt(stub, T + 2 * SECOND);
    expect(await socket.take()).toMatchObject([{ type: 'update', visitors: 2 }]);
  });
});

describe('a hibernating ProjectDO', () => {
  it('keeps its sockets, what each was sent and when, across an eviction', async () => {
    const { owner, project, stub } = await liveProject();
    const socket = await openDashboard(project.id, owner.token);
    await admitOne(stub, project.id, randomFingerprint(), T, { path: '/before' });
    await alarmAt(stub, T + SECOND);
    expect(await socket.take()).toMatchObject([{ type: 'snapshot' }, { type: 'update', visitors: 1 }]);

    await evictDurableObject(stub);
    // Memory is gone: the next alarm looks at every socket, and sends nothing, for nothing changed.
    await alarmAt(stub, T + 1_200);
    expect(await socket.take()).toEqual([]);
    await admitOne(stub, project.id, randomFingerprint(), T + 1_200, { path: '/after' });
    // The socket's attachment still says it was sent an update at T + 1 s.
    await alarmAt(stub, T + 1_500);
    expect(await socket.take()).toEqual([]);
    await alarmAt(stub, T + 2 * SECOND);
    expect(await socket.take()).toMatchObject([
      { type: 'update', visitors: 2, recent: [{ path: '/after' }, { path: '/before' }] },
    ]);
  });
});

describe('live sockets are closed', () => {
  it('when the client sends anything but ping', async () => {
    const { owner, project } = await liveProject();
    const socket = await openDashboard(project.id, owner.token);
    await socket.settle();
    socket.socket.send('{"type":"subscribe"}');
    expect((await closedWith(socket)).code).toBe(1003);
  });

  it('when the project is deleted', async () => {
    const { owner, project } = await liveProject();
    const socket = await openDashboard(project.id, owner.token);
    const res = await api(`/api/projects/${project.id}`, { method: 'DELETE', token: owner.token });
    expect(res.status).toBe(204);
    expect(await closedWith(socket)).toEqual({ code: 4404, reason: 'The project was deleted' });
  });
});
