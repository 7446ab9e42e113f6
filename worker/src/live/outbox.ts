import {
  type DropReason,
  type DropTotal,
  groupForSendBatch,
  MAX_MESSAGE_BYTES,
  packEventMessages,
  type QueueBody,
  type StoredEvent,
  utf8Length,
} from '../pipeline/messages.ts';
import { toHex } from '../shared/ids.ts';
import { previousUtcDay, utcDay } from '../shared/time.ts';
import type { AdmissionLog, LogEntry, LogPosition, LogRow } from './log.ts';
import { readMeta, writeMeta } from './meta.ts';

/** Rows sent per flush round. */
const FLUSH_ROWS = 2_000;
/**
 * Rounds one alarm run sends at most (20,000 rows); the next run, 200 ms later, goes on. NOTE: an
 * alarm run has a time limit, and a backlog after a long queue outage can be millions of rows.
 */
const ROUNDS_PER_RUN = 10;
/**
 * What waits to be sent is held in memory up to a round's rows and this many characters of
 * bodies; the rest waits in the log only and is read back a page at a time (`log.ts`). NOTE: an
 * isolate has 128 MB; without a bound, a long queue outage would fill it with bodies.
 */
const HELD_CHARS = 4_000_000;
/** How long admitted events wait in the outbox so that many leave in one `sendBatch`. */
export const FLUSH_DELAY_MS = 200;
/** Backoff bounds when the queue refuses a flush. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** One visitor's events of one admitted request, waiting for the queue. */
export interface Waiting {
  /** The log generation of its row, or null for a row of the outbox table of schema version 5. */
  generation: number | null;
  key: string;
  id: number;
  events: number;
  /** JSON objects joined by commas. */
  body: string;
}

/**
 * Of rows an earlier run may have sent, those D1 holds every event of (`recovery.ts`): they are
 * not sent again.
 */
export type SentCheck = (rows: readonly Waiting[]) => Promise<ReadonlySet<Waiting>>;

/**
 * Admitted events waiting for the queue. An event is durable once its row is in the admission
 * log (`log.ts`), which is what lets the Worker answer 202 without waiting on the queue: the DO's
 * alarm sends what waits in large `sendBatch` calls. A send that leaves nothing waiting writes
 * nothing — the log's rows stay until their generation is dropped — so what was sent is known from
 * memory, from the alarm's parity (`alarm.ts`), and after a restart from the rows themselves: each
 * row says below which id everything had been sent when it was written ({@link resume}). While a
 * backlog drains, each round writes how far it got (`sent` in `meta`, one row per round of up to
 * 2,000 rows), so that a restart part-way goes on from there.
 *
 * What waits is a suffix of the log (ids grow). The front of it is held in memory, at most a
 * round's rows and {@link HELD_CHARS} characters; from `backlog` on it is read back from the log
 * a page at a time, and rows admitted meanwhile go to the log only, behind it.
 */
export class Outbox {
  /** This object's run (one per start): its rows say so (the live view reads back only earlier runs'). */
  readonly run = toHex(crypto.getRandomValues(new Uint8Array(6)));
  private waiting: Waiting[] = [];
  /** Characters of bodies in `waiting`. */
  private heldChars = 0;
  /** Where the rows waiting in the log only begin (null: every waiting row is in memory). */
  private backlog: LogPosition | null = null;
  private lastId = 0;
  /** Rows up to this id were written by an earlier run, which may have sent them: D1 is asked first. */
  private checkThrough = 0;
  /** Whether the outbox table of schema version 5 still exists. */
  private legacy: boolean;
  /** Its rows after this id are not in memory yet (null: none are left to read). */
  private legacyAfter: number | null = null;
  /** Every row up to this id was sent (`sent` in `meta`, written by {@link writeMark}); null until read. */
  private mark: number | null = null;

  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(
    private readonly sql: SqlStorage,
    private readonly log: AdmissionLog,
  ) {
    this.legacy = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").toArray().length > 0;
  }

