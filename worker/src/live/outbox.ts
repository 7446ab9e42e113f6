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
import type { AdmissionLog, LogRow, UnsentRow } from './log.ts';

/** Rows sent per flush round; an alarm runs rounds until nothing waits. */
const FLUSH_ROWS = 2_000;
/** How long admitted events wait in the outbox so that many leave in one `sendBatch`. */
export const FLUSH_DELAY_MS = 200;
/** Backoff bounds when the queue refuses a flush. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** One visitor's events of one admitted request, waiting for the queue. */
interface Waiting {
  /** The log generation of its row, or null for a row of the outbox table of schema version 5. */
  generation: number | null;
  key: string;
  id: number;
  run: string;
  events: number;
  /** JSON objects joined by commas. */
  body: string;
}

/**
 * Admitted events waiting for the queue. An event is durable once its row is in the admission
 * log (`log.ts`), which is what lets the Worker answer 202 without waiting on the queue: the DO's
 * alarm sends what waits in large `sendBatch` calls. Nothing is written when a send succeeds —
 * the log's rows stay until their generation is dropped — so what was sent is known from memory,
 * from the alarm's parity (`alarm.ts`), and after a restart from the rows themselves (`recovery.ts`).
 */
export class Outbox {
  /** This object's run (one per start): its rows say so, and how far its sends had got. */
  readonly run = toHex(crypto.getRandomValues(new Uint8Array(6)));
  private waiting: Waiting[] = [];
  private lastId = 0;
  /** This run's highest id sent; every row of this run below it was sent too. */
  private sentThrough = 0;
  /** Whether the outbox table of schema version 5 still exists. */
  private legacy: boolean;

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
   * latest row, which its new one must follow (another run's clock may have been ahead). Returns
   * the rows' ids.
   */
  append(
    parts: readonly { key: string; after: number; events: readonly StoredEvent[]; state: string }[],
    now: number,
  ): number[] {
    const rows: LogRow[] = parts.map(({ key, after, events, state }) => {
      this.lastId = Math.max(Date.now() * 1000, this.lastId + 1, after + 1);
      const body = events.map((event) => JSON.stringify(event)).join(',');
      return {
        key,
        id: this.lastId,
        run: this.run,
        sentBelow: this.sentThrough + 1,
        events: events.length,
        body,
        state,
      };
    });
    const generation = this.log.append(rows, now);
    for (const { key, id, run, events, body } of rows) this.waiting.push({ generation, key, id, run, events, body });
    return rows.map((row) => row.id);
  }

  /** Whether any event waits. */
  hasWaiting(): boolean {
    return this.waiting.length > 0;
  }

  /** Events waiting to be sent. */
  pendingEvents(): number {
    return this.waiting.reduce((n, row) => n + row.events, 0);
  }

  /** The log generations that hold rows not yet sent (they must not be dropped). */
  generations(): Set<number> {
    const held = new Set<number>();
    for (const row of this.waiting) if (row.generation !== null) held.add(row.generation);
    return held;
  }

  /** Put back rows a restart found unsent (`recovery.ts`), before those admitted since. */
  restore(rows: readonly UnsentRow[]): void {
    const known = new Set(this.waiting.map((row) => `${row.key} ${row.id}`));
    const restored = rows
      .filter(({ entry }) => !known.has(`${entry.key} ${entry.id}`))
      .map(({ entry: { generation, key, id, run, events }, body }) => ({ generation, key, id, run, events, body }));
    this.waiting.unshift(...restored);
  }

  /** Whether any row of another run (one a restart put back) still waits. */
  waitsForOtherRuns(): boolean {
    return this.waiting.some((row) => row.run !== this.run);
  }

  /** Rows left in the outbox table of schema version 5 (one per request), sent first; the table is then dropped. */
  recoverLegacy(): void {
    if (!this.legacy) return;
    const rows = this.sql
      .exec<{ id: number; body: string; events: number }>('SELECT id, body, events FROM outbox ORDER BY id')
      .toArray();
    this.waiting.unshift(
      ...rows.map(({ id, body, events }) => ({ generation: null, key: '', id, run: 'v5', events, body })),
    );
    if (!rows.length) this.dropLegacy();
  }

  /**
   * Send one round of what waits to the queue; returns events sent and whether more waits. A
   * failed `sendBatch` throws and leaves its rows waiting; a crash after a send but before the
   * alarm says so sends them again, which the consumer's idempotent insert absorbs.
   */
  async flushRound(queue: Queue<QueueBody>): Promise<{ sent: number; more: boolean }> {
    const rows = this.waiting.slice(0, FLUSH_ROWS);
    if (!rows.length) return { sent: 0, more: false };

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
    return { sent, more: this.waiting.length > 0 && rows.length === FLUSH_ROWS };
  }

  /** Take sent rows off the front of what waits. */
  private sent(rows: readonly Waiting[]): void {
    if (!rows.length) return;
    this.waiting.splice(0, rows.length);
    for (const row of rows) if (row.run === this.run) this.sentThrough = Math.max(this.sentThrough, row.id);
    const legacy = rows.filter((row) => row.generation === null).at(-1);
    if (legacy) this.sql.exec('DELETE FROM outbox WHERE id <= ?', legacy.id);
    if (this.legacy && !this.waiting.some((row) => row.generation === null)) this.dropLegacy();
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
 * Hands the outbox and the drop totals to the queue when the ProjectDO's alarm runs, backing off
 * from 1 s to 60 s while the queue refuses. The backoff lives in memory: after an eviction the
 * next alarm simply tries again.
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
  async flushIfDue(queue: Queue<QueueBody>, projectId: string | null, now: number): Promise<number | null> {
    if (now < this.retryAt) return this.retryAt;
    try {
      for (;;) {
        const { more } = await this.outbox.flushRound(queue);
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
