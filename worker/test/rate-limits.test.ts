/**
 * The ProjectDO's token buckets, per project and per visitor: a flood passes at most
 * `rate × seconds + burst` events, budgets are independent, and a refused request leaves no trace
 * but its drop count. Time is the `now` each admission carries.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RateLimits } from '../src/live/index.ts';
import type { PendingEvent } from '../src/pipeline/index.ts';
import {
  admitOne,
  admitRequest,
  DAY_D as D,
  DAY,
  freshProject,
  HOUR,
  outboxEvents,
  PINNED_NOW,
  pendingEvent,
  randomFingerprint,
  SECOND,
  type TestProjectDO,
  utcDayOf as dayOf,
} from './fixtures.ts';

beforeEach(() => {
  // Pinned so that no alarm fires during a test (see PINNED_NOW).
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rate limits', () => {
  /**
   * Each `[project, visitor]` sends one event every `stepMs` for `seconds`, all at the same time;
   * returns how many each got through. Every refusal must name `scope` and a wait of whole seconds.
   */
  async function flood(
    senders: [TestProjectDO, string][],
    limits: RateLimits,
    scope: 'project' | 'visitor',
    seconds: number,
    stepMs: number,
  ) {
    const accepted = senders.map(() => 0);
    const start = D + 9 * HOUR;
    for (let t = start; t < start + seconds * SECOND; t += stepMs) {
      const results = await Promise.all(senders.map(([p, visitor]) => admitOne(p.stub, p.id, visitor, t, {}, limits)));
      results.forEach((result, i) => {
        if (result.ok) accepted[i] = (accepted[i] ?? 0) + 1;
        else {
          expect(result).toMatchObject({ ok: false, reason: 'rate_limited', scope });
          expect(Number.isInteger(result.retryAfter) && result.retryAfter >= 1, `retryAfter ${result.retryAfter}`).toBe(
            true,
          );
        }
      });
    }
    return accepted;
  }

  it('hold a project to rate × seconds + burst, and a second project keeps its own budget', async () => {
    const limits: RateLimits = { projectRate: 10, projectBurst: 20, visitorRate: 1000, visitorBurst: 1000 };
    const [a, b] = [await freshProject('limits'), await freshProject('limits')];
    const senders: [TestProjectDO, string][] = [
      [a, randomFingerprint()],
      [b, randomFingerprint()],
    ];
    // 400 requests in 10 s each; a shared budget would leave one of the two under rate × seconds.
    for (const accepted of await flood(senders, limits, 'project', 10, 25)) {
      expect(accepted).toBeLessThanOrEqual(10 * 10 + 20);
      expect(accepted).toBeGreaterThanOrEqual(10 * 9.975);
    }
  });

  it('hold each visitor to its own bucket, independently of other visitors', async () => {
    const limits: RateLimits = { projectRate: 1000, projectBurst: 1000, visitorRate: 2, visitorBurst: 5 };
    const project = await freshProject('limits');
    const senders: [TestProjectDO, string][] = [
      [project, randomFingerprint()],
      [project, randomFingerprint()],
    ];
    for (const accepted of await flood(senders, limits, 'visitor', 10, 50)) {
      expect(accepted).toBeLessThanOrEqual(2 * 10 + 5);
      expect(accepted).toBeGreaterThanOrEqual(2 * 9.95);
    }
  });

  it('never let more than rate × window + burst events through in any window (oracle)', async () => {
    const arrival = fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), size: fc.integer({ min: 1, max: 6 }) });
    const limits = fc.record({
      projectRate: fc.integer({ min: 1, max: 5 }),
      projectBurst: fc.integer({ min: 1, max: 10 }),
    });
    await fc.assert(
      fc.asyncProperty(limits, fc.array(arrival, { minLength: 1, maxLength: 40 }), async (projectLimits, arrivals) => {
        const project = await freshProject('limits');
        const all: RateLimits = { ...projectLimits, visitorRate: 1000, visitorBurst: 1000 };
        const accepted: { t: number; size: number }[] = [];
        let t = D + 9 * HOUR;
        for (const { gapMs, size } of arrivals) {
          t += gapMs;
          const events = Array.from(
            { length: size },
            () => [randomFingerprint(), pendingEvent({ ts: t })] as [string, PendingEvent],
          );
          const result = await project.stub.admit(admitRequest(project.id, t, events, { limits: all }));
          if (result.ok) accepted.push({ t, size });
        }
        for (const from of accepted) {
          const inWindow = accepted.filter((a) => a.t >= from.t);
          for (const to of inWindow) {
            const total = inWindow.filter((a) => a.t <= to.t).reduce((n, a) => n + a.size, 0);
            expect(total).toBeLessThanOrEqual((all.projectRate * (to.t - from.t)) / 1000 + all.projectBurst);
          }
        }
        if (arrivals[0] && arrivals[0].size <= all.projectBurst)
          expect(accepted[0]?.t).toBe(D + 9 * HOUR + arrivals[0].gapMs);
      }),
      { numRuns: 25 },
    );
  });

  it('refuse a request whole: nothing stored, drops counted, and it passes after retryAfter', async () => {
    const project = await freshProject('limits');
    const limits: RateLimits = { projectRate: 1, projectBurst: 3, visitorRate: 1000, visitorBurst: 1000 };
    const fingerprint = randomFingerprint();
    const now = D + DAY + 2 * HOUR; // 22:00 of day D in New York, where the project counts its days
    const options = { limits, timezone: 'America/New_York' };
    const pair = (at: number) =>
      admitRequest(
        project.id,
        at,
        [
          [fingerprint, pendingEvent({ ts: at })],
          [fingerprint, pendingEvent({ ts: at })],
        ],
        options,
      );
    expect((await project.stub.admit(pair(now))).ok).toBe(true); // leaves 1 of the burst of 3
    const denied = pair(now);
    const result = await project.stub.admit(denied);
    expect(result).toEqual({ ok: false, reason: 'rate_limited', scope: 'project', retryAfter: 1 });
    expect(await project.stub.pendingEvents()).toBe(2);
    const storedIds = (await outboxEvents(project.stub)).map((event) => event.id);
    for (const { event } of denied.events) expect(storedIds).not.toContain(event.id);
    expect(await project.stub.dropTotals()).toEqual([{ day: dayOf(D), reason: 'rate_limited', count: 2 }]);

    const retried = await project.stub.admit(pair(now + (result.ok ? 0 : result.retryAfter) * SECOND));
    expect(retried.ok).toBe(true);
    // Refused events took no place in the visit.
    expect((await outboxEvents(project.stub)).map((event) => event.seq)).toEqual([1, 2, 3, 4]);
  });

  it('charge no bucket when any visitor of a batch is over its limit', async () => {
    const project = await freshProject('limits');
    const limits: RateLimits = { projectRate: 1000, projectBurst: 1000, visitorRate: 0.001, visitorBurst: 2 };
    const [busy, calm] = [randomFingerprint(), randomFingerprint()];
    const now = D + 9 * HOUR;
    const events = (fingerprint: string, n: number) =>
      Array.from({ length: n }, () => [fingerprint, pendingEvent({ ts: now })] as [string, PendingEvent]);
    expect((await project.stub.admit(admitRequest(project.id, now, events(busy, 2), { limits }))).ok).toBe(true);
    const mixed = await project.stub.admit(
      admitRequest(project.id, now, [...events(calm, 2), ...events(busy, 1)], { limits }),
    );
    expect(mixed).toMatchObject({ ok: false, reason: 'rate_limited', scope: 'visitor' });
    expect(await project.stub.pendingEvents()).toBe(2);
    // The calm visitor's bucket is still full.
    expect((await project.stub.admit(admitRequest(project.id, now, events(calm, 2), { limits }))).ok).toBe(true);
  });
});