  /**
   * Store one request's events for sending: a log row per visitor, with its state after them.
   * Durable when the request's output is (the output gate). `after`: the id of the visitor's
   * latest row, which its new one must follow. Returns the rows' ids.
   */
  append(
    parts: readonly { key: string; after: number; events: readonly StoredEvent[]; state: string }[],
    now: number,
  ): number[] {
    // Above every id in the log, even one an earlier run wrote with a clock ahead of this one's,
    // and above the mark of what was sent (it outlives the rows it was about).
    this.mark ??= this.readMark();
    this.lastId = Math.max(this.lastId, this.log.maxId(), this.mark);
    let oldest = this.oldestWaiting();
    const rows: LogRow[] = parts.map(({ key, after, events, state }) => {
      this.lastId = Math.max(Date.now() * 1000, this.lastId + 1, after + 1);
      oldest ??= this.lastId;
      const body = events.map((event) => JSON.stringify(event)).join(',');
      return { key, id: this.lastId, run: this.run, sentBelow: oldest, events: events.length, body, state };
    });
    const generation = this.log.append(rows, now);
    for (const { key, id, events, body } of rows) {
      if (!events || this.backlog) continue;
      if (this.waiting.length >= FLUSH_ROWS || this.heldChars + body.length > HELD_CHARS) {
        // Memory is full: this row and every later one wait in the log only.
        this.backlog = { generation, id };
        continue;
      }
      this.hold({ generation, key, id, events, body });
    }
    return rows.map((row) => row.id);
  }

  /** Whether any event waits. */
  hasWaiting(): boolean {
    return this.waiting.length > 0 || this.backlog !== null || this.legacyAfter !== null;
  }

  /** Events waiting to be sent. */
  pendingEvents(): number {
    const held = this.waiting.reduce((n, row) => n + row.events, 0);
    const legacy =
      this.legacyAfter === null
        ? 0
        : this.sql
            .exec<{ n: number }>('SELECT COALESCE(SUM(events), 0) AS n FROM outbox WHERE id > ?', this.legacyAfter)
            .one().n;
    return held + legacy + (this.backlog ? this.log.eventsFrom(this.backlog) : 0);
  }

  /** Rows and characters of bodies held in memory. */
  held(): { rows: number; chars: number } {
    return { rows: this.waiting.length, chars: this.heldChars };
  }

  /** The oldest log generation holding rows not yet sent: it and every newer one must not be dropped. */
  heldFrom(): number | null {
    return this.waiting.find((row) => row.generation !== null)?.generation ?? this.backlog?.generation ?? null;
  }

  /**
   * After a start that may have left events unsent (`alarm.ts`): wait for every row from the
   * last one's `sentBelow` on (or after what a recovery before established, `sent` in `meta`),
   * asking D1 before sending those of earlier runs. Reads the newest generation, not the rows
   * that wait (they are read a page at a time when sent). Returns the log's last row.
   */
  resume(): LogEntry | null {
    const last = this.log.last();
    if (!last) return null;
    this.mark ??= this.readMark();
    const from = Math.max(last.sentBelow, this.mark + 1);
    if (from <= last.id) {
      this.backlog = this.log.positionOf(from);
      this.checkThrough = last.id;
    }
    return last;
  }

  /**
   * Rows left in the outbox table of schema version 5 (one per request) are sent first, a page at
   * a time like the log's (a queue outage at deploy time can leave a large backlog there); the
   * table is dropped once they are all sent.
   */
  recoverLegacy(): void {
    if (!this.legacy) return;
    this.legacyAfter = 0;
    this.refillLegacy();
  }

  /**
   * D1's data was reset: no event that left the outbox may come back. Every row before the oldest
   * that waits (all of them when none does) is marked sent, so that a restart does not check those
   * rows against D1 — which no longer holds them — and send them again. What waits is still sent.
   */
  markLeft(): void {
    const oldest = this.oldestWaiting();
    this.writeMark(oldest === null ? this.log.maxId() : oldest - 1);
  }

