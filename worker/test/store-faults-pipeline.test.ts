/**
 * D1 full, unavailable or timing out while events travel: events answered 202 by the real ProjectDO
 * wait in its outbox, the queue or the dead-letter queue — through an outage longer than every retry
 * — and reach D1 when the fault clears (once: events are keyed by (project_id, id), so a copy sent back
 * is absorbed by the key, not counted); `GET /api/health` names the failing store
 * meanwhile. Faults come from `FaultyD1` over the real binding (d1-faults.ts); delivery, retries and
 * the dead-letter queue are `QueueSimulator`'s (the local queue cannot be made to fail on purpose),
 * driving the Worker's real queue handler.
 */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_MAX_RETRIES } from '../src/pipeline/consumer.ts';
import { consumeBatch, DEAD_LETTER_QUEUE } from '../src/pipeline/index.ts';
import { D1_FULL, D1_TIMEOUT, D1_UNAVAILABLE, type Fault, FaultyD1, WRITES } from './d1-faults.ts';
import { eventsBody, messageBatch, PINNED_NOW, projectStub, storedEvent } from './fixtures.ts';
import { QueueSimulator, seededRandom } from './hardening-queue.ts';
import { createProject, pageview, postEvent, type TestProject } from './helpers.ts';

const NO_LIMITS = { projectRate: 1e6, projectBurst: 1e6, visitorRate: 1e6, visitorBurst: 1e6 };
const NO_RANDOM_FAULTS = { crashBefore: 0, crashAfter: 0, d1Before: 0, d1After: 0 };

/** Each way D1 fails, as a `FaultyD1` fault: full refuses writes only; the others refuse everything. */
const FAULTS: [name: string, fault: Fault, code: string][] = [
  ['full', { message: D1_FULL, when: (sql) => WRITES.test(sql) }, 'store_full'],
  ['unavailable', { message: D1_UNAVAILABLE }, 'store_unavailable'],
  ['timing out', { message: D1_TIMEOUT }, 'store_unavailable'],
];

