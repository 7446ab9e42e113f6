/**
 * What the ProjectDO's storage costs: SQLite rows written and read, as its cursors count them
 * (`rowsWritten`, `rowsRead`: what Cloudflare bills), plus one row per `setAlarm` (billed as a
 * row written). Per single-event request at most 3 rows are written, for a quiet site (each event
 * followed by its own alarm) and a busy one; an alarm reads as many rows with 10,000 open visitors
 * as with 1,000. And what survives an eviction between a request and its alarm, or after it.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProjectDO, RateLimits } from '../src/live/index.ts';
import { GENERATION_ROWS } from '../src/live/log.ts';
import type { PendingEvent } from '../src/pipeline/index.ts';
import {
  admitOne,
  admitRequest,
  freshProject,
  MINUTE,
  PINNED_NOW,
  pendingEvent,
  randomFingerprint,
  SECOND,
  storedEventsOf,
  type TestProjectDO,
  waitForEvents,
} from './fixtures.ts';

/** Storage work, as billed: SQL rows read and written, and alarms set. */
interface Usage {
  rowsRead: number;
  rowsWritten: number;
  alarmsSet: number;
}

/**
 * Count what `step` makes the object do to its storage. Every statement's cursor is kept and read
 * at the end (a cursor counts the rows as they are consumed).
 */
async function usageOf(project: TestProjectDO, step: () => Promise<unknown>): Promise<Usage> {
  const cursors: { rowsRead: number; rowsWritten: number }[] = [];
  let alarmsSet = 0;
  await runInDurableObject(project.stub, (_instance, state) => {
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql);
    Object.assign(sql, {
      exec: (query: string, ...bindings: SqlStorageValue[]) => {
        const cursor = exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      },
    });
    const setAlarm = state.storage.setAlarm.bind(state.storage);
    Object.assign(state.storage, {
      setAlarm: (...args: Parameters<DurableObjectStorage['setAlarm']>) => {
        alarmsSet++;
        return setAlarm(...args);
      },
    });
  });
  try {
    await step();
  } finally {
    await runInDurableObject(project.stub, (_instance, state) => {
      delete (state.storage.sql as { exec?: unknown }).exec;
      delete (state.storage as { setAlarm?: unknown }).setAlarm;
    });
  }
  return {
    rowsRead: cursors.reduce((n, cursor) => n + cursor.rowsRead, 0),
    rowsWritten: cursors.reduce((n, cursor) => n + cursor.rowsWritten, 0),
    alarmsSet,
  };
}

const written = (usage: Usage) => usage.rowsWritten + usage.alarmsSet;

/** A project whose first event and alarm are behind it (its salt, its log's first generation). */
async function warmProject(): Promise<TestProjectDO> {
  const project = await freshProject('rows');
  await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW);
  expect(await runDurableObjectAlarm(project.stub)).toBe(true);
  return project;
}

/** A project with `count` visitors in open visits (admitted 50 to a request), all flushed. */
async function projectWithVisitors(count: number): Promise<TestProjectDO> {
  const project = await warmProject();
  for (let i = 0; i < count / 50; i++) {
    const events = Array.from({ length: 50 }, (): [string, PendingEvent] => [randomFingerprint(), pendingEvent()]);
    await project.stub.admit(admitRequest(project.id, PINNED_NOW, events));
  }
  await runDurableObjectAlarm(project.stub);
  return project;
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rows written per single-event request', () => {
  it('are at most 3 on a quiet site, where each event has its alarm to itself', async () => {
    const project = await warmProject();
    const returning = randomFingerprint();
    for (const [i, fingerprint] of [randomFingerprint(), returning, returning, randomFingerprint()].entries()) {
      const usage = await usageOf(project, async () => {
        await admitOne(project.stub, project.id, fingerprint, PINNED_NOW + (i + 1) * SECOND);
        expect(await runDurableObjectAlarm(project.stub)).toBe(true);
      });
      console.log(`quiet request ${i + 1}: ${JSON.stringify(usage)}`);
      // The log row, the alarm that flushes it, and the alarm set back to midnight.
      expect(usage).toMatchObject({ rowsWritten: 1, alarmsSet: 2 });
      expect(written(usage)).toBeLessThanOrEqual(3);
    }
  });

  it('are at most 3 on a busy site (about one), and a tenth of that per event in 10-event batches', async () => {
    const project = await warmProject();
    const visitors = Array.from({ length: 20 }, randomFingerprint);
    const busy = await usageOf(project, async () => {
      for (let i = 0; i < 200; i++) {
        await admitOne(project.stub, project.id, visitors[i % visitors.length] as string, PINNED_NOW + i * 10);
        // An alarm every 50 requests: 200 ms of a site taking 250 requests a second.
        if (i % 50 === 49) await runDurableObjectAlarm(project.stub);
      }
    });
    console.log(`busy, 200 requests: ${JSON.stringify(busy)}`);
    expect(written(busy) / 200).toBeLessThanOrEqual(1.1);

    const batches = await usageOf(project, async () => {
      for (let i = 0; i < 20; i++) {
        const fingerprint = randomFingerprint();
        const events = Array.from({ length: 10 }, (_, n): [string, PendingEvent] => [
          fingerprint,
          pendingEvent({ ts: PINNED_NOW + n }),
        ]);
        await project.stub.admit(admitRequest(project.id, PINNED_NOW + 5 * SECOND, events));
        await runDurableObjectAlarm(project.stub);
      }
    });
    console.log(`20 requests of 10 events, each with its alarm: ${JSON.stringify(batches)}`);
    expect(written(batches) / 200).toBeLessThanOrEqual(0.3);
  });
});