  /**
   * Send one round of what waits to the queue; returns events sent and whether more waits. A
   * failed `sendBatch` throws and leaves its rows waiting; a crash after a send but before the
   * alarm says so sends them again, which the consumer's idempotent insert absorbs. Rows an
   * earlier run may have sent go to `sentCheck` first.
   */
  async flushRound(queue: Queue<QueueBody>, sentCheck: SentCheck | null): Promise<{ sent: number; more: boolean }> {
    this.refill();
    let rows = this.waiting.slice(0, FLUSH_ROWS);
    if (!rows.length) return { sent: 0, more: false };
    const toCheck = rows.filter((row) => row.generation !== null && row.id <= this.checkThrough);
    if (toCheck.length && sentCheck) {
      const stored = await sentCheck(toCheck);
      if (stored.size) {
        // Still the front of what waits: rows admitted meanwhile went behind them.
        rows = rows.filter((row) => !stored.has(row));
        this.waiting = this.waiting.filter((row) => !stored.has(row));
        for (const row of stored) this.heldChars -= row.body.length;
      }
    }

    const items: string[] = [];
    const rowOfItem: number[] = [];
    const eventsOfItem: number[] = [];
    rows.forEach((row, index) => {
      // A request's events normally fit one message; split the rare row that does not.
      const parts = utf8Length(row.body) > MAX_MESSAGE_BYTES - 64 ? splitEvents(row.body) : [row.body];
      for (const part of parts) {
        items.push(part);
        rowOfItem.push(index);
        eventsOfItem.push(parts.length === 1 ? row.events : 1);
      }
    });

    let sent = 0;
    let itemIndex = 0;
    let done = 0;
    try {
      for (const group of groupForSendBatch(packEventMessages(items))) {
        await queue.sendBatch(group.map((message) => ({ body: message.body, contentType: 'text' as const })));
        const last = group[group.length - 1]?.last ?? itemIndex;
        for (; itemIndex <= last; itemIndex++) sent += eventsOfItem[itemIndex] ?? 0;
        const lastRow = rowOfItem[last] ?? 0;
        // Rows sent whole leave; a row split across groups waits until its last part is sent.
        const complete = rowOfItem[last + 1] !== lastRow ? lastRow + 1 : lastRow;
        this.sent(rows.slice(done, complete));
        done = Math.max(done, complete);
      }
    } finally {
      // Also when a send failed part-way: what left before it must not be sent again.
      this.markProgress(rows.slice(0, done));
    }
    const more = this.backlog !== null || this.legacyAfter !== null;
    return { sent, more: more || (this.waiting.length > 0 && rows.length === FLUSH_ROWS) };
  }

  private readMark(): number {
    return Number(readMeta(this.sql, 'sent') ?? 0);
  }

  /** Every row of the log up to `id` was sent (or is in D1): a restart resumes after it. */
  private writeMark(id: number): void {
    this.mark ??= this.readMark();
    if (id <= this.mark) return;
    writeMeta(this.sql, 'sent', String(id));
    this.mark = id;
  }

  /** The id of the oldest row of the log still waiting, or null. */
  private oldestWaiting(): number | null {
    return this.waiting.find((row) => row.generation !== null)?.id ?? this.backlog?.id ?? null;
  }

  private hold(row: Waiting): void {
    this.waiting.push(row);
    this.heldChars += row.body.length;
  }

  /**
   * When memory holds nothing, read the next page of what waits: the old outbox table's first,
   * then the log's.
   */
  private refill(): void {
    if (this.waiting.length) return;
    if (this.legacyAfter !== null) this.refillLegacy();
    if (this.waiting.length || !this.backlog) return;
    const { rows, next } = this.log.page(this.backlog, FLUSH_ROWS, HELD_CHARS);
    for (const row of rows) this.hold(row);
    this.backlog = next;
  }

  /** Read the next page of the old outbox table, up to a round's rows and {@link HELD_CHARS} characters. */
  private refillLegacy(): void {
    const after = this.legacyAfter;
    if (after === null) return;
    const cursor = this.sql.exec<{ id: number; body: string; events: number }>(
      'SELECT id, body, events FROM outbox WHERE id > ? ORDER BY id LIMIT ?',
      after,
      FLUSH_ROWS,
    );
    let read = 0;
    let last = after;
    let stopped = false;
    // NOTE: read to its end (at most a round's rows), not left with `break`: a cursor left open
    // keeps the table locked, and the table is written and dropped as its rows are sent.
    for (const { id, body, events } of cursor) {
      if (stopped || (read && this.heldChars + body.length > HELD_CHARS)) {
        stopped = true;
        continue;
      }
      this.hold({ generation: null, key: '', id, events, body });
      read++;
      last = id;
    }
    // A page cut short by neither bound was the table's last.
    this.legacyAfter = stopped || read === FLUSH_ROWS ? last : null;
    if (!read) this.dropLegacy();
  }

  /**
   * After a round, whole or cut short by a failed send: write up to where the log's rows have
   * left (`left`: those sent from its front), so that a restart neither reads, checks nor sends
   * them again — while more waits (a backlog is being drained, one row written per round), or once
   * every row an earlier run may have sent is settled. A round that empties the outbox writes
   * nothing: the alarm's parity says so.
   */
  private markProgress(left: readonly Waiting[]): void {
    let through = left.findLast((row) => row.generation !== null)?.id ?? 0;
    const oldest = this.oldestWaiting();
    const checked = this.checkThrough > 0 && (oldest === null || oldest > this.checkThrough);
    if (checked) {
      through = Math.max(through, this.checkThrough);
      this.checkThrough = 0;
    }
    if (through && (checked || this.hasWaiting())) this.writeMark(through);
  }