beforeEach(() => {
  // Pinned: the ProjectDO's alarm never fires on its own; every flush goes through the simulator.
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Send `requests` requests of 1–3 events with client ids; returns the ids answered 202. */
async function accept(project: TestProject, requests: number, label: string): Promise<string[]> {
  const accepted: string[] = [];
  for (let n = 0; n < requests; n++) {
    const body = Array.from({ length: 1 + (n % 3) }, (_, i) =>
      pageview(project.siteKey, { u: `https://example.com/${label}/${n}/${i}`, i: crypto.randomUUID() }),
    );
    const res = await postEvent(body, { headers: { 'cf-connecting-ip': `198.51.100.${n}` } });
    expect(res.status).toBe(202);
    accepted.push(...((await res.json()) as { ids: string[] }).ids);
  }
  return accepted;
}

async function storedIds(projectId: string): Promise<{ total: number; ids: Set<string> }> {
  const { results } = await env.DB.prepare('SELECT id FROM events WHERE project_id = ?')
    .bind(projectId)
    .all<{ id: string }>();
  return { total: results.length, ids: new Set(results.map((row) => row.id)) };
}

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await exports.default.fetch('http://tally.test/api/health');
  return { status: res.status, body: await res.json() };
}

describe('an outage of D1 longer than every queue retry', () => {
  it.each(FAULTS)(
    'D1 %s: every event answered 202 reaches D1 once it clears, and nothing else does',
    async (_name, fault, code) => {
      const random = seededRandom(16);
      const d1 = new FaultyD1();
      const queues = new QueueSimulator(NO_RANDOM_FAULTS, random, d1.db);
      const project = await createProject({ rateLimits: NO_LIMITS });
      const before = await accept(project, 6, 'before');
      // The first messages leave before the fault; more are accepted while it lasts.
      await queues.flush(project.id);
      d1.fault = fault;
      const during = await accept(project, 6, 'during');
      await queues.flush(project.id);
      expect(await projectStub(project.id).pendingEvents()).toBe(0);

      // Far more deliveries than the main queue's 5 retries and the dead-letter queue's 10.
      for (let round = 0; round < 60; round++) await queues.deliverRound();
      expect(d1.refused).toBeGreaterThan(0);
      expect(await storedIds(project.id)).toMatchObject({ total: 0 });
      expect(queues.counts).toMatchObject({ expired: 0 });
      expect(queues.counts.movedToDeadLetter).toBeGreaterThan(0);
      expect(queues.counts.sentBack).toBeGreaterThan(0);
      const failing = await health();
      expect(failing.status).toBe(503);
      expect(failing.body).toMatchObject({
        status: 'degraded',
        stores: { d1: { status: 'failing', code }, queue: { status: 'ok' }, durableObject: { status: 'ok' } },
        checks: { d1: false, queue: true, durableObject: true },
      });

      d1.fault = null;
      await queues.drain();
      const inD1 = await storedIds(project.id);
      const accepted = [...before, ...during];
      expect(accepted.filter((id) => !inD1.ids.has(id))).toEqual([]);
      expect(inD1.total).toBe(accepted.length);
      const { results: quarantined } = await env.DB.prepare('SELECT body FROM quarantine').all<{ body: string }>();
      expect(quarantined.filter((row) => row.body.includes(project.id))).toEqual([]);
      // The consumer's first write after the outage cleared the report.
      expect(await health()).toMatchObject({ status: 200, body: { status: 'ok', stores: { d1: { status: 'ok' } } } });
    },
    60_000,
  );
});

describe('the consumer while D1 fails', () => {
  it('retries the whole batch without trying each message alone, and acknowledges nothing', async () => {
    vi.useRealTimers();
    const project = await createProject();
    const d1 = new FaultyD1();
    d1.fault = { message: D1_UNAVAILABLE };
    const bodies = [1, 2, 3].map(() => eventsBody([storedEvent({ projectId: project.id })]));
    const batch = messageBatch('tally-events', bodies);
    await consumeBatch(batch, { ...env, DB: d1.db });
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(batch.messages.map((m) => m.id).sort());
    // One call was tried — the pool's map read (`DB` is the control database), which tells where each
    // failing alone is tried twice: its batch, then its smallest message; d1-pool.test.ts.)
    expect(d1.refused).toBe(1);
  });

  it('on the dead-letter queue’s last try, sends the message back to the main queue instead of losing it', async () => {
    vi.useRealTimers();
    const project = await createProject();
    const d1 = new FaultyD1();
    d1.fault = { message: D1_FULL, when: (sql) => WRITES.test(sql) };
    const sent: { body: unknown; delaySeconds?: number }[] = [];
    // The real queue binding, with what it is handed recorded on the way.
    const events = new Proxy(env.EVENTS, {
      get: (target, property) =>
        property === 'send'
          ? (body: unknown, options?: QueueSendOptions) => {
              sent.push({ body, delaySeconds: options?.delaySeconds });
              return target.send(body, options);
            }
          : Reflect.get(target, property),
    });
    const body = eventsBody([storedEvent({ projectId: project.id })]);
    const batch = messageBatch(DEAD_LETTER_QUEUE, [body], { attempts: DEAD_LETTER_MAX_RETRIES });
    await consumeBatch(batch, { ...env, DB: d1.db, EVENTS: events });
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual([batch.messages[0]?.id]);
    // The same message, counting its trip (an optional field: older messages read alike).
    expect(sent).toEqual([
      { body: JSON.stringify({ ...JSON.parse(body), sentBack: 1 }), delaySeconds: expect.any(Number) },
    ]);
    const { results } = await env.DB.prepare('SELECT message_id FROM quarantine WHERE message_id = ?')
      .bind(batch.messages[0]?.id)
      .all();
    expect(results).toEqual([]);
  });
});
