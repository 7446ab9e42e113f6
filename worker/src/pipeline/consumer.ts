import { quarantine } from '../db/schema.ts';
import { getDb } from '../db/index.ts';
import type { QueueBody, QueueMessage, StoredEvent } from './messages.ts';
import { eventProblem, insertEventStatements, poolDatabase, projectDatabases } from '../store/index.ts';
import { upsertDropsStatement } from './write.ts';

/** The dead-letter queue's name (wrangler.toml); its consumer replays instead of retrying forever. */
export const DEAD_LETTER_QUEUE = 'tally-events-dlq';
/**
 * NOTE: keep equal to the DLQ consumer's `max_retries` in wrangler.toml. Deliveries number
 * 1 … max_retries + 1; quarantining from attempt `max_retries` on leaves one spare delivery, so an
 * off-by-one in the platform's counting can never let a message expire unquarantined.
 */
export const DEAD_LETTER_MAX_RETRIES = 10;
/** Retry delays grow from 2 s to 5 minutes. */
const BACKOFF_BASE_S = 2;
const BACKOFF_MAX_S = 300;

/**
 * A move's fence (migration 0010's triggers): the project left this database after the map was
 * read. SQLite reports RAISE(ABORT) as a constraint error, but the next try goes to the new one.
 */
const MOVING = /tally: project moving/;
/** D1 errors that no retry can fix: the message itself is at fault. */
const PERMANENT =
  /SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)|malformed JSON|datatype mismatch|constraint failed|too big/i;

/** A parsed message (without the events that cannot be stored, listed apart), or why it is none. */
type Parsed =
  | { ok: true; message: QueueMessage; rejected?: { events: unknown[]; error: string } }
  | { ok: false; error: string };

/**
 * Parse and shape-check a message body. The DO writes these, but a queue is a boundary: anything
 * malformed is quarantined rather than retried for ever.
 */
export function parseMessage(body: unknown): Parsed {
  let value: unknown;
  try {
    value = typeof body === 'string' ? JSON.parse(body) : body;
  } catch {
    return { ok: false, error: 'body is not JSON' };
  }
  const message = value as Partial<QueueMessage> | null;
  if (!message || typeof message !== 'object' || message.v !== 1)
    return { ok: false, error: 'unknown message version' };
  if (message.kind === 'ping') return { ok: true, message: message as QueueMessage };
  if (message.kind === 'events') {
    const events = (message as { events?: unknown }).events;
    if (!Array.isArray(events)) return { ok: false, error: 'events are missing' };
    const valid: StoredEvent[] = [];
    const invalid: unknown[] = [];
    let error = '';
    for (const event of events) {
      const problem = eventProblem(event);
      if (problem) {
        invalid.push(event);
        error ||= problem;
      } else valid.push(event as StoredEvent);
    }
    const kept: QueueMessage = { v: 1, kind: 'events', events: valid };
    return invalid.length
      ? { ok: true, message: kept, rejected: { events: invalid, error } }
      : { ok: true, message: kept };
  }
  if (message.kind === 'drops') {
    const drops = message as { projectId?: unknown; totals?: unknown };
    const valid = typeof drops.projectId === 'string' && Array.isArray(drops.totals);
    return valid ? { ok: true, message: message as QueueMessage } : { ok: false, error: 'drop totals are malformed' };
  }
  return { ok: false, error: 'unknown message kind' };
}

/** The project ids a message writes to. */
function projectsOf(message: QueueMessage): string[] {
  if (message.kind === 'events') return message.events.map((event) => event.projectId);
  if (message.kind === 'drops') return [message.projectId];
  return [];
}

/**
 * A message's statements per pool database (binding name), by its projects' databases. Events and
 * drop totals of projects that no longer exist are left out: a deleted project takes no writes.
 */
function statementsFor(env: Env, map: ReadonlyMap<string, string>, message: QueueMessage) {
  const parts = new Map<string, D1PreparedStatement[]>();
  if (message.kind === 'events') {
    const byDatabase = new Map<string, StoredEvent[]>();
    for (const event of message.events) {
      const database = map.get(event.projectId);
      if (database) byDatabase.set(database, [...(byDatabase.get(database) ?? []), event]);
    }
    for (const [database, events] of byDatabase)
      parts.set(database, insertEventStatements(poolDatabase(env, database), events));
  } else if (message.kind === 'drops') {
    const database = map.get(message.projectId);
    if (database) parts.set(database, [upsertDropsStatement(poolDatabase(env, database), message)]);
  }
  return parts;
}

