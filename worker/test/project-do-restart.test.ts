/**
 * What a ProjectDO costs and keeps when it starts again, and while the queue is down: a restart
 * reads a bounded number of rows and holds a bounded backlog in memory however long its log is
 * (or its old outbox table, after an upgrade); a backlog drained part-way goes on from where it
 * stopped; a long queue outage neither loops the alarm nor loses an event; a request that reaches
 * an object its alarm woke, before that alarm runs, does not make it forget what waits.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProjectDO } from '../src/live/index.ts';
import { GENERATION_MS, GENERATION_ROWS, STATE_HORIZON_MS } from '../src/live/log.ts';
import { migrateProjectStorage } from '../src/live/schema.ts';
import type { PendingEvent, QueueBody, StoredEvent } from '../src/pipeline/index.ts';
import { expectLogs } from './expected-logs.ts';
import {
  admitOne,
  admitRequest,
  freshProject,
  MINUTE,
  PINNED_NOW,
  pendingEvent,
  randomFingerprint,
  storedEvent,
  type TestProjectDO,
  utcDayOf,
  waitForEvents,
} from './fixtures.ts';

/** What the object holds in memory of what waits (its outbox's front). */
function held(stub: DurableObjectStub<ProjectDO>) {
  return runInDurableObject(stub, (instance: ProjectDO) =>
    (instance as unknown as { outbox: { held(): { rows: number; chars: number } } }).outbox.held(),
  );
}

/** A queue as the alarm sees it: refusing while `down`, else keeping every event it is sent. */
class TestQueue {
  down = false;
  /** `sendBatch` and `send` calls taken before the queue goes down by itself (null: no limit). */
  takes: number | null = null;
  readonly events: StoredEvent[] = [];
  refused = 0;

  private accept(bodies: QueueBody[]): void {
    if (this.takes !== null && this.takes-- <= 0) this.down = true;
    if (this.down) {
      this.refused++;
      throw new Error('Queue send failed: service unavailable');
    }
    for (const body of bodies) {
      const message = JSON.parse(body as string) as { kind: string; events?: StoredEvent[] };
      if (message.kind === 'events') this.events.push(...(message.events ?? []));
    }
  }

  readonly binding = {
    send: async (body: QueueBody) => this.accept([body]),
    sendBatch: async (messages: Iterable<{ body: QueueBody }>) => this.accept([...messages].map((m) => m.body)),
  };
}

/** Run the object's alarm handler with `queue` as its `EVENTS`; returns the alarm it set for next. */
async function alarmWith(stub: DurableObjectStub<ProjectDO>, queue: TestQueue): Promise<number | null> {
  return runInDurableObject(stub, async (instance: ProjectDO, state) => {
    const target = instance as unknown as { env: Env };
    const original = target.env;
    target.env = { ...original, EVENTS: queue.binding as unknown as Env['EVENTS'] };
    try {
      await instance.alarm();
    } finally {
      target.env = original;
    }
    return state.storage.getAlarm();
  });
}

/** The prototype of SqlStorage in this isolate (ask before the object whose start is counted is evicted). */
function sqlPrototype(stub: DurableObjectStub<ProjectDO>): Promise<{ exec: SqlStorage['exec'] }> {
  return runInDurableObject(stub, (_instance, state) => Object.getPrototypeOf(state.storage.sql));
}

/**
 * Rows read by SQL while `step` runs, an object's start included: every SqlStorage cursor made in
 * this isolate is counted (a start's statements run before `runInDurableObject` could wrap one
 * object's storage).
 */
async function rowsReadDuring(proto: { exec: SqlStorage['exec'] }, step: () => Promise<unknown>): Promise<number> {
  const exec = proto.exec;
  const cursors: { rowsRead: number }[] = [];
  proto.exec = function (this: SqlStorage, query: string, ...bindings: SqlStorageValue[]) {
    const cursor = exec.call(this, query, ...bindings);
    cursors.push(cursor);
    return cursor;
  } as SqlStorage['exec'];
  try {
    await step();
  } finally {
    proto.exec = exec;
  }
  return cursors.reduce((n, cursor) => n + cursor.rowsRead, 0);
}

