/**
 * What travels on the `EVENTS` queue, from the ProjectDO's outbox to the consumer.
 *
 * Messages carry many events each (production allows 5,000 messages/s per queue but 128 KB per
 * message), as JSON text so that the DO can pack stored rows without parsing them again.
 */
import type { PendingEvent, StoredEvent } from '../db/schema.ts';

export type { PendingEvent, StoredEvent };

/** Why the ingest pipeline dropped an event. Counted per project, day and reason. */
export type DropReason = 'bot' | 'spam' | 'invalid_host' | 'rate_limited';

/** Every drop reason, in the order the dashboard lists them. */
export const DROP_REASONS: readonly DropReason[] = ['bot', 'spam', 'invalid_host', 'rate_limited'];

/** A project's running total of drops for one day (in the project's timezone). */
export interface DropTotal {
  day: string;
  reason: DropReason;
  count: number;
}

/**
 * What a message that D1 has not taken yet may carry: how many times the dead-letter consumer sent
 * it back to the main queue (absent: never). Optional, so that messages sent before it existed and
 * after read alike; the consumer quarantines a message sent back `MAX_SEND_BACKS` times.
 */
export interface Resendable {
  sentBack?: number;
}

/** Events to insert. */
export interface EventsMessage extends Resendable {
  v: 1;
  kind: 'events';
  events: StoredEvent[];
}

/** Running drop totals of one project; the consumer keeps the larger of stored and sent. */
export interface DropsMessage extends Resendable {
  v: 1;
  kind: 'drops';
  projectId: string;
  totals: DropTotal[];
}

/** Sent by `GET /api/health` to prove the queue accepts messages; the consumer acknowledges it. */
export interface PingMessage {
  v: 1;
  kind: 'ping';
}

/** Any message on the queue. */
export type QueueMessage = EventsMessage | DropsMessage | PingMessage;

/** The body as sent: JSON text of a `QueueMessage`. */
export type QueueBody = string;

/** NOTE: production caps a message at 128 KB and a `sendBatch` at 100 messages and 256 KB; we stay under. */
export const MAX_MESSAGE_BYTES = 120_000;
export const MAX_BATCH_MESSAGES = 100;
/** The largest event ingest accepts, as stored JSON: leaves room for the DO's fields and the envelope. */
export const MAX_EVENT_BYTES = 100_000;
export const MAX_BATCH_BYTES = 250_000;

const EVENTS_HEAD = '{"v":1,"kind":"events","events":[';
const EVENTS_TAIL = ']}';

/**
 * Pack JSON texts of events (each item one event, or several joined by commas) into as few `events` messages as the size cap allows,
 * preserving order. Each returned message lists the indexes of the items it holds.
 *
 * @example
 * ```ts
 * packEventMessages(['{"id":"a"}', '{"id":"b"}']); // [{ body: '{"v":1,"kind":"events","events":[{"id":"a"},{"id":"b"}]}', last: 1 }]
 * ```
 */
export function packEventMessages(
  items: readonly string[],
  maxBytes: number = MAX_MESSAGE_BYTES,
): { body: QueueBody; last: number }[] {
  const messages: { body: QueueBody; last: number }[] = [];
  let parts: string[] = [];
  let size = EVENTS_HEAD.length + EVENTS_TAIL.length;
  const close = (last: number) => {
    if (parts.length) messages.push({ body: EVENTS_HEAD + parts.join(',') + EVENTS_TAIL, last });
    parts = [];
    size = EVENTS_HEAD.length + EVENTS_TAIL.length;
  };
  items.forEach((item, index) => {
    const bytes = utf8Length(item);
    // A comma separates items; the first item of a message needs none.
    if (parts.length && size + 1 + bytes > maxBytes) close(index - 1);
    size += bytes + (parts.length ? 1 : 0);
    parts.push(item);
  });
  close(items.length - 1);
  return messages;
}

/** Group messages into `sendBatch` calls under the count and byte caps. */
export function groupForSendBatch<T extends { body: QueueBody }>(messages: readonly T[]): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = utf8Length(message.body);
    if (group.length && (group.length >= MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(message);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** Bytes of a string in UTF-8, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