/** Seconds to wait before the next attempt of a message that failed `attempts` times. */
export function backoffSeconds(attempts: number): number {
  const exponential = Math.min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** Math.max(0, attempts - 1));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

async function quarantineBody(
  d1: D1Database,
  queue: string,
  messageId: string,
  body: string,
  error: string,
): Promise<void> {
  await getDb(d1)
    .insert(quarantine)
    .values({ queue, messageId, body, error: error.slice(0, 1_000), createdAt: Date.now() });
}

/**
 * Write a batch to D1, each message to its projects' database of the pool (`store/pool.ts`: the
 * map is read once per batch). Per database, the batch's messages are tried as one `db.batch()`
 * (one transaction); if that fails, each message is tried alone so that one bad message cannot
 * hold back the others. Then: written → ack; refused for good → quarantine (in the control
 * database), ack; transient failure — a move's fence included — → retry with backoff (the main
 * queue hands a message to the dead-letter queue after its retries; the dead-letter consumer
 * quarantines on its last try, because a queue deletes what exhausts its retries).
 */
export async function consumeBatch(batch: MessageBatch<QueueBody>, env: Env): Promise<void> {
  const control = env.DB;
  const isDeadLetter = batch.queue === DEAD_LETTER_QUEUE;
  const parsedMessages: { message: Message<QueueBody>; parsed: QueueMessage }[] = [];
  for (const message of batch.messages) {
    const parsed = parseMessage(message.body);
    if (!parsed.ok) {
      await quarantineOrRetry(control, batch.queue, message, parsed.error);
      continue;
    }
    if (parsed.rejected) {
      // The events that can be stored go on; the rest are kept in quarantine, never dropped.
      const body = JSON.stringify({ v: 1, kind: 'events', events: parsed.rejected.events });
      try {
        await quarantineBody(control, batch.queue, message.id, body, parsed.rejected.error);
      } catch {
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
        continue;
      }
    }
    parsedMessages.push({ message, parsed: parsed.message });
  }
  if (!parsedMessages.length) return;

  let map: Map<string, string>;
  try {
    map = await projectDatabases(
      env,
      parsedMessages.flatMap(({ parsed }) => projectsOf(parsed)),
    );
  } catch {
    // The control database cannot say where anything goes: everything waits.
    for (const { message } of parsedMessages) message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    return;
  }
  const writable: { message: Message<QueueBody>; parts: Map<string, D1PreparedStatement[]> }[] = [];
  for (const { message, parsed } of parsedMessages) {
    const parts = statementsFor(env, map, parsed);
    if (parts.size) writable.push({ message, parts });
    else message.ack();
  }

  // One transaction per database for the messages that write to it alone (all of them, in practice:
  // a ProjectDO's message holds one project's events).
  const alone = new Set<Message<QueueBody>>();
  const byDatabase = new Map<string, typeof writable>();
  for (const entry of writable) {
    const [database] = entry.parts.keys();
    if (entry.parts.size !== 1 || database === undefined) continue;
    byDatabase.set(database, [...(byDatabase.get(database) ?? []), entry]);
  }
  for (const [database, entries] of byDatabase) {
    try {
      await poolDatabase(env, database).batch(entries.flatMap((entry) => entry.parts.get(database) ?? []));
      for (const { message } of entries) message.ack();
    } catch {
      for (const { message } of entries) alone.add(message);
    }
  }

  // One message at a time: those whose database's batch failed, and any that spans databases.
  for (const { message, parts } of writable) {
    if (parts.size === 1 && !alone.has(message)) continue;
    try {
      for (const [database, statements] of parts) await poolDatabase(env, database).batch(statements);
      message.ack();
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const lastTry = isDeadLetter && message.attempts >= DEAD_LETTER_MAX_RETRIES;
      if ((PERMANENT.test(text) && !MOVING.test(text)) || lastTry)
        await quarantineOrRetry(control, batch.queue, message, text);
      else message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}

async function quarantineOrRetry(
  d1: D1Database,
  queue: string,
  message: Message<QueueBody>,
  error: string,
): Promise<void> {
  try {
    const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
    await quarantineBody(d1, queue, message.id, body, error);
    message.ack();
  } catch {
    // D1 refuses even the quarantine: keep the message on the queue.
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  }
}
