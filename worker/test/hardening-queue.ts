/**
 * A queue runtime for fault tests: it stands between the ProjectDO's outbox and the Worker's real
 * queue handler, and does what Cloudflare Queues does — batches of up to 100, redelivery of what was
 * retried (or of a whole batch whose invocation threw), a move to the dead-letter queue after
 * `max_retries`, and the dead-letter queue's own consumer — while faults are injected on purpose:
 * refused sends, crashing invocations, and a D1 binding that fails. Only bindings are wrapped; the
 * code under test is the production code, unchanged.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { vi } from 'vitest';
import worker from '../src/index.ts';
import type { ProjectDO } from '../src/live/index.ts';
import { DEAD_LETTER_QUEUE, type QueueBody } from '../src/pipeline/index.ts';
import { projectStub } from './fixtures.ts';

/** The main queue's name and retry budget, as in wrangler.toml. */
export const MAIN_QUEUE = 'tally-events';
const MAIN_MAX_RETRIES = 5;
const DEAD_LETTER_MAX_RETRIES = 10;
/** Batches are small, as when messages trickle in (wrangler.toml allows up to 100): more deliveries, more faults. */
const MAX_BATCH = 4;

/** Errors D1 gives when it is overloaded, restarting or unreachable (all transient). */
export const D1_TRANSIENT_ERRORS = [
  'D1_ERROR: Network connection lost.',
  'D1_ERROR: D1 DB is overloaded. Too many requests queued.',
  'D1_ERROR: D1 DB reset because its code was updated.',
  'D1_ERROR: Internal error in D1 DB storage caused object to be reset.',
];

/** A seeded pseudo-random source (mulberry32), so that a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** What the fault plan did, for the figures. */
export interface FaultCounts {
  sendsRefused: number;
  deliveries: number;
  crashedBeforeWrite: number;
  crashedAfterWrite: number;
  d1FailedBefore: number;
  d1FailedAfter: number;
  movedToDeadLetter: number;
  deadLetterDeliveries: number;
  /** Dead-letter messages past their last retry, which the platform would delete. */
  expired: number;
  /** Messages the consumer sent back to the main queue (a dead-letter message's last try while D1 fails). */
  sentBack: number;
}

/** How often each fault strikes. */
export interface FaultPlan {
  /** Share of invocations that throw before the handler runs. */
  crashBefore: number;
  /** Share of invocations that throw after the handler ran (its acks are lost with it). */
  crashAfter: number;
  /** Share of D1 `batch()` calls that fail without writing. */
  d1Before: number;
  /** Share of D1 `batch()` calls that write, then fail (the answer is lost). */
  d1After: number;
}

interface Pending {
  id: string;
  body: QueueBody;
  attempts: number;
}

/** Simulated main and dead-letter queues, fed by ProjectDO flushes, drained into the real handler. */
export class QueueSimulator {
  readonly counts: FaultCounts = {
    sendsRefused: 0,
    deliveries: 0,
    crashedBeforeWrite: 0,
    crashedAfterWrite: 0,
    d1FailedBefore: 0,
    d1FailedAfter: 0,
    movedToDeadLetter: 0,
    deadLetterDeliveries: 0,
    expired: 0,
    sentBack: 0,
  };
  private main: Pending[] = [];
  private deadLetter: Pending[] = [];
  private nextId = 0;
  /** When true, every D1 `batch()` fails (an outage). */
  outage = false;
  /** The next this many D1 `batch()` calls write, then fail (the answer is lost): forced, not left to the seed. */
  failAfterWrite = 0;

  /**
   * `d1` is the binding the consumer gets (a `FaultyD1`'s, to fail chosen statements); the plan's
   * random faults strike on top of it.
   */
  constructor(
    private readonly plan: FaultPlan,
    private readonly random: () => number,
    private readonly d1: D1Database = env.DB,
  ) {}

  /** Messages waiting on each queue. */
  get waiting(): { main: number; deadLetter: number } {
    return { main: this.main.length, deadLetter: this.deadLetter.length };
  }

  /**
   * Run a ProjectDO's alarm with this simulator as its `EVENTS` binding, until its outbox is empty.
   * The first `refuse` sends fail, as a queue that is down would answer. Moves the (mocked) clock a
   * minute after each run, past the backoff of a refused send.
   */
  async flush(projectId: string, refuse = 0): Promise<void> {
    let refusals = refuse;
    const accept = (bodies: QueueBody[]) => {
      if (refusals > 0) {
        refusals--;
        this.counts.sendsRefused++;
        throw new Error('Queue send failed: service unavailable');
      }
      for (const body of bodies) this.main.push({ id: `sim-${++this.nextId}`, body, attempts: 1 });
    };
    const queue = {
      send: async (body: QueueBody) => accept([body]),
      sendBatch: async (messages: Iterable<{ body: QueueBody }>) => accept([...messages].map((m) => m.body)),
    };
    // A fresh stub: one made before the object was aborted would stay broken.
    await runInDurableObject(projectStub(projectId), async (instance: ProjectDO) => {
      const target = instance as unknown as { env: Env };
      const original = target.env;
      target.env = { ...original, EVENTS: queue as unknown as Env['EVENTS'] };
      try {
        for (let round = 0; round < 50 && (round === 0 || (await instance.pendingEvents()) > 0); round++) {
          await instance.alarm();
          // Past any backoff the refused send started (the clock is mocked: nothing else fires).
          vi.setSystemTime(Date.now() + 61_000);
        }
      } finally {
        target.env = original;
      }
    });
  }