/** Admit `requests` requests of 50 new visitors each (a row per visitor); returns the events' ids. */
async function admitMany(project: TestProjectDO, requests: number, at: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < requests; i++) {
    const events = Array.from({ length: 50 }, (): [string, PendingEvent] => [randomFingerprint(), pendingEvent()]);
    const result = await project.stub.admit(admitRequest(project.id, at, events));
    if (!result.ok) expect.fail('an admission was refused');
    ids.push(...result.ids);
  }
  return ids;
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a restart with a large log', () => {
  it('reads a bounded number of rows, holds a bounded backlog in memory, and sends every event once', async () => {
    const project = await freshProject('restart');
    const queue = new TestQueue();
    // Six generations of rows, none sent (the alarm never ran): a long outage's log.
    const ids = await admitMany(project, (6 * GENERATION_ROWS) / 50, PINNED_NOW);
    expect((await held(project.stub)).rows).toBeLessThanOrEqual(2_000);
    const proto = await sqlPrototype(project.stub);
    await evictDurableObject(project.stub);

    // The start (the alarm is odd: events wait) and a first request.
    let after: string[] = [];
    const read = await rowsReadDuring(proto, async () => {
      const result = await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + MINUTE);
      after = result.ok ? result.ids : [];
    });
    // The newest generation's last row and size (where the next row goes), not the backlog.
    expect(read).toBeLessThanOrEqual(GENERATION_ROWS + 100);
    expect((await held(project.stub)).rows).toBeLessThanOrEqual(2_000);
    expect(await project.stub.pendingEvents()).toBe(ids.length + 1);

    // Each alarm run sends pages of the backlog, never holding more than one.
    for (let run = 0; run < 10 && (await project.stub.pendingEvents()) > 0; run++) {
      await alarmWith(project.stub, queue);
      expect((await held(project.stub)).rows).toBeLessThanOrEqual(2_000);
    }
    expect(await project.stub.pendingEvents()).toBe(0);
    // In the order admitted, each once.
    expect(queue.events.map((event) => event.id)).toEqual([...ids, ...after]);
  }, 60_000);
});

describe('an upgrade from schema version 5 with a large old outbox (a queue outage at deploy time)', () => {
  it('holds no more than a round of it in memory, and sends every event of it once', async () => {
    const project = await freshProject('legacy');
    const ids: string[] = [];
    await runInDurableObject(project.stub, async (_instance, state) => {
      await state.storage.deleteAll();
      migrateProjectStorage(state.storage, PINNED_NOW, 5);
      const sql = state.storage.sql;
      sql.exec("INSERT INTO meta (key, value) VALUES ('project_id', ?)", project.id);
      sql.exec("INSERT INTO salts (day, salt) VALUES (?, 'today')", utcDayOf(PINNED_NOW));
      // 6,000 rows of 2 KB: 12 M characters, three times what memory may hold.
      for (let i = 0; i < 6_000; i++) {
        const event = storedEvent({ projectId: project.id, props: { pad: 'x'.repeat(2_000) } } as never);
        ids.push(event.id);
        sql.exec('INSERT INTO outbox (body, events) VALUES (?, 1)', JSON.stringify(event));
      }
      await state.storage.setAlarm(PINNED_NOW + 201);
    });
    await evictDurableObject(project.stub);

    const start = await held(project.stub);
    expect(start.rows).toBeLessThanOrEqual(2_000);
    expect(start.chars).toBeLessThanOrEqual(4_000_000);
    expect(await project.stub.pendingEvents()).toBe(ids.length);
    const after = await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + MINUTE);
    if (!after.ok) expect.fail('the admission was refused');

    const queue = new TestQueue();
    for (let run = 0; run < 10 && (await project.stub.pendingEvents()) > 0; run++) {
      await alarmWith(project.stub, queue);
      const { rows, chars } = await held(project.stub);
      expect(rows).toBeLessThanOrEqual(2_000);
      expect(chars).toBeLessThanOrEqual(4_000_000);
    }
    expect(await project.stub.pendingEvents()).toBe(0);
    expect(queue.events.map((event) => event.id).sort()).toEqual([...ids, ...after.ids].sort());
    const tables = await runInDurableObject(project.stub, (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'outbox'").toArray(),
    );
    expect(tables).toEqual([]);
  }, 60_000);
});

