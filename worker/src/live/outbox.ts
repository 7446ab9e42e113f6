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
import { previousUtcDay, utcDay } from '../shared/time.ts';

/** Rows read per flush round; an alarm runs rounds until the outbox is empty. */
const FLUSH_ROWS = 2_000;
/** How long admitted events wait in the outbox so that many leave in one `sendBatch`. */
export const FLUSH_DELAY_MS = 200;
/** Backoff bounds when the queue refuses a flush. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * Admitted events waiting for the queue, in the ProjectDO's SQLite storage. An event is durable
 * once it is here, which is what lets the Worker answer 202 without waiting on the queue: the
 * DO's alarm sends the outbox in large `sendBatch` calls and deletes only what was sent.
 */
export class Outbox {
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Store events for sending. */
  append(events: readonly StoredEvent[]): void {
    this.sql.exec(
      'INSERT INTO outbox (body, events) VALUES (?, ?)',
      events.map((event) => JSON.stringify(event)).join(','),
      events.length,
    );
  }

  /** Events waiting to be sent. */
  pendingEvents(): number {
    return this.sql.exec<{ n: number }>('SELECT COALESCE(SUM(events), 0) AS n FROM outbox').one().n;
  }

  /**
   * Send one round of the outbox to the queue; returns events sent and whether rows remain.
   * A failed `sendBatch` throws and leaves its rows in place; a crash after a send but before the
   * delete sends those rows again, which the consumer's idempotent insert absorbs.
   */
  async flushRound(queue: Queue<QueueBody>): Promise<{ sent: number; more: boolean }> {
    const rows = this.sql
      .exec<{ id: number; body: string; events: number }>(
        'SELECT id, body, events FROM outbox ORDER BY id LIMIT ?',
        FLUSH_ROWS,
      )
      .toArray();
    if (!rows.length) return { sent: 0, more: false };

    const items: string[] = [];
    const rowOfItem: number[] = [];
    const eventsOfItem: number[] = [];
    for (const row of rows) {
      // A request's events normally fit one message; split the rare row that does not.
      const parts = utf8Length(row.body) > MAX_MESSAGE_BYTES - 64 ? splitEvents(row.body) : [row.body];
      for (const part of parts) {
        items.push(part);
        rowOfItem.push(row.id);
        eventsOfItem.push(parts.length === 1 ? row.events : 1);
      }
    }

    let sent = 0;
    let itemIndex = 0;
    for (const group of groupForSendBatch(packEventMessages(items))) {
      await queue.sendBatch(group.map((message) => ({ body: message.body, contentType: 'text' as const })));
      const last = group[group.length - 1]?.last ?? itemIndex;
      for (; itemIndex <= last; itemIndex++) sent += eventsOfItem[itemIndex] ?? 0;
      const lastRow = rowOfItem[last] ?? 0;
      const rowComplete = rowOfItem[last + 1] !== lastRow;
      this.sql.exec('DELETE FROM outbox WHERE id <= ?', rowComplete ? lastRow : lastRow - 1);
    }
    return { sent, more: rows.length === FLUSH_ROWS };
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
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Count `count` more drops for a reason on a day. */
  add(day: string, reason: DropReason, count: number): void {
    if (count <= 0) return;
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
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM drop_totals WHERE dirty = 1').one().n > 0;
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
    return this.outbox.pendingEvents() > 0 || this.drops.hasUnsent() ? Date.now() + FLUSH_DELAY_MS : null;
  }
}