describe('rows read', () => {
  it('by an alarm do not grow with the visitors in open visits; by a request after a restart, one generation at most', async () => {
    const read: Record<number, { alarm: Usage; request: Usage }> = {};
    for (const count of [1_000, 10_000]) {
      const project = await projectWithVisitors(count);
      await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + SECOND);
      const alarm = await usageOf(project, () => runDurableObjectAlarm(project.stub));
      await evictDurableObject(project.stub);
      // The first request after the restart: a new visitor, looked up by key in the log (a seek per
      // generation), and the newest generation's size read once (where the row goes).
      const request = await usageOf(project, () =>
        admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + 2 * SECOND),
      );
      read[count] = { alarm, request };
      console.log(`${count} open visitors: alarm ${JSON.stringify(alarm)}, request ${JSON.stringify(request)}`);
    }
    expect(read[10_000]?.alarm.rowsRead).toBe(read[1_000]?.alarm.rowsRead);
    for (const { request } of Object.values(read)) expect(request.rowsRead).toBeLessThanOrEqual(GENERATION_ROWS + 10);
    expect(read[10_000]?.alarm.rowsRead).toBeLessThanOrEqual(5);
  });
});

describe('a new visitor on a site with more visitors than memory holds', () => {
  it('costs the same statements however many generations the log has', async () => {
    const project = await freshProject('generations');
    // 55,000 visitors in one minute: 11 generations of 5,000 rows, none expired, and more
    // visitors than MAX_STATES, so that memory has let some go and a miss looks in all the log.
    for (let i = 0; i < 1_100; i++) {
      const events = Array.from({ length: 50 }, (): [string, PendingEvent] => [randomFingerprint(), pendingEvent()]);
      const result = await project.stub.admit(admitRequest(project.id, PINNED_NOW + i * 50, events));
      if (!result.ok) expect.fail('an admission was refused');
    }
    const generations = await runInDurableObject(
      project.stub,
      (instance) => (instance as unknown as { log: { generations: number[] } }).log.generations.length,
    );
    expect(generations).toBeGreaterThan(10);
    const statements: string[] = [];
    await runInDurableObject(project.stub, (_instance, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      Object.assign(sql, {
        exec: (query: string, ...bindings: SqlStorageValue[]) => {
          statements.push(query);
          return exec(query, ...bindings);
        },
      });
    });
    try {
      await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW + MINUTE);
    } finally {
      await runInDurableObject(project.stub, (_instance, state) => {
        delete (state.storage.sql as { exec?: unknown }).exec;
      });
    }
    // The lookup (a seek per generation, one statement) and the row.
    expect(statements.length).toBeLessThanOrEqual(3);
  }, 240_000);
});

