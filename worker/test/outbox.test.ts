/**
 * The ProjectDO's outbox: what its alarm sends reaches D1 through the real queue and consumer,
 * and the packing of stored rows into messages and `sendBatch` calls respects the queue's limits.
 */
import { LIMITS } from '@tally/sdk/protocol';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { getTableColumns } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { events as eventsTable } from '../src/db/schema.ts';
import {
  groupForSendBatch,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  MAX_MESSAGE_BYTES,
  packEventMessages,
  type PendingEvent,
  type StoredEvent,
} from '../src/pipeline/index.ts';
import {
  admitRequest,
  freshProject,
  insertProject,
  MINUTE,
  outboxEvents,
  PINNED_NOW,
  pendingEvent,
  projectStub,
  randomFingerprint,
  waitForEvents,
} from './fixtures.ts';

const bytes = (text: string) => new TextEncoder().encode(text).length;
const columns = Object.entries(getTableColumns(eventsTable)).map(([key, column]) => ({
  key: key as keyof StoredEvent,
  name: column.name,
}));

/** The D1 row an event should become: every column, booleans as SQLite integers. */
function rowOf(event: StoredEvent): Record<string, unknown> {
  return Object.fromEntries(
    columns.map(({ key, name }) => [name, typeof event[key] === 'boolean' ? Number(event[key]) : event[key]]),
  );
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('outbox flush', () => {
  it('sends admitted events and drop totals to D1 when the alarm runs', async () => {
    const { id: projectId, stub } = await freshProject('outbox');
    const [alice, bob] = [randomFingerprint(), randomFingerprint()];
    const at = (minutes: number) => PINNED_NOW - 10 * MINUTE + minutes * MINUTE;
    const admitted = await stub.admit(
      admitRequest(
        projectId,
        PINNED_NOW,
        [
          [alice, pendingEvent({ ts: at(0), path: '/' })],
          [
            bob,
            pendingEvent({
              ts: at(1),
              path: '/docs',
              props: '{"plan":"pro"}',
              revenueAmount: 9.5,
              revenueCurrency: 'EUR',
            }),
          ],
          [alice, pendingEvent({ ts: at(2), path: '/pricing', name: 'signup' })],
        ],
        { drops: { bot: 2, spam: 1 } },
      ),
    );
    expect(admitted.ok).toBe(true);
    const outbox = await outboxEvents(stub);
    expect(await stub.pendingEvents()).toBe(3);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingEvents()).toBe(0);

    const rows = await waitForEvents(projectId, 3);
    // D1 answers in event time; the log keeps a request's events grouped by visitor.
    expect(rows).toEqual(outbox.toSorted((a, b) => a.ts - b.ts || a.seq - b.seq).map(rowOf));
    expect(rows.map((row) => [row.seq, row.is_entry])).toEqual([
      [1, 1],
      [1, 1],
      [2, 0],
    ]);
    expect(rows[2]?.visitor_id).toBe(rows[0]?.visitor_id);
    expect(rows[2]?.session_id).toBe(rows[0]?.session_id);
    expect(rows[1]?.visitor_id).not.toBe(rows[0]?.visitor_id);
    await vi.waitFor(
      async () => {
        const { results } = await env.DB.prepare(
          'SELECT reason, count FROM drop_counts WHERE project_id = ? ORDER BY reason',
        )
          .bind(projectId)
          .all();
        expect(results).toEqual([
          { reason: 'bot', count: 2 },
          { reason: 'spam', count: 1 },
        ]);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('splits a stored request larger than a message, and every event arrives', async () => {
    const { id: projectId, stub } = await freshProject('outbox');
    const fingerprint = randomFingerprint();
    const props = (i: number) => JSON.stringify({ index: i, note: `€${'x'.repeat(1_500)}`, quote: '"'.repeat(1_000) });
    const events = Array.from(
      { length: 50 },
      (_, i) => [fingerprint, pendingEvent({ ts: PINNED_NOW + i, props: props(i) })] as [string, PendingEvent],
    );
    expect((await stub.admit(admitRequest(projectId, PINNED_NOW, events))).ok).toBe(true);
    const outbox = await outboxEvents(stub);
    expect(bytes(outbox.map((event) => JSON.stringify(event)).join(','))).toBeGreaterThan(MAX_MESSAGE_BYTES);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingEvents()).toBe(0);
    const rows = await waitForEvents(projectId, 50);
    expect(rows).toEqual(outbox.map(rowOf));
  });

  it('refuses an event too large to ever leave the outbox, and delivers the largest that fits', async () => {
    const project = { id: 'outbox-large', siteKey: 'outbox-large-key' };
    await insertProject(project.id, project.siteKey, 'example.com');
    // Backslashes double on each JSON encoding: the wire, the stored `props` text, the queue message.
    // N backslashes are 2N bytes on the wire and 4N bytes once stored.
    const bodyWith = (backslashes: number) => {
      const props: Record<string, string> = {};
      for (let i = 0; backslashes > 0; i++, backslashes -= LIMITS.propValueChars) {
        props[`k${i}`] = '\\'.repeat(Math.min(LIMITS.propValueChars, backslashes));
      }
      return JSON.stringify({ s: project.siteKey, n: 'pageview', u: 'https://example.com/', p: props });
    };
    const send = (payload: string) =>
      exports.default.fetch('http://tally.test/api/event', {
        method: 'POST',
        headers: {
          'content-type': 'text/plain',
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
          'cf-connecting-ip': '198.51.100.20',
        },
        body: payload,
      });

    const tooLarge = bodyWith(30_000);
    expect(bytes(tooLarge)).toBeLessThanOrEqual(LIMITS.bodyBytes);
    const refused = await send(tooLarge);
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ error: { code: 'payload_too_large' } });

    const largest = bodyWith(24_000);
    expect((await send(largest)).status).toBe(202);
    expect(
      (await send(JSON.stringify({ s: project.siteKey, n: 'pageview', u: 'https://example.com/next' }))).status,
    ).toBe(202);

    const stub = projectStub(project.id);
    await runDurableObjectAlarm(stub);
    expect(await stub.pendingEvents()).toBe(0);
    const rows = await waitForEvents(project.id, 2);
    expect(rows.map((row) => row.path).sort()).toEqual(['/', '/next']);
  });
});

describe('packing into messages and sendBatch calls', () => {
  const CHARS = ['a', 'é', '€', '😀', '"', '\\', '\u2028'];
  /** JSON texts of events, each small enough to fit one message of `maxBytes` on its own. */
  const itemsFor = (maxBytes: number) =>
    fc
      .array(
        fc.record({ char: fc.constantFrom(...CHARS), length: fc.nat({ max: 40_000 }), joined: fc.nat({ max: 3 }) }),
        { maxLength: 120 },
      )
      .map((specs) =>
        specs.map(({ char, length, joined }, index) => {
          // Shorten the padding so that the item fits one message alone (packing's precondition).
          const width = bytes(JSON.stringify(char)) - 2;
          const fit = Math.max(0, Math.floor(((maxBytes - 40) / (joined + 1) - 32) / width));
          const event = (n: number) => JSON.stringify({ id: `${index}.${n}`, pad: char.repeat(Math.min(length, fit)) });
          // A stored row holds several events joined by commas.
          return Array.from({ length: joined + 1 }, (_, n) => event(n)).join(',');
        }),
      );

  it('keeps every message under its cap, in order, with nothing lost or merged away (property)', () => {
    const maxBytes = fc.oneof(fc.constant(MAX_MESSAGE_BYTES), fc.integer({ min: 200, max: MAX_MESSAGE_BYTES }));
    fc.assert(
      fc.property(
        maxBytes.chain((max) => fc.tuple(fc.constant(max), itemsFor(max))),
        ([max, items]) => {
          const messages = packEventMessages(items, max);
          const expected = items.flatMap((item) => JSON.parse(`[${item}]`));
          const carried = messages.flatMap((message) => {
            expect(bytes(message.body)).toBeLessThanOrEqual(max);
            const parsed = JSON.parse(message.body);
            expect(parsed).toMatchObject({ v: 1, kind: 'events' });
            return parsed.events;
          });
          expect(carried).toEqual(expected);
          // `last` marks where each message ends; a message never holds what the next one could not.
          let first = 0;
          messages.forEach((message, k) => {
            const held = items.slice(first, message.last + 1);
            expect(held.length).toBeGreaterThan(0);
            expect(JSON.parse(message.body).events).toEqual(held.flatMap((item) => JSON.parse(`[${item}]`)));
            const next = items[message.last + 1];
            if (k < messages.length - 1 && next !== undefined)
              expect(bytes(message.body) + 1 + bytes(next)).toBeGreaterThan(max);
            first = message.last + 1;
          });
          expect(first).toBe(items.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('groups messages into sendBatch calls of at most 100 messages and the byte cap, in order (property)', () => {
    const sizes = fc.array(fc.oneof(fc.nat({ max: 2_000 }), fc.integer({ min: 1, max: MAX_MESSAGE_BYTES })), {
      maxLength: 400,
    });
    fc.assert(
      fc.property(sizes, (lengths) => {
        const messages = lengths.map((length, i) => ({ body: 'é'.repeat(Math.floor(length / 2)), i }));
        const groups = groupForSendBatch(messages);
        expect(groups.flat()).toEqual(messages);
        groups.forEach((group, k) => {
          const total = group.reduce((n, message) => n + bytes(message.body), 0);
          expect(group.length).toBeGreaterThan(0);
          expect(group.length).toBeLessThanOrEqual(MAX_BATCH_MESSAGES);
          expect(total).toBeLessThanOrEqual(MAX_BATCH_BYTES);
          const next = groups[k + 1]?.[0];
          if (next)
            expect(group.length === MAX_BATCH_MESSAGES || total + bytes(next.body) > MAX_BATCH_BYTES).toBe(true);
        });
      }),
      { numRuns: 100 },
    );
  });
});
