import { quarantine } from '../db/schema.ts';
import { getDb } from '../db/index.ts';
import type { StoreFaultCode } from '@tally/sdk/protocol';
import type { QueueBody, QueueMessage, Resendable, StoredEvent } from './messages.ts';
import {
  eventProblem,
  insertEventStatements,
  poolDatabase,
  projectDatabases,
  reportD1Fault,
  reportD1Recovered,
} from '../store/index.ts';
import { d1CallFault, isStatementError } from '../shared/db-errors.ts';
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
 * The bindings the consumer uses: the pool's databases (`DB` holds the map and the quarantine), the
 * queue (to send back what D1 cannot take yet), the fault registry.
 */
export type ConsumerEnv = Pick<Env, 'DB' | 'EVENTS' | 'STORE_HEALTH'> & Partial<Env>;

/**
 * A move's fence (the pool's triggers): the project left this database after the map was read.
 * SQLite reports RAISE(ABORT) as a constraint error, but the next try goes to the new one: never
 * the message's fault, never quarantined.
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
function statementsFor(env: ConsumerEnv, map: ReadonlyMap<string, string>, message: QueueMessage) {
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
 * How many times the dead-letter consumer sends a message back to the main queue before it
 * quarantines it instead. A trip is 6 main-queue and 11 dead-letter deliveries with backoff (about
 * 25 minutes, plus 5 minutes' delay on the way back), so 3 trips ride out well over an hour of D1
 * failing now and then. They bound only a message that D1 refuses while it takes other writes: while
 * D1 is down or full the quarantine is refused too, and the message goes round again, lost never.
 */
export const MAX_SEND_BACKS = 3;

/** Where a batch came from, and the bindings its failures are handled with. */
interface Delivery {
  env: ConsumerEnv;
  queue: string;
  isDeadLetter: boolean;
}

/**
 * Write a batch to D1, each message to its projects' database of the pool (`store/pool.ts`: the map
 * is read once per batch, from `DB`). Per database, the batch's messages are tried as one
 * `db.batch()` (one transaction); if that fails, each message is tried alone so that one bad message
 * cannot hold back the others. Then: written → ack; refused for good → quarantine (in `DB`), ack;
 * anything else — a move's fence included — → kept for later (`keepForLater`: retried with backoff;
 * the main queue hands a message to the dead-letter queue after its retries).
 *
 * When a database's batch fails with D1 itself failing (full or unavailable: `d1CallFault`), the
 * smallest of its messages is tried alone first. If it fails the same way, that database is at fault
 * and no message is: all of its messages are kept for later without trying the rest (which would
 * only hammer an overloaded database a hundred times more), and the fault is reported for
 * `GET /api/health`. If it is written, D1 works and the batch was the trouble (one message, or a
 * batch too big for D1's time limit): the rest go one by one. A map that cannot be read keeps the
 * whole batch for later.
 */
