import { quarantine } from '../db/schema.ts';
import { getDb } from '../db/index.ts';
import type { QueueBody, QueueMessage, StoredEvent } from './messages.ts';
import { eventProblem, insertEventStatements, reportStoreFault, reportStoreRecovered } from '../store/index.ts';
import { storeFault } from '../shared/db-errors.ts';
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

/** The bindings the consumer uses: D1, the queue (to send back what D1 cannot take yet), the fault registry. */
export type ConsumerEnv = Pick<Env, 'DB' | 'EVENTS' | 'STORE_HEALTH'>;

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

function statementsFor(d1: D1Database, message: QueueMessage): D1PreparedStatement[] {
  if (message.kind === 'events') return insertEventStatements(d1, message.events);
  if (message.kind === 'drops') return [upsertDropsStatement(d1, message)];
  return [];
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
 * Write a batch to D1. The whole batch is tried as one `db.batch()` (one transaction); if that
 * fails, each message is tried alone so that one bad message cannot hold back the others. Then:
 * written → ack; refused for good → quarantine, ack; transient failure → retry with backoff (the
 * main queue hands a message to the dead-letter queue after its retries; the dead-letter consumer
 * quarantines on its last try, because a queue deletes what exhausts its retries).
 *
 * When D1 itself fails (full or unavailable: `storeFault`), no message is at fault: all are retried
 * without trying each alone (which would only hammer an overloaded database a hundred times more),
 * the fault is reported for `GET /api/health`, and on the dead-letter queue's last try a message is
 * sent back to the main queue rather than quarantined — where it would be kept but never counted — or
 * lost with a quarantine that D1 refuses too. So an outage of any length loses nothing.
 */
export async function consumeBatch(batch: MessageBatch<QueueBody>, env: ConsumerEnv): Promise<void> {
  const d1 = env.DB;
  const isDeadLetter = batch.queue === DEAD_LETTER_QUEUE;
  const later = (message: Message<QueueBody>) => keepForLater(env, isDeadLetter, message);
  const writable: { message: Message<QueueBody>; statements: D1PreparedStatement[] }[] = [];
  for (const message of batch.messages) {
    const parsed = parseMessage(message.body);
    if (!parsed.ok) {
      await quarantineOrRetry(d1, batch.queue, message, parsed.error, later);
      continue;
    }
    if (parsed.rejected) {
      // The events that can be stored go on; the rest are kept in quarantine, never dropped.
      const body = JSON.stringify({ v: 1, kind: 'events', events: parsed.rejected.events });
      try {
        await quarantineBody(d1, batch.queue, message.id, body, parsed.rejected.error);
      } catch (error) {
        await retryOrKeep(message, error, later);
        continue;
      }
    }
    const statements = statementsFor(d1, parsed.message);
    if (statements.length) writable.push({ message, statements });
    else message.ack();
  }
  if (!writable.length) return;

  try {
    await d1.batch(writable.flatMap((entry) => entry.statements));
    for (const { message } of writable) message.ack();
    await reportStoreRecovered(env);
    return;
  } catch (error) {
    if (await reportStoreFault(env, error, 'consumer')) {
      for (const { message } of writable) await later(message);
      return;
    }
    // Otherwise one message may be at fault: one message at a time.
  }

  for (const { message, statements } of writable) {
    try {
      await d1.batch(statements);
      message.ack();
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const lastTry = isDeadLetter && message.attempts >= DEAD_LETTER_MAX_RETRIES;
      if (storeFault(error)) await later(message);
      else if (PERMANENT.test(text) || lastTry) await quarantineOrRetry(d1, batch.queue, message, text, later);
      else message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}

/**
 * A message D1 cannot take now: retried with backoff — except on the dead-letter queue's last try,
 * after which the queue would delete it. Then it goes back to the main queue as a new message (its
 * events are inserted idempotently, so a copy that also survives costs nothing), and only if the
 * queue refuses too is it retried one last time, with the loss logged.
 */
async function keepForLater(env: ConsumerEnv, isDeadLetter: boolean, message: Message<QueueBody>): Promise<void> {
  if (!isDeadLetter || message.attempts < DEAD_LETTER_MAX_RETRIES) {
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    return;
  }
  try {
    const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
    await (env.EVENTS as Queue<QueueBody>).send(body, { contentType: 'text', delaySeconds: BACKOFF_MAX_S });
    message.ack();
  } catch (error) {
    console.error(
      `dead-letter message ${message.id} could not be sent back to the queue on its last try:`,
      error instanceof Error ? error.message : String(error),
    );
    message.retry({ delaySeconds: BACKOFF_MAX_S });
  }
}

async function quarantineOrRetry(
  d1: D1Database,
  queue: string,
  message: Message<QueueBody>,
  error: string,
  later: (message: Message<QueueBody>) => Promise<void>,
): Promise<void> {
  try {
    const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
    await quarantineBody(d1, queue, message.id, body, error);
    message.ack();
  } catch (failure) {
    // D1 refuses even the quarantine: keep the message on a queue.
    await retryOrKeep(message, failure, later);
  }
}

/** After a failed write: kept for later if D1 is at fault (full, unavailable), else retried with backoff. */
async function retryOrKeep(
  message: Message<QueueBody>,
  error: unknown,
  later: (message: Message<QueueBody>) => Promise<void>,
): Promise<void> {
  if (storeFault(error)) await later(message);
  else message.retry({ delaySeconds: backoffSeconds(message.attempts) });
}