describe('an eviction', () => {
  const limits: RateLimits = { projectRate: 1, projectBurst: 3, visitorRate: 0.01, visitorBurst: 2 };

  it('between a request and its alarm loses nothing: the events are sent, visits and buckets go on', async () => {
    const project = await warmProject();
    const fingerprint = randomFingerprint();
    const [first] = await admitted(project, fingerprint, PINNED_NOW, limits);
    await evictDurableObject(project.stub);

    expect(await project.stub.pendingEvents()).toBe(1);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    expect(await project.stub.pendingEvents()).toBe(0);
    expect((await waitForEvents(project.id, 2)).map((row) => row.id)).toContain(first?.id);

    const [second] = await admitted(project, fingerprint, PINNED_NOW + MINUTE, limits);
    expect(second).toMatchObject({ sessionId: first?.sessionId, visitorId: first?.visitorId, seq: 2, isEntry: false });
    // The visitor's bucket (2, refilling one token in 100 s) is spent: a third event is refused.
    expect(await admitOne(project.stub, project.id, fingerprint, PINNED_NOW + MINUTE, {}, limits)).toMatchObject({
      ok: false,
      scope: 'visitor',
    });
  });

  it('after the alarm reads nothing back but the visitors it is asked about, and the live view once', async () => {
    const project = await warmProject();
    const [alice, bob] = [randomFingerprint(), randomFingerprint()];
    const [first] = await admitted(project, alice, PINNED_NOW, limits);
    await admitted(project, bob, PINNED_NOW, limits, '/pricing');
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    await evictDurableObject(project.stub);

    // Nothing waits: the even alarm says so, and no row is read to find out.
    const start = await usageOf(project, () => project.stub.pendingEvents());
    expect(start.rowsRead).toBeLessThanOrEqual(5);
    const [second] = await admitted(project, alice, PINNED_NOW + 2 * MINUTE, limits);
    expect(second).toMatchObject({ sessionId: first?.sessionId, seq: 2 });
    // The project's bucket (3, one a second) was full again: the restart forgave nothing that mattered.
    const live = await project.stub.live(PINNED_NOW + 2 * MINUTE);
    expect(live).toMatchObject({
      visitors: 3,
      pages: [
        { path: '/', visitors: 2 },
        { path: '/pricing', visitors: 1 },
      ],
    });
    expect(live.recent.map((event) => event.path)).toEqual(['/', '/pricing', '/', '/']);
  });

  it('woken by an alarm it could not see asks D1 which events were sent, and sends none twice', async () => {
    const project = await warmProject();
    await admitted(project, randomFingerprint(), PINNED_NOW, limits);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    await waitForEvents(project.id, 2);
    // The runtime clears a firing alarm before the object starts: the object finds none.
    await runInDurableObject(project.stub, (_instance, state) => state.storage.deleteAlarm());
    await evictDurableObject(project.stub);
    const sent = await runInDurableObject(project.stub, async (instance: ProjectDO) => {
      const target = instance as unknown as { env: Env };
      const bodies: unknown[] = [];
      const queue = {
        send: async (body: unknown) => bodies.push(body),
        sendBatch: async (m: unknown[]) => bodies.push(...m),
      };
      const original = target.env;
      target.env = { ...original, EVENTS: queue as unknown as Env['EVENTS'] };
      try {
        await instance.alarm();
      } finally {
        target.env = original;
      }
      return bodies.length;
    });
    expect(sent).toBe(0);
    // What it found out is written once, so that the next such start asks nothing.
    const marks = await runInDurableObject(project.stub, (_instance, state) =>
      state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'sent'").toArray(),
    );
    expect(marks).toHaveLength(1);
  });

  it('that leaves no alarm to read (an object woken by its own alarm) still finds what waits', async () => {
    const project = await warmProject();
    const [event] = await admitted(project, randomFingerprint(), PINNED_NOW, limits);
    await runInDurableObject(project.stub, (_instance, state) => state.storage.deleteAlarm());
    await evictDurableObject(project.stub);
    await runInDurableObject(project.stub, (instance: ProjectDO) => instance.alarm());
    expect((await waitForEvents(project.id, 2)).map((row) => row.id)).toContain(event?.id);
  });
});

/** Admit one event and return it as stored. */
async function admitted(project: TestProjectDO, fingerprint: string, at: number, limits: RateLimits, path = '/') {
  const result = await admitOne(project.stub, project.id, fingerprint, at, { path }, limits);
  if (!result.ok) expect.fail(`admission at ${at} was refused`);
  return storedEventsOf(project.stub, result.ids);
}