export async function consumeBatch(batch: MessageBatch<QueueBody>, env: ConsumerEnv): Promise<void> {
  const control = env.DB;
  const delivery: Delivery = { env, queue: batch.queue, isDeadLetter: batch.queue === DEAD_LETTER_QUEUE };
  const parsedMessages: { message: Message<QueueBody>; parsed: QueueMessage }[] = [];
  for (const message of batch.messages) {
    const parsed = parseMessage(message.body);
    if (!parsed.ok) {
      await quarantineOrKeep(delivery, message, parsed.error);
      continue;
    }
    if (parsed.rejected) {
      // The events that can be stored go on; the rest are kept in quarantine, never dropped.
      const body = JSON.stringify({ v: 1, kind: 'events', events: parsed.rejected.events });
      try {
        await quarantineBody(control, batch.queue, message.id, body, parsed.rejected.error);
      } catch (error) {
        await keepForLater(delivery, message, errorText(error));
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
  } catch (error) {
    // The control database cannot say where anything goes: everything waits.
    const fault = d1CallFault(error);
    if (fault) await reportD1Fault(env, fault);
    for (const { message } of parsedMessages) await keepForLater(delivery, message, errorText(error));
    return;
  }
  const writable: Writable[] = [];
  for (const { message, parsed } of parsedMessages) {
    let parts: Map<string, D1PreparedStatement[]>;
    try {
      parts = statementsFor(env, map, parsed);
    } catch (error) {
      // The map names a database this Worker has no binding for (wrangler.toml lost one): that
      // project's messages wait, the rest of the batch goes on.
      await keepForLater(delivery, message, errorText(error));
      continue;
    }
    if (parts.size) writable.push({ message, parts });
    else message.ack();
  }

  // One transaction per database for the messages that write to it alone (all of them, in practice:
  // a ProjectDO's message holds one project's events); any that spans databases goes alone.
  const byDatabase = new Map<string, Writable[]>();
  const spanning: Writable[] = [];
  for (const entry of writable) {
    const [database] = entry.parts.keys();
    if (entry.parts.size !== 1 || database === undefined) spanning.push(entry);
    else byDatabase.set(database, [...(byDatabase.get(database) ?? []), entry]);
  }
  let wrote = false;
  let faulted = false;
  for (const [database, entries] of byDatabase) {
    const outcome = await writeToDatabase(delivery, poolDatabase(env, database), database, entries);
    wrote ||= outcome.wrote;
    faulted ||= outcome.faulted;
  }
  for (const entry of spanning) wrote = (await writeAlone(delivery, entry)) || wrote;
  // D1 took a write and no database of this batch was found failing: whatever was reported is over.
  if (wrote && !faulted) await reportD1Recovered(env);
}

/** A message and its statements per pool database (binding name). */
interface Writable {
  message: Message<QueueBody>;
  parts: Map<string, D1PreparedStatement[]>;
}

/** One database's messages of a batch: together, else one by one (`consumeBatch`). */
async function writeToDatabase(
  delivery: Delivery,
  d1: D1Database,
  database: string,
  entries: Writable[],
): Promise<{ wrote: boolean; faulted: boolean }> {
  const statementsOf = (entry: Writable) => entry.parts.get(database) ?? [];
  let batchFault: StoreFaultCode | null;
  try {
    await d1.batch(entries.flatMap(statementsOf));
    for (const { message } of entries) message.ack();
    return { wrote: true, faulted: false };
  } catch (error) {
    batchFault = d1CallFault(error);
  }
  // After D1 failing, the smallest message first: it tells D1 failing from the batch failing.
  const order = batchFault ? [...entries].sort((a, b) => statementsOf(a).length - statementsOf(b).length) : entries;
  let wrote = false;
  for (const [index, entry] of order.entries()) {
    try {
      await d1.batch(statementsOf(entry));
      entry.message.ack();
      wrote = true;
    } catch (error) {
      const fault = d1CallFault(error);
      if (index === 0 && batchFault && fault) {
        await reportD1Fault(delivery.env, fault);
        for (const { message } of order) await keepForLater(delivery, message, errorText(error));
        return { wrote: false, faulted: true };
      }
      await refused(delivery, entry.message, error);
    }
  }
  return { wrote, faulted: false };
}

/** A message that writes to several databases, one after the other (each write is idempotent). */
async function writeAlone(delivery: Delivery, { message, parts }: Writable): Promise<boolean> {
  try {
    for (const [database, statements] of parts) await poolDatabase(delivery.env, database).batch(statements);
    message.ack();
    return true;
  } catch (error) {
    await refused(delivery, message, error);
    return false;
  }
}

/**
 * A message refused when tried alone: a constraint or type is this message's, and so, on its last
 * try, is any SQL error — but never a move's fence, which the next try, routed again, gets past.
 */
async function refused(delivery: Delivery, message: Message<QueueBody>, error: unknown): Promise<void> {
  const text = errorText(error);
  const lastTry = delivery.isDeadLetter && message.attempts >= DEAD_LETTER_MAX_RETRIES;
  const permanent = !MOVING.test(text) && (PERMANENT.test(text) || (lastTry && isStatementError(error)));
  if (permanent) await quarantineOrKeep(delivery, message, text);
  else await keepForLater(delivery, message, text);
}

/**
 * A message D1 has not taken, and not known to be at fault: retried with backoff — except on the
 * dead-letter queue's last try, after which the queue would delete it. Then it goes back to the main
 * queue as a new message with its `sentBack` count raised (its events are inserted idempotently, so
 * a copy that also survives costs nothing); after `MAX_SEND_BACKS` trips it is quarantined instead,
 * unless D1 refuses that too. Only if the queue refuses as well is it retried once more, with the
 * loss logged.
 *
 * A move's fence is not D1 refusing the message: it is a project waiting for its switch, however
 * long the copy takes (a big project's, at the cron's 10 s a tick, can take hours). Such a message
 * goes round again without its trip counted and is never quarantined; once the map has switched,
 * its next delivery is written to the target. A fence that outlives its move (none should: the
 * switch or a call-off ends it) would keep its messages going round, one trip per ~30 minutes each,
 * logged on every trip, never lost.
 */
async function keepForLater(delivery: Delivery, message: Message<QueueBody>, error: string): Promise<void> {
  if (!delivery.isDeadLetter || message.attempts < DEAD_LETTER_MAX_RETRIES) {
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    return;
  }
  const { env, queue } = delivery;
  const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
  const moving = MOVING.test(error);
  const trips = sentBackCount(body);
  let left = body;
  if (moving) console.warn(`message ${message.id} waits for a move's switch: sent back to the queue`);
  else if (trips >= MAX_SEND_BACKS) {
    const salvage = await writeEventByEvent(env, body);
    if (salvage.left === null) {
      message.ack();
      return;
    }
    left = salvage.left;
    try {
      await quarantineBody(env.DB, queue, message.id, left, `${error} (sent back ${trips} times)`);
      message.ack();
      return;
    } catch (failure) {
      if (salvage.wrote) {
        // D1 took this message's other events but refuses these and their quarantine alike: no
        // number of trips will change that. The log is their last record.
        console.error(`message ${message.id}: events D1 refuses to store or quarantine, dropped: ${left}`);
        message.ack();
        return;
      }
      console.error(
        `message ${message.id} sent back ${trips} times; D1 refuses its quarantine too:`,
        errorText(failure),
      );
    }
  }
  try {
    await (env.EVENTS as Queue<QueueBody>).send(moving ? left : withSentBack(left, trips + 1), {
      contentType: 'text',
      delaySeconds: BACKOFF_MAX_S,
    });
    message.ack();
  } catch (failure) {
    console.error(
      `dead-letter message ${message.id} could not be sent back to the queue on its last try:`,
      errorText(failure),
    );
    message.retry({ delaySeconds: BACKOFF_MAX_S });
  }
}

/**
 * The last resort for a message D1 has refused on every trip: its events one at a time (one bad
 * event among good ones, or a message too slow for D1's time limit), each to its project's database
 * of the pool. Returns the body of the events still unwritten (null when none is left), and whether
 * any was written. Stops at the first failure that is D1 failing as a whole — full, or not answering
 * `SELECT 1` — so that an outage costs one try. Events of projects that no longer exist are dropped,
 * as the batch drops them; a map that cannot be read leaves the whole body.
 */
async function writeEventByEvent(env: ConsumerEnv, body: string): Promise<{ left: string | null; wrote: boolean }> {
  const parsed = parseMessage(body);
  if (!parsed.ok || parsed.message.kind !== 'events') return { left: body, wrote: false };
  const { events } = parsed.message;
  let map: Map<string, string>;
  try {
    map = await projectDatabases(env, projectsOf(parsed.message));
  } catch {
    return { left: body, wrote: false };
  }
  // (Events that cannot be stored at all were quarantined when the message was first read.)
  const refused: StoredEvent[] = [];
  let wrote = false;
  for (const event of events) {
    const database = map.get(event.projectId);
    if (!database) continue;
    let d1: D1Database | null = null;
    try {
      d1 = poolDatabase(env, database);
      await d1.batch(insertEventStatements(d1, [event]));
      wrote = true;
    } catch (error) {
      refused.push(event);
      const fault = d1CallFault(error);
      const d1Down = d1 && !wrote && fault && (fault === 'store_full' || !(await answers(d1)));
      if (d1Down) return { left: body, wrote: false };
    }
  }
  return { left: refused.length ? JSON.stringify({ v: 1, kind: 'events', events: refused }) : null, wrote };
}

/** Whether D1 answers a query at all (a full D1 does; an unreachable one does not). */
async function answers(d1: D1Database): Promise<boolean> {
  try {
    await d1.prepare('SELECT 1').first();
    return true;
  } catch {
    return false;
  }
}

/** How many times a message was sent back (`Resendable`); 0 for one that never was, or is not JSON. */
function sentBackCount(body: string): number {
  try {
    const value = JSON.parse(body) as Resendable | null;
    return typeof value?.sentBack === 'number' ? value.sentBack : 0;
  } catch {
    return 0;
  }
}

/** The body with its `sentBack` count set; a body that is not a JSON object goes back as it was. */
function withSentBack(body: string, sentBack: number): string {
  try {
    const value = JSON.parse(body) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify({ ...value, sentBack }) : body;
  } catch {
    return body;
  }
}

async function quarantineOrKeep(delivery: Delivery, message: Message<QueueBody>, error: string): Promise<void> {
  try {
    const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
    await quarantineBody(delivery.env.DB, delivery.queue, message.id, body, error);
    message.ack();
  } catch (failure) {
    // D1 refuses even the quarantine: keep the message on a queue.
    await keepForLater(delivery, message, errorText(failure));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