describe('a backlog drained part-way, then a restart', () => {
  it('goes on from where the drain stopped, sending each event once', async () => {
    expectLogs('warn', /ProjectDO flush failed/);
    const project = await freshProject('progress');
    const ids = await admitMany(project, (3 * GENERATION_ROWS) / 50, PINNED_NOW);
    const queue = new TestQueue();
    // The queue fails part-way through a round (a sendBatch carries a few hundred events).
    queue.takes = 40;
    await alarmWith(project.stub, queue);
    const sent = queue.events.length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(ids.length);
    const before = await project.stub.pendingEvents();
    expect(before).toBe(ids.length - sent);

    await evictDurableObject(project.stub);
    expect(await project.stub.pendingEvents()).toBe(before);
    queue.takes = null;
    queue.down = false;
    vi.setSystemTime(PINNED_NOW + 2 * MINUTE);
    for (let run = 0; run < 10 && (await project.stub.pendingEvents()) > 0; run++) await alarmWith(project.stub, queue);
    expect(await project.stub.pendingEvents()).toBe(0);
    expect(queue.events.map((event) => event.id)).toEqual(ids);
  }, 120_000);
});

describe('the first live view after a restart', () => {
  it('reads the rows of the visitors it restores and the newest events, not every row of the window', async () => {
    const project = await freshProject('restore');
    // 20,000 visitors in the last minute (330 requests a second): four generations.
    for (let i = 0; i < 400; i++) {
      const events = Array.from({ length: 50 }, (): [string, PendingEvent] => [randomFingerprint(), pendingEvent()]);
      const result = await project.stub.admit(admitRequest(project.id, PINNED_NOW + i * 100, events));
      if (!result.ok) expect.fail('an admission was refused');
    }
    vi.setSystemTime(PINNED_NOW + MINUTE);
    const proto = await sqlPrototype(project.stub);
    await evictDurableObject(project.stub);
    // The start reads the newest generation (where unsent rows begin); not counted here.
    expect(await project.stub.ping()).toBe('pong');
    let view = { visitors: 0, recent: 0 };
    const read = await rowsReadDuring(proto, async () => {
      view = await runInDurableObject(project.stub, (instance: ProjectDO) => {
        const live = instance.live();
        return { visitors: live.visitors, recent: live.recent.length };
      });
    });
    expect(view).toEqual({ visitors: 20_000, recent: 50 });
    // A row per visitor restored (memory keeps at most MAX_STATES: no more are read), and the
    // newest events' rows by key and id — before, every row of the last six minutes and a sort of
    // the newest generation (25,051 here).
    expect(read).toBeLessThanOrEqual(20_000 + 100);
  }, 120_000);
});

describe('a queue outage longer than the log keeps its rows', () => {
  it('brings the alarm back at the backoff, not at once, and loses nothing when the queue returns', async () => {
    const project = await freshProject('outage');
    const queue = new TestQueue();
    queue.down = true;
    expectLogs('warn', /ProjectDO flush failed/);
    const ids: string[] = [];
    const end = PINNED_NOW + 2 * (GENERATION_MS + STATE_HORIZON_MS);
    for (let now = PINNED_NOW; now < end; now += MINUTE) {
      vi.setSystemTime(now);
      if ((now - PINNED_NOW) % (10 * MINUTE) === 0) {
        const result = await admitOne(project.stub, project.id, randomFingerprint(), now);
        if (result.ok) ids.push(...result.ids);
      }
      const next = await alarmWith(project.stub, queue);
      // Past the first generation's expiry the alarm must still wait for the flush's backoff.
      expect(next).not.toBeNull();
      expect(next as number).toBeGreaterThan(Date.now());
    }
    expect(queue.refused).toBeGreaterThan(0);
    expect(await project.stub.pendingEvents()).toBe(ids.length);

    queue.down = false;
    vi.setSystemTime(end + 2 * MINUTE);
    await alarmWith(project.stub, queue);
    expect(queue.events.map((event) => event.id).sort()).toEqual([...ids].sort());
    expect(await project.stub.pendingEvents()).toBe(0);
  }, 60_000);
});

describe('an object its alarm woke', () => {
  it('that handles a request before the alarm still sends what the run before left waiting', async () => {
    const project = await freshProject('woken');
    const waiting = await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW);
    if (!waiting.ok) expect.fail('the first admission was refused');
    // The runtime clears a firing alarm before the object starts: the object finds none.
    await runInDurableObject(project.stub, (_instance, state) => state.storage.deleteAlarm());
    await evictDurableObject(project.stub);

    const next = await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + 1_000);
    if (!next.ok) expect.fail('the second admission was refused');
    expect(await project.stub.pendingEvents()).toBe(2);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    const stored = (await waitForEvents(project.id, 2)).map((row) => row.id);
    expect(stored).toEqual(expect.arrayContaining([...waiting.ids, ...next.ids]));
  });
});