  /** Take sent rows off the front of what waits. */
  private sent(rows: readonly Waiting[]): void {
    if (!rows.length) return;
    this.waiting.splice(0, rows.length);
    for (const row of rows) this.heldChars -= row.body.length;
    const legacy = rows.filter((row) => row.generation === null).at(-1);
    if (legacy) this.sql.exec('DELETE FROM outbox WHERE id <= ?', legacy.id);
    if (this.legacy && this.legacyAfter === null && !this.waiting.some((row) => row.generation === null)) {
      this.dropLegacy();
    }
  }

  private dropLegacy(): void {
    this.sql.exec('DROP TABLE IF EXISTS outbox');
    this.legacy = false;
  }
}

function splitEvents(body: string): string[] {
  return (JSON.parse(`[${body}]`) as unknown[]).map((event) => JSON.stringify(event));
}

/**
 * Running totals of dropped events per day and reason. Totals only grow; each flush sends the
 * changed ones and the consumer keeps the larger value, so resending is harmless.
 */
export class DropCounter {
  /** Whether some total is unsent; null until read (the object just started). */
  private dirty: boolean | null = null;

  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Count `count` more drops for a reason on a day. */
  add(day: string, reason: DropReason, count: number): void {
    if (count <= 0) return;
    this.dirty = true;
    this.sql.exec(
      `INSERT INTO drop_totals (day, reason, count, dirty) VALUES (?, ?, ?, 1)
       ON CONFLICT (day, reason) DO UPDATE SET count = count + excluded.count, dirty = 1`,
      day,
      reason,
      count,
    );
  }

  /** Whether some total changed since it was last sent. */
  hasUnsent(): boolean {
    this.dirty ??= this.sql.exec('SELECT 1 FROM drop_totals WHERE dirty = 1 LIMIT 1').toArray().length > 0;
    return this.dirty;
  }

  /** All totals (for tests and the dashboard's live view). */
  totals(): DropTotal[] {
    return this.sql
      .exec<DropTotal & Record<string, SqlStorageValue>>(
        'SELECT day, reason, count FROM drop_totals ORDER BY day, reason',
      )
      .toArray();
  }

  /** Send changed totals, then mark them clean unless they changed meanwhile; forget days older than `keepFrom`. */
  async flush(queue: Queue<QueueBody>, projectId: string, keepFrom: string): Promise<void> {
    // Every alarm run comes here; only one after a change reads the table.
    if (!this.hasUnsent()) return;
    const dirty = this.sql
      .exec<DropTotal & Record<string, SqlStorageValue>>('SELECT day, reason, count FROM drop_totals WHERE dirty = 1')
      .toArray();
    if (dirty.length) {
      const totals = dirty.map(({ day, reason, count }) => ({ day, reason, count }));
      await queue.send(JSON.stringify({ v: 1, kind: 'drops', projectId, totals }), { contentType: 'text' });
      for (const total of totals) {
        this.sql.exec(
          'UPDATE drop_totals SET dirty = 0 WHERE day = ? AND reason = ? AND count = ?',
          total.day,
          total.reason,
          total.count,
        );
      }
    }
    this.sql.exec('DELETE FROM drop_totals WHERE day < ? AND dirty = 0', keepFrom);
    this.dirty = null;
  }
}

/**
 * Hands the outbox and the drop totals to the queue when the ProjectDO's alarm runs, at most
 * {@link ROUNDS_PER_RUN} rounds a run, backing off from 1 s to 60 s while the queue refuses. The
 * backoff lives in memory: after an eviction the next alarm simply tries again.
 */
export class OutboxFlusher {
  private failures = 0;
  /** No flush is tried before this. */
  private retryAt = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly drops: DropCounter,
  ) {}

  /**
   * Send everything waiting, unless a refused send's backoff has not passed. Returns when the
   * next flush is due, or null when nothing waits.
   */
  async flushIfDue(
    queue: Queue<QueueBody>,
    projectId: string | null,
    now: number,
    sentCheck: SentCheck | null,
  ): Promise<number | null> {
    if (now < this.retryAt) return this.retryAt;
    try {
      for (let round = 0; round < ROUNDS_PER_RUN; round++) {
        const { more } = await this.outbox.flushRound(queue, sentCheck);
        if (!more) break;
      }
      if (projectId) await this.drops.flush(queue, projectId, previousUtcDay(previousUtcDay(utcDay(Date.now()))));
      this.failures = 0;
      this.retryAt = 0;
    } catch (error) {
      this.failures++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      console.warn(`ProjectDO flush failed (attempt ${this.failures}), retrying in ${delay} ms:`, String(error));
      this.retryAt = Date.now() + delay;
      return this.retryAt;
    }
    return this.outbox.hasWaiting() || this.drops.hasUnsent() ? Date.now() + FLUSH_DELAY_MS : null;
  }
}
