/**
 * Review repros (failing) for wip/store-faults: the consumer's store-fault handling.
 *
 * 1. The D1 binding throws a transport failure unwrapped: workerd's d1-api `_send` awaits
 *    `this._wrappedFetch(...)` outside its try/catch, so when the fetch to D1 itself fails the error
 *    is e.g. `Network connection lost.` with no `D1_ERROR:` prefix. `storeFault` requires a `D1_`
 *    message in the chain, so such an outage is not "the store": the dead-letter queue's last try
 *    retries, and the platform deletes the message — the loss the branch says it fixes.
 * 2. A message whose write always fails with an error classified `store_unavailable` (a statement
 *    heavy enough to hit D1's storage timeout) while D1 serves everything else is never quarantined:
 *    it cycles main queue → DLQ → sent back → main queue for ever.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { D1_TIMEOUT, d1Error } from './d1-faults.ts';
import { PINNED_NOW } from './fixtures.ts';
import { QueueSimulator, seededRandom } from './hardening-queue.ts';
import { createProject, pageview, postEvent, type TestProject } from './helpers.ts';

const NO_LIMITS = { projectRate: 1e6, projectBurst: 1e6, visitorRate: 1e6, visitorBurst: 1e6 };
const NO_RANDOM_FAULTS = { crashBefore: 0, crashAfter: 0, d1Before: 0, d1After: 0 };

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * The real D1 binding, whose `batch()` and statement runs throw `fail(params)`'s error when it
 * returns one. `params` are the JSON of every statement's bound values (a batch: all of them).
 */
function failingD1(fail: (params: string[]) => Error | null): D1Database {
  const paramsOf = new WeakMap<object, string>();
  const wrap = (statement: D1PreparedStatement, params: string): D1PreparedStatement =>
    new Proxy(statement, {
      get: (base, property) => {
        if (property === 'bind')
          return (...values: unknown[]) => {
            const bound = base.bind(...values);
            const json = JSON.stringify(values);
            const wrapped = wrap(bound, json);
            paramsOf.set(wrapped, json);
            realOf.set(wrapped, bound);
            return wrapped;
          };
        if (property === 'run' || property === 'all' || property === 'first' || property === 'raw') {
          const method = Reflect.get(base, property) as (...args: unknown[]) => Promise<unknown>;
          return async (...args: unknown[]) => {
            const error = fail([params]);
            if (error) throw error;
            return method.apply(base, args);
          };
        }
        const value = Reflect.get(base, property);
        return typeof value === 'function' ? value.bind(base) : value;
      },
    });
  const realOf = new WeakMap<object, D1PreparedStatement>();
  return new Proxy(env.DB, {
    get: (base, property) => {
      if (property === 'prepare') return (sql: string) => wrap(base.prepare(sql), '');
      if (property === 'batch')
        return async (statements: D1PreparedStatement[]) => {
          const error = fail(statements.map((s) => paramsOf.get(s) ?? ''));
          if (error) throw error;
          return base.batch(statements.map((s) => realOf.get(s) ?? s));
        };
      const value = Reflect.get(base, property);
      return typeof value === 'function' ? value.bind(base) : value;
    },
  });
}

async function accept(project: TestProject, requests: number, label: string): Promise<string[]> {
  const accepted: string[] = [];
  for (let n = 0; n < requests; n++) {
    const body = [pageview(project.siteKey, { u: `https://example.com/${label}/${n}`, i: crypto.randomUUID() })];
    const res = await postEvent(body, { headers: { 'cf-connecting-ip': `198.51.100.${n}` } });
    expect(res.status).toBe(202);
    accepted.push(...((await res.json()) as { ids: string[] }).ids);
  }
  return accepted;
}

async function storedIds(projectId: string): Promise<Set<string>> {
  const { results } = await env.DB.prepare('SELECT id FROM events WHERE project_id = ?')
    .bind(projectId)
    .all<{ id: string }>();
  return new Set(results.map((row) => row.id));
}

describe('review: D1 unreachable, as the binding reports a failed fetch (no D1_ERROR prefix)', () => {
  it('loses no accepted event through an outage longer than every retry', async () => {
    let down = false;
    const d1 = failingD1(() => (down ? new Error('Network connection lost.') : null));
    const queues = new QueueSimulator(NO_RANDOM_FAULTS, seededRandom(21), d1);
    const project = await createProject({ rateLimits: NO_LIMITS });
    down = true;
    const accepted = await accept(project, 6, 'raw');
    await queues.flush(project.id);
    for (let round = 0; round < 60; round++) await queues.deliverRound();
    down = false;
    await queues.drain();
    // Fails on the branch: every message expires from the dead-letter queue (retried on its last try).
    expect(queues.counts.expired).toBe(0);
    const stored = await storedIds(project.id);
    expect(accepted.filter((id) => !stored.has(id))).toEqual([]);
  }, 60_000);
});

describe('review: one message D1 always times out on, while D1 serves everything else', () => {
  it('is eventually quarantined (or written), not sent round the queues for ever', async () => {
    const queues = new QueueSimulator(
      NO_RANDOM_FAULTS,
      seededRandom(22),
      failingD1((params) => (params.some((p) => p.includes('/poison/')) ? d1Error(D1_TIMEOUT) : null)),
    );
    const project = await createProject({ rateLimits: NO_LIMITS });
    const good = await accept(project, 4, 'good');
    await accept(project, 1, 'poison');
    await queues.flush(project.id);
    // Far more rounds than main (6 deliveries) + DLQ (11 deliveries) needs; fails on the branch:
    // "queues still hold {main:1} …" — the poison message is sent back every time, never quarantined.
    await queues.drain(400);
    const stored = await storedIds(project.id);
    expect(good.filter((id) => !stored.has(id))).toEqual([]);
  }, 60_000);
});
