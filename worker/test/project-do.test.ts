/**
 * The ProjectDO through its RPC surface: visitor ids and salts, visits, the live view and what
 * survives an eviction (rate limits: rate-limits.test.ts). Time is the `now` and `ts` each
 * admission carries; the clock is pinned only so that no alarm fires (and prunes or flushes)
 * behind a test's back.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RateLimits } from '../src/live/index.ts';
import { AdmissionLog, GENERATION_MS, type LogRow, STATE_HORIZON_MS } from '../src/live/log.ts';
import { generationTables } from '../src/live/schema.ts';
import { encodeState, VisitorStore, type VisitorState } from '../src/live/sessions.ts';
import {
  admitOne,
  DAY_D as D,
  DAY,
  freshProject,
  HOUR,
  MINUTE,
  outboxEvents,
  PINNED_NOW,
  randomFingerprint,
  SECOND,
  storedEventsOf,
  type TestProjectDO,
  utcDayOf as dayOf,
} from './fixtures.ts';

/**
 * Admit single events of one fingerprint at each time; returns the stored events in order. The
 * project's timezone defaults to Asia/Tokyo, whose midnight is 15:00 UTC, so that UTC midnight
 * (when visitor ids change) and local midnight (when visits end) are hours apart.
 */
async function visit(project: TestProjectDO, fingerprint: string, times: number[], timezone = 'Asia/Tokyo') {
  const ids: string[] = [];
  for (const ts of times) {
    const result = await admitOne(project.stub, project.id, fingerprint, ts, {}, undefined, timezone);
    if (!result.ok) expect.fail(`admission at ${new Date(ts).toISOString()} was refused`);
    ids.push(...result.ids);
  }
  return storedEventsOf(project.stub, ids);
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('visitor ids', () => {
  it('are equal within a day and a project for the same fingerprint, and differ between fingerprints', async () => {
    const project = await freshProject('pdo');
    const [alice, bob] = [randomFingerprint(), randomFingerprint()];
    const [morning, evening] = await visit(project, alice, [D + 8 * HOUR, D + 20 * HOUR]);
    const [other] = await visit(project, bob, [D + 8 * HOUR]);
    expect(morning?.visitorId).toMatch(/^[0-9a-f]{16}$/);
    expect(evening?.visitorId).toBe(morning?.visitorId);
    expect(evening?.sessionId).not.toBe(morning?.sessionId);
    expect(other?.visitorId).not.toBe(morning?.visitorId);
  });

  it('differ across days and across projects', async () => {
    const [first, second] = await Promise.all([freshProject('pdo'), freshProject('pdo')]);
    const fingerprint = randomFingerprint();
    const [today, tomorrow] = await visit(first, fingerprint, [D + 12 * HOUR, D + DAY + 12 * HOUR]);
    const [elsewhere] = await visit(second, fingerprint, [D + 12 * HOUR]);
    expect(tomorrow?.visitorId).not.toBe(today?.visitorId);
    expect(elsewhere?.visitorId).not.toBe(today?.visitorId);
  });
});

describe('salts', () => {
  const saltDays = (stub: TestProjectDO['stub']) =>
    runInDurableObject(stub, (_instance, state) =>
      state.storage.sql
        .exec<{ day: string }>('SELECT day FROM salts ORDER BY day')
        .toArray()
        .map((row) => row.day),
    );

  it('exist only for today and yesterday after admissions on three days', async () => {
    const project = await freshProject('pdo');
    await visit(project, randomFingerprint(), [D + HOUR, D + DAY + HOUR, D + 2 * DAY + HOUR]);
    const expected = [dayOf(D + DAY), dayOf(D + 2 * DAY)];
    expect(await saltDays(project.stub)).toEqual(expected);
    expect(await project.stub.rotateSalts(D + 2 * DAY + 2 * HOUR)).toEqual(expected);
  });

  it('are rotated on an idle object by rotateSalts, which deletes the old ones', async () => {
    const project = await freshProject('pdo');
    await visit(project, randomFingerprint(), [D + HOUR, D + DAY + HOUR]);
    expect(await saltDays(project.stub)).toEqual([dayOf(D), dayOf(D + DAY)]);
    expect(await project.stub.rotateSalts(D + 5 * DAY)).toEqual([dayOf(D + 5 * DAY)]);
    expect(await saltDays(project.stub)).toEqual([dayOf(D + 5 * DAY)]);
  });
});

describe('visits', () => {
  it('split after 30 minutes of silence', async () => {
    const t = D + 10 * HOUR;
    const [first, second, third] = await visit(await freshProject('pdo'), randomFingerprint(), [
      t,
      t + 29 * MINUTE,
      t + 60 * MINUTE,
    ]);
    expect(second).toMatchObject({ sessionId: first?.sessionId, seq: 2, isEntry: false });
    expect(first).toMatchObject({ seq: 1, isEntry: true });
    expect(third).toMatchObject({ seq: 1, isEntry: true });
    expect(third?.sessionId).not.toBe(first?.sessionId);
  });

  it('split at a gap of exactly 30:00.000, not at 29:59.999 (no gap of 30 minutes or more)', async () => {
    const t = D + 10 * HOUR;
    const [first, second, third] = await visit(await freshProject('pdo'), randomFingerprint(), [
      t,
      t + 30 * MINUTE - 1,
      t + 60 * MINUTE - 1,
    ]);
    expect(second).toMatchObject({ sessionId: first?.sessionId, seq: 2, isEntry: false });
    expect(third).toMatchObject({ seq: 1, isEntry: true });
    expect(third?.sessionId).not.toBe(first?.sessionId);
  });

  it('split at a gap of exactly 30 minutes across UTC midnight, where the new visit takes today’s id', async () => {
    const [before, after] = await visit(await freshProject('pdo'), randomFingerprint(), [
      D + DAY - 15 * MINUTE,
      D + DAY + 15 * MINUTE,
    ]);
    expect(after).toMatchObject({ seq: 1, isEntry: true });
    expect(after?.sessionId).not.toBe(before?.sessionId);
    expect(after?.visitorId).not.toBe(before?.visitorId);
  });

  it('follow the 30-minute rule for any gaps, across UTC midnight too (oracle)', async () => {
    const project = await freshProject('pdo');
    const gap = fc.oneof(
      fc.constantFrom(30 * MINUTE - 1, 30 * MINUTE, 30 * MINUTE + SECOND),
      fc.integer({ min: 0, max: 90 * MINUTE }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(gap, { minLength: 1, maxLength: 12 }), async (gaps) => {
        // Start at 20:00 so that many runs cross midnight; 12 gaps of ≤ 90 min never reach a second one.
        const times = [D + 20 * HOUR];
        for (const g of gaps) times.push((times.at(-1) as number) + g);
        const events = await visit(project, randomFingerprint(), times);
        let session = 0;
        let seq = 0;
        const expected = times.map((ts, i) => {
          const newVisit = i === 0 || ts - (times[i - 1] as number) >= 30 * MINUTE;
          if (newVisit) [session, seq] = [session + 1, 0];
          return { session, seq: ++seq, isEntry: newVisit };
        });
        const sessionIndex = new Map<string, number>();
        const actual = events.map((event) => {
          if (!sessionIndex.has(event.sessionId)) sessionIndex.set(event.sessionId, sessionIndex.size + 1);
          return { session: sessionIndex.get(event.sessionId), seq: event.seq, isEntry: event.isEntry };
        });
        expect(actual).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it('continue across UTC midnight with yesterday’s visitor id', async () => {
    const project = await freshProject('pdo');
    const [fingerprint, returning] = [randomFingerprint(), randomFingerprint()];
    const [before, after] = await visit(project, fingerprint, [D + DAY - 5 * MINUTE, D + DAY + 5 * MINUTE]);
    expect(after).toMatchObject({ sessionId: before?.sessionId, visitorId: before?.visitorId, seq: 2, isEntry: false });
    // Without an open visit, the new day's id applies.
    const [noon, nextDay] = await visit(project, returning, [D + 12 * HOUR, D + DAY + 5 * MINUTE]);
    expect(nextDay?.visitorId).not.toBe(noon?.visitorId);
  });

  it('end at midnight in the project’s timezone, however close the events', async () => {
    // 23:55 and 00:05 local: in UTC, and in Europe/Berlin (UTC+2 in May) at 21:55 and 22:05 UTC.
    for (const [timezone, midnight] of [
      ['UTC', D + DAY],
      ['Europe/Berlin', D + DAY - 2 * HOUR],
    ] as const) {
      const project = await freshProject('pdo');
      const times = [midnight - 10 * MINUTE, midnight - 5 * MINUTE, midnight + 5 * MINUTE, midnight + 6 * MINUTE];
      const [a, b, c, d] = await visit(project, randomFingerprint(), times, timezone);
      expect(b).toMatchObject({ sessionId: a?.sessionId, seq: 2 });
      expect(c).toMatchObject({ seq: 1, isEntry: true });
      expect(c?.sessionId).not.toBe(a?.sessionId);
      expect(d).toMatchObject({ sessionId: c?.sessionId, seq: 2 });
      // An event that arrives late for the day before does not join the new day's visit.
      const [late] = await visit(project, randomFingerprint(), [midnight - MINUTE], timezone);
      expect(late?.sessionId).not.toBe(c?.sessionId);
    }
  });

  it('continue across UTC midnight for the whole local day while events keep coming', async () => {
    // Asia/Tokyo's day D+1 runs from D 15:00 to D+1 15:00 UTC: 72 events 20 minutes apart fill it.
    const start = D + 15 * HOUR;
    const times = Array.from({ length: 72 }, (_, i) => start + i * 20 * MINUTE);
    const events = await visit(await freshProject('pdo'), randomFingerprint(), [...times, start + DAY]);
    expect(new Set(events.slice(0, -1).map((event) => event.sessionId)).size).toBe(1);
    expect(events.at(-2)?.seq).toBe(times.length);
    expect(events.at(-1)).toMatchObject({ seq: 1, isEntry: true });
  });
});

describe('live view', () => {
  it('lists visitors seen in the last 5 minutes with their pages and countries', async () => {
    const project = await freshProject('pdo');
    const now = D + 12 * HOUR;
    const seen: [number, string, string | null][] = [
      [now - 10 * MINUTE, '/', 'DE'],
      [now - 1 * MINUTE, '/pricing', 'DE'], // same visitor as above, now on /pricing
      [now - 2 * MINUTE, '/pricing', 'FR'],
      [now - 3 * MINUTE, '/blog', null],
      [now - 6 * MINUTE, '/old', 'US'],
    ];
    const first = randomFingerprint();
    for (const [i, [ts, path, country]] of seen.entries()) {
      await admitOne(project.stub, project.id, i < 2 ? first : randomFingerprint(), ts, { path, country });
    }
    const live = await project.stub.live(now);
    expect(live).toMatchObject({
      visitors: 3,
      pages: [
        { path: '/pricing', visitors: 2 },
        { path: '/blog', visitors: 1 },
      ],
      countries: [
        { country: 'DE', visitors: 1 },
        { country: 'FR', visitors: 1 },
        { country: null, visitors: 1 },
      ],
    });
    expect(live.recent.map((event) => event.path)).toEqual(seen.map(([, path]) => path).reverse());
  });
});

describe('eviction', () => {
  it('keeps salts, visits, buckets and the outbox', async () => {
    const project = await freshProject('pdo');
    const limits: RateLimits = { projectRate: 1, projectBurst: 3, visitorRate: 1000, visitorBurst: 1000 };
    const fingerprint = randomFingerprint();
    const t = D + 15 * HOUR;
    for (let i = 0; i < 3; i++)
      expect((await admitOne(project.stub, project.id, fingerprint, t, {}, limits)).ok).toBe(true);
    const before = await outboxEvents(project.stub);
    const salts = await project.stub.rotateSalts(t);

    await evictDurableObject(project.stub);

    expect(await project.stub.pendingEvents()).toBe(3);
    expect(await outboxEvents(project.stub)).toEqual(before);
    expect(await project.stub.rotateSalts(t)).toEqual(salts);
    expect((await admitOne(project.stub, project.id, fingerprint, t, {}, limits)).ok).toBe(false);
    const next = await admitOne(project.stub, project.id, fingerprint, t + SECOND, {}, limits);
    const [event] = await storedEventsOf(project.stub, next.ok ? next.ids : []);
    expect(event).toMatchObject({
      visitorId: before[0]?.visitorId,
      sessionId: before[0]?.sessionId,
      seq: 4,
      isEntry: false,
    });
  });
});

describe('the admission log', () => {
  it('is dropped by the object’s own alarm once no visit state in it can matter, even when idle', async () => {
    const project = await freshProject('pdo');
    const tables = () => runInDurableObject(project.stub, (_instance, state) => generationTables(state.storage.sql));
    await admitOne(project.stub, project.id, randomFingerprint(), PINNED_NOW);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    expect(await tables()).toHaveLength(1);
    // The flush done, the alarm waits for the generation to expire: 40 minutes of rows, 40 more of use.
    const expiry = PINNED_NOW + GENERATION_MS + STATE_HORIZON_MS;
    expect(await runInDurableObject(project.stub, (_instance, state) => state.storage.getAlarm())).toBe(expiry);
    vi.setSystemTime(expiry);
    expect(await runDurableObjectAlarm(project.stub)).toBe(true);
    expect(await tables()).toEqual([]);
    // Then only the salt keeps an alarm: the next midnight's.
    expect(await runInDurableObject(project.stub, (_instance, state) => state.storage.getAlarm())).toBe(
      D + DAY + 1_000,
    );
  });
});

describe('the visitor store', () => {
  const state = (key: string, seq: number): VisitorState => ({
    key,
    visitor: key,
    sessionId: `s-${key}`,
    lastSeen: PINNED_NOW + seq,
    liveAt: PINNED_NOW + seq,
    seq,
    page: '/',
    country: null,
    tokens: 10,
    tokensAt: PINNED_NOW,
  });
  const row = (visitor: VisitorState, id: number): LogRow => ({
    key: visitor.key,
    id,
    run: 'test',
    sentBelow: id + 1,
    events: 0,
    body: '',
    state: encodeState(visitor, { tokens: 1, at: PINNED_NOW }),
  });

  it('finds a visitor written before the object started by its key in the log, and prefers what it holds', async () => {
    const project = await freshProject('pdo');
    await runInDurableObject(project.stub, (_instance, ctx) => {
      const sql = ctx.storage.sql;
      new AdmissionLog(sql).append([row(state('a', 1), 1), row(state('b', 1), 2), row(state('a', 2), 3)], PINNED_NOW);
      // A store that starts later: the rows are the log's, not its memory's.
      const store = new VisitorStore(new AdmissionLog(sql));
      expect(store.get('a')).toEqual(state('a', 2));
      expect(store.rowId('a')).toBe(3);
      expect(store.get('nobody')).toBeNull();
      store.put(state('b', 5), 9);
      expect(store.get('b')).toEqual(state('b', 5));
      // A store that read the live view back holds the live visitors' latest states.
      const own = new VisitorStore(new AdmissionLog(sql));
      own.restore(new AdmissionLog(sql).writtenSince(0, 'another run', own.room()), PINNED_NOW);
      expect(own.needsRestore()).toBe(false);
      expect(own.get('b')).toEqual(state('b', 1));
      expect(own.get('nobody')).toBeNull();
    });
  });

  it('reads back no more live states than it has room for: the newest, behind those it holds', async () => {
    const project = await freshProject('pdo');
    await runInDurableObject(project.stub, (_instance, ctx) => {
      const sql = ctx.storage.sql;
      new AdmissionLog(sql).append(
        ['d', 'c', 'b', 'a'].map((key, i) => row(state(key, i + 1), i + 1)),
        PINNED_NOW,
      );
      const store = new VisitorStore(new AdmissionLog(sql), 3);
      store.put(state('e', 9), 9);
      const read: string[] = [];
      const entries = new AdmissionLog(sql).writtenSince(0, 'another run', store.room());
      store.restore(
        (function* () {
          for (const entry of entries) {
            read.push(entry.key);
            yield entry;
          }
        })(),
        PINNED_NOW,
      );
      // Two rows: room for three states, one held (one generation: read in key order).
      expect(read).toEqual(['a', 'b']);
      expect(store.live(PINNED_NOW + 10).visitors).toBe(3);
      // The restored are the least recent: the next state lets the older of them go first.
      store.put(state('f', 10), 10);
      expect(store.live(PINNED_NOW + 10).visitors).toBe(3);
      expect(store.rowId('b')).toBe(0);
      expect(store.rowId('a')).toBe(4);
    });
  });

  it('holds a bounded number of states, and finds one it let go in the log', async () => {
    const project = await freshProject('pdo');
    await runInDurableObject(project.stub, (_instance, ctx) => {
      // A log this store writes itself: nothing in it is older than the store.
      const log = new AdmissionLog(ctx.storage.sql);
      const store = new VisitorStore(log, 2);
      for (const [i, key] of ['a', 'b', 'c'].entries()) {
        log.append([row(state(key, 1), i + 1)], PINNED_NOW);
        store.put(state(key, 1), i + 1);
      }
      expect(store.live(PINNED_NOW + 1).visitors).toBe(2);
      // `a`, admitted first, was let go; the log has it.
      expect(store.get('a')).toEqual(state('a', 1));
      expect(store.rowId('a')).toBe(1);
      expect(store.get('nobody')).toBeNull();
    });
  });
});
