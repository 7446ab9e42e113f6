/**
 * The queue consumer against real D1: idempotent inserts, quarantine, retries with backoff, the
 * dead-letter replay and drop totals. The only stand-in is a D1 binding whose `batch()` fails on
 * purpose — fault injection of a Cloudflare binding, which the local runtime cannot produce.
 */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import worker from '../src/index.ts';
import { DEAD_LETTER_MAX_RETRIES } from '../src/pipeline/consumer.ts';
import { consumeBatch, DEAD_LETTER_QUEUE, type StoredEvent } from '../src/pipeline/index.ts';
import { eventsBody, insertProject, messageBatch, storedEvent } from './fixtures.ts';

const MAIN_QUEUE = 'tally-events';
const TRANSIENT = 'D1_ERROR: Network connection lost';

/** `env.DB`, except that `batch()` throws `message` the first `failures` times. */
function failingD1(failures: number, message = TRANSIENT): D1Database {
  let left = failures;
  return new Proxy(env.DB, {
    get(target, property) {
      if (property === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          if (left-- > 0) throw new Error(message);
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

type Outcome = { id: string; outcome: 'acked' | 'retried' | 'none'; delaySeconds?: number };

/** Deliver bodies as one batch to `consumeBatch` and report what happened to each message. */
async function deliver(
  queue: string,
  bodies: unknown[],
  options: { attempts?: number; ids?: string[]; db?: D1Database } = {},
): Promise<Outcome[]> {
  const batch = messageBatch(queue, bodies, options);
  const retries = batch.messages.map((message) => vi.spyOn(message, 'retry'));
  await consumeBatch(batch, { ...env, DB: options.db ?? env.DB });
  const result = await getQueueResult(batch, createExecutionContext());
  return batch.messages.map((message, i) => {
    const retried = result.retryMessages.some((r) => r.msgId === message.id);
    const acked = result.ackAll || result.explicitAcks.includes(message.id);
    const delaySeconds = retries[i]?.mock.calls[0]?.[0]?.delaySeconds;
    return {
      id: message.id,
      outcome: retried ? 'retried' : acked ? 'acked' : 'none',
      ...(retried ? { delaySeconds } : {}),
    };
  });
}

async function rowsOf(projectId: string) {
  const { results } = await env.DB.prepare('SELECT id FROM events WHERE project_id = ? ORDER BY id')
    .bind(projectId)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

async function quarantined(messageIds: string[]) {
  const { results } = await env.DB.prepare('SELECT queue, message_id, body, error FROM quarantine ORDER BY id').all<
    Record<string, string>
  >();
  return results.filter((row) => messageIds.includes(row.message_id as string));
}

const eventsOf = (projectId: string, n: number): StoredEvent[] =>
  Array.from({ length: n }, () => storedEvent({ projectId }));
const ids = (events: StoredEvent[]) => events.map((event) => event.id).sort();

// The consumer writes events and drop totals only for projects that exist.
beforeAll(async () => {
  for (const id of [
    'dup',
    'entry',
    'malformed',
    'poison',
    'refused',
    'transient',
    'permanent',
    'dlq',
    'dlq-last',
    'main-late',
    'drops',
  ]) {
    await insertProject(id, `site-${id}`, 'example.com');
  }
});

describe('events messages', () => {
  it('drop the events of a project deleted while they were on the queue', async () => {
    const orphans = eventsOf('deleted-project', 2);
    expect(await deliver(MAIN_QUEUE, [eventsBody(orphans)])).toMatchObject([{ outcome: 'acked' }]);
    expect(await rowsOf('deleted-project')).toEqual([]);
  });

  it('write each event once, however often and in however many messages it arrives', async () => {
    const [a, b, c] = eventsOf('dup', 3) as [StoredEvent, StoredEvent, StoredEvent];
    const first = eventsBody([a, b]);
    expect(await deliver(MAIN_QUEUE, [first])).toMatchObject([{ outcome: 'acked' }]);
    expect(await deliver(MAIN_QUEUE, [first])).toMatchObject([{ outcome: 'acked' }]);
    const outcomes = await deliver(MAIN_QUEUE, [eventsBody([b, c]), eventsBody([c]), eventsBody([a, c])]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['acked', 'acked', 'acked']);
    expect(await rowsOf('dup')).toEqual(ids([a, b, c]));
  });

  it('go through the Worker’s queue handler', async () => {
    const events = eventsOf('entry', 2);
    const batch = messageBatch(MAIN_QUEUE, [eventsBody(events), JSON.stringify({ v: 1, kind: 'ping' })]);
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(batch.messages.map((m) => m.id).sort());
    expect(await rowsOf('entry')).toEqual(ids(events));
  });
});

describe('malformed messages', () => {
  it('are quarantined with their body and reason, and acknowledged', async () => {
    const good = eventsOf('malformed', 1);
    const bodies = [
      '{"v":1,"kind":"events","events":[',
      JSON.stringify({ v: 2, kind: 'events', events: good }),
      JSON.stringify({ v: 1, kind: 'rollup' }),
      JSON.stringify({ v: 1, kind: 'events', events: [{ ...good[0], ts: 'yesterday' }] }),
      JSON.stringify({ v: 1, kind: 'drops', totals: [] }),
    ];
    const outcomes = await deliver(MAIN_QUEUE, bodies);
    expect(outcomes.map((o) => o.outcome)).toEqual(bodies.map(() => 'acked'));
    const rows = await quarantined(outcomes.map((o) => o.id));
    expect(rows.map((row) => row.body)).toEqual(bodies);
    for (const row of rows) expect(row).toMatchObject({ queue: MAIN_QUEUE, error: expect.stringMatching(/\S/) });
    expect(await rowsOf('malformed')).toEqual([]);
  });

  it('do not hold back the good messages of their batch', async () => {
    const [before, after] = [eventsOf('poison', 2), eventsOf('poison', 1)];
    const outcomes = await deliver(MAIN_QUEUE, [eventsBody(before), 'not json', eventsBody(after)]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['acked', 'acked', 'acked']);
    expect(await quarantined(outcomes.map((o) => o.id))).toMatchObject([
      { message_id: outcomes[1]?.id, body: 'not json' },
    ]);
    expect(await rowsOf('poison')).toEqual(ids([...before, ...after]));
  });

  it('are quarantined, not silently skipped, when the events table refuses an event', async () => {
    const good = eventsOf('refused', 1);
    const refused = { ...storedEvent({ projectId: 'refused' }), name: null } as unknown as StoredEvent;
    const outcomes = await deliver(MAIN_QUEUE, [eventsBody(good), eventsBody([refused])]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['acked', 'acked']);
    expect(await rowsOf('refused')).toEqual(ids(good));
    const rows = await quarantined(outcomes.map((o) => o.id));
    expect(rows.map((row) => row.message_id)).toEqual([outcomes[1]?.id]);
  });
});

describe('D1 failures', () => {
  it('retry a message with a delay on a transient error, and write it on redelivery', async () => {
    const events = eventsOf('transient', 2);
    const body = eventsBody(events);
    const [first] = await deliver(MAIN_QUEUE, [body], { db: failingD1(2) });
    expect(first).toMatchObject({ outcome: 'retried', delaySeconds: expect.any(Number) });
    expect(first?.delaySeconds).toBeGreaterThan(0);
    expect(await rowsOf('transient')).toEqual([]);
    expect(await quarantined([first?.id as string])).toEqual([]);

    const [second] = await deliver(MAIN_QUEUE, [body], { ids: [first?.id as string], attempts: 2, db: failingD1(0) });
    expect(second?.outcome).toBe('acked');
    expect(await rowsOf('transient')).toEqual(ids(events));
  });

  it('quarantine a message that D1 refuses for good, and acknowledge it', async () => {
    const body = eventsBody(eventsOf('permanent', 1));
    const db = failingD1(
      Number.POSITIVE_INFINITY,
      'D1_ERROR: SQLITE_CONSTRAINT: NOT NULL constraint failed: events.name',
    );
    const [outcome] = await deliver(MAIN_QUEUE, [body], { db });
    expect(outcome?.outcome).toBe('acked');
    expect(await quarantined([outcome?.id as string])).toMatchObject([
      { queue: MAIN_QUEUE, body, error: expect.stringContaining('NOT NULL') },
    ]);
    expect(await rowsOf('permanent')).toEqual([]);
  });
});

describe('dead-letter queue', () => {
  it('replays its messages into D1', async () => {
    const events = eventsOf('dlq', 3);
    expect(await deliver(DEAD_LETTER_QUEUE, [eventsBody(events)])).toMatchObject([{ outcome: 'acked' }]);
    expect(await rowsOf('dlq')).toEqual(ids(events));
  });

  it('retries before the last attempt, and quarantines on it rather than lose the message', async () => {
    // An error that is neither the message's fault for sure nor D1 failing (full or unavailable:
    // those send the message back to the queue instead, store-faults.test.ts).
    const unexplained = 'D1_ERROR: no such table: events: SQLITE_ERROR';
    const body = eventsBody(eventsOf('dlq-last', 1));
    const early = await deliver(DEAD_LETTER_QUEUE, [body], {
      attempts: DEAD_LETTER_MAX_RETRIES - 1,
      db: failingD1(Number.POSITIVE_INFINITY, unexplained),
    });
    expect(early).toMatchObject([{ outcome: 'retried' }]);
    expect(await quarantined([early[0]?.id as string])).toEqual([]);

    const [last] = await deliver(DEAD_LETTER_QUEUE, [body], {
      attempts: DEAD_LETTER_MAX_RETRIES,
      db: failingD1(Number.POSITIVE_INFINITY, unexplained),
    });
    expect(last?.outcome).toBe('acked');
    expect(await quarantined([last?.id as string])).toMatchObject([
      { queue: DEAD_LETTER_QUEUE, body, error: expect.stringContaining('no such table') },
    ]);
  });

  it('does not quarantine on the main queue, whose exhausted messages go to the dead-letter queue', async () => {
    const db = failingD1(Number.POSITIVE_INFINITY);
    const outcomes = await deliver(MAIN_QUEUE, [eventsBody(eventsOf('main-late', 1))], {
      attempts: DEAD_LETTER_MAX_RETRIES + 5,
      db,
    });
    expect(outcomes).toMatchObject([{ outcome: 'retried' }]);
    expect(await quarantined(outcomes.map((o) => o.id))).toEqual([]);
  });
});

describe('drops and pings', () => {
  const drops = (count: number, reason = 'bot') =>
    JSON.stringify({ v: 1, kind: 'drops', projectId: 'drops', totals: [{ day: '2031-05-14', reason, count }] });
  const totals = async () =>
    (await env.DB.prepare("SELECT reason, count FROM drop_counts WHERE project_id = 'drops' ORDER BY reason").all())
      .results;

  it('keep the largest running total, whatever order totals arrive in', async () => {
    await deliver(MAIN_QUEUE, [drops(5)]);
    expect(await totals()).toEqual([{ reason: 'bot', count: 5 }]);
    await deliver(MAIN_QUEUE, [drops(3)]);
    expect(await totals()).toEqual([{ reason: 'bot', count: 5 }]);
    await deliver(MAIN_QUEUE, [drops(7), drops(6), drops(2, 'spam')]);
    expect(await totals()).toEqual([
      { reason: 'bot', count: 7 },
      { reason: 'spam', count: 2 },
    ]);
  });

  it('acknowledge pings and write nothing', async () => {
    const count = async () => {
      const tables = ['events', 'quarantine', 'drop_counts'];
      return Promise.all(
        tables.map(
          async (table) => (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())?.n,
        ),
      );
    };
    const before = await count();
    expect(await deliver(MAIN_QUEUE, [JSON.stringify({ v: 1, kind: 'ping' }), { v: 1, kind: 'ping' }])).toMatchObject([
      { outcome: 'acked' },
      { outcome: 'acked' },
    ]);
    expect(await count()).toEqual(before);
  });
});