  /** Deliver one batch from each non-empty queue (or the main one only); returns whether anything was delivered. */
  async deliverRound(queues: { deadLetter: boolean } = { deadLetter: true }): Promise<boolean> {
    const size = () => 1 + Math.floor(this.random() * MAX_BATCH);
    const fromMain = this.main.splice(0, size());
    const fromDeadLetter = queues.deadLetter ? this.deadLetter.splice(0, size()) : [];
    if (fromMain.length) await this.deliver(MAIN_QUEUE, fromMain);
    if (fromDeadLetter.length) await this.deliver(DEAD_LETTER_QUEUE, fromDeadLetter);
    return fromMain.length + fromDeadLetter.length > 0;
  }

  /** Deliver until both queues are empty (bounded, so that a bug cannot loop for ever). */
  async drain(maxRounds = 2_000): Promise<void> {
    for (let round = 0; round < maxRounds; round++) if (!(await this.deliverRound())) return;
    throw new Error(`queues still hold ${JSON.stringify(this.waiting)} after ${maxRounds} rounds`);
  }

  private async deliver(queue: string, messages: Pending[]): Promise<void> {
    const isDeadLetter = queue === DEAD_LETTER_QUEUE;
    this.counts.deliveries++;
    if (isDeadLetter) this.counts.deadLetterDeliveries++;
    const batch = createMessageBatch<QueueBody>(
      queue,
      messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts, body: m.body })),
    );
    const ctx = createExecutionContext();
    const roll = this.random();
    let retried: Pending[];
    try {
      if (roll < this.plan.crashBefore) {
        this.counts.crashedBeforeWrite++;
        throw new Error('consumer crashed before the write');
      }
      await worker.queue(batch, { ...env, DB: this.faultyD1(), EVENTS: this.producer() });
      if (roll < this.plan.crashBefore + this.plan.crashAfter) {
        this.counts.crashedAfterWrite++;
        throw new Error('consumer crashed after the write');
      }
      const result = await getQueueResult(batch, ctx);
      // A handler that returns acknowledges every message it did not retry.
      const again = new Set(result.retryMessages.map((r) => r.msgId));
      retried = messages.filter((m) => again.has(m.id));
    } catch {
      // An invocation that throws loses its acknowledgements: the whole batch comes again.
      retried = messages;
    }
    const maxRetries = isDeadLetter ? DEAD_LETTER_MAX_RETRIES : MAIN_MAX_RETRIES;
    for (const message of retried) {
      if (message.attempts <= maxRetries) this.requeue(queue, { ...message, attempts: message.attempts + 1 });
      else if (!isDeadLetter) {
        this.counts.movedToDeadLetter++;
        this.deadLetter.push({ ...message, attempts: 1 });
      } else this.counts.expired++;
    }
  }

  /** The consumer's `EVENTS` binding: what it sends lands on the simulated main queue. */
  private producer(): Env['EVENTS'] {
    const send = async (body: QueueBody) => {
      this.counts.sentBack++;
      this.main.push({ id: `sim-${++this.nextId}`, body, attempts: 1 });
    };
    return { send } as unknown as Env['EVENTS'];
  }

  private requeue(queue: string, message: Pending): void {
    (queue === DEAD_LETTER_QUEUE ? this.deadLetter : this.main).push(message);
  }

  /** `env.DB`, whose `batch()` fails as the plan says (and always during an outage). */
  private faultyD1(): D1Database {
    const pick = () => D1_TRANSIENT_ERRORS[Math.floor(this.random() * D1_TRANSIENT_ERRORS.length)] as string;
    return new Proxy(this.d1, {
      get: (target, property) => {
        if (property === 'batch') {
          return async (statements: D1PreparedStatement[]) => {
            const roll = this.random();
            if (this.outage || roll < this.plan.d1Before) {
              this.counts.d1FailedBefore++;
              throw new Error(pick());
            }
            const result = await target.batch(statements);
            if (this.failAfterWrite > 0 || roll < this.plan.d1Before + this.plan.d1After) {
              this.failAfterWrite = Math.max(0, this.failAfterWrite - 1);
              this.counts.d1FailedAfter++;
              throw new Error(pick());
            }
            return result;
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}
