/**
 * Live presence runs on the server's clock. Event time comes from the client, clamped to now − 1 h …
 * now + 5 min: visits are cut by it, but a visitor must count as live for exactly 5 minutes after
 * its event reached the server, whatever the client's clock says.
 */
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LIVE_WINDOW_MS, type VisitorStore } from '../src/live/sessions.ts';
import {
  admitRequest,
  freshProject,
  MINUTE,
  PINNED_NOW,
  pendingEvent,
  randomFingerprint,
  storedEventsOf,
  type TestProjectDO,
} from './fixtures.ts';

const NOW = PINNED_NOW;

/** Admit one event stamped `ts` by the client, received by the server at `now`. */
async function admitAt(project: TestProjectDO, fingerprint: string, ts: number, now: number, path = '/') {
  const result = await project.stub.admit(admitRequest(project.id, now, [[fingerprint, pendingEvent({ ts, path })]]));
  if (!result.ok) expect.fail('admission was refused');
  return result.ids;
}

/** The project's visitors, through the object's own store. */
function inStore<T>(project: TestProjectDO, read: (store: VisitorStore) => T): Promise<T> {
  return runInDurableObject(project.stub, (instance) =>
    read((instance as unknown as { visitors: VisitorStore }).visitors),
  );
}

beforeEach(() => {
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('live presence', () => {
  it('ends 5 minutes after the server received the event, for a client clock 5 minutes ahead', async () => {
    const project = await freshProject('presence');
    const [id] = await admitAt(project, randomFingerprint(), NOW + 5 * MINUTE, NOW);
    // The event keeps its (clamped) client time: visits are cut by it.
    expect((await storedEventsOf(project.stub, [id as string]))[0]?.ts).toBe(NOW + 5 * MINUTE);

    expect((await project.stub.live(NOW + LIVE_WINDOW_MS)).visitors).toBe(1);
    expect((await project.stub.live(NOW + LIVE_WINDOW_MS + 1)).visitors).toBe(0);
    expect(await inStore(project, (store) => store.nextLiveExpiry(NOW))).toBe(NOW + LIVE_WINDOW_MS + 1);
  });

  it('counts a visitor whose client clock is an hour behind, and pruning keeps it while live', async () => {
    const project = await freshProject('presence');
    await admitAt(project, randomFingerprint(), NOW - 60 * MINUTE, NOW, '/late');
    const live = await project.stub.live(NOW);
    expect(live).toMatchObject({ visitors: 1, pages: [{ path: '/late', visitors: 1 }] });

    // By event time the visit ended 30 minutes ago; by server time the visitor is still here.
    expect(await inStore(project, (store) => store.prune(NOW + MINUTE))).toBe(1);
    expect((await project.stub.live(NOW + MINUTE)).visitors).toBe(1);
    expect(await inStore(project, (store) => store.prune(NOW + LIVE_WINDOW_MS + 1))).toBe(0);
    expect((await project.stub.live(NOW + LIVE_WINDOW_MS + 1)).visitors).toBe(0);
  });

  it('follows the latest arrival of a visitor, not its latest event time', async () => {
    const project = await freshProject('presence');
    const fingerprint = randomFingerprint();
    await admitAt(project, fingerprint, NOW, NOW);
    // A late event (stamped earlier, e.g. flushed from a retry queue) still shows the visitor is here.
    await admitAt(project, fingerprint, NOW - 20 * MINUTE, NOW + 4 * MINUTE);
    expect((await project.stub.live(NOW + 8 * MINUTE)).visitors).toBe(1);
    expect((await project.stub.live(NOW + 9 * MINUTE + 1)).visitors).toBe(0);
  });

  it('prunes an ended visit by event time once the visitor has left the live window', async () => {
    const project = await freshProject('presence');
    await admitAt(project, randomFingerprint(), NOW, NOW);
    expect(await inStore(project, (store) => store.prune(NOW + 29 * MINUTE))).toBe(1);
    expect(await inStore(project, (store) => store.prune(NOW + 30 * MINUTE + 1))).toBe(0);
  });
});
