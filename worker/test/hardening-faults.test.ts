/**
 * Faults between a 202 and D1: the ProjectDO restarted mid-flood, the queue refusing sends, the
 * consumer crashing before and after its write on 30% of batches, D1 overloaded, reset and
 * unreachable, an outage long enough to send messages to the dead-letter queue; the ProjectDO aborted
 * with admissions in flight, and admissions failing outright. Every event that was answered 202
 * must be in D1 at the end, and nothing else; what could not be made durable is a 503 with Retry-After.
 * (Exactly once by construction: events are keyed by (project_id, id), so a table count of
 * duplicates could not fail; what can fail is an event lost, or a row no 202 answered.)
 * Figures: lost 0, unexpected 0.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import {
  createExecutionContext,
  evictDurableObject,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PINNED_NOW, projectStub } from './fixtures.ts';
import { app } from '../src/app.ts';
import { PASSWORD, signUp } from './accounts.ts';
import { createProject, expectError, ORIGIN, pageview, postEvent, type TestProject, USER_AGENTS } from './helpers.ts';
import { D1_TRANSIENT_ERRORS, QueueSimulator, seededRandom } from './hardening-queue.ts';
import { DELIBERATE_CRASH } from './deliberate-crash.ts';
import { expectLogs } from './expected-logs.ts';

const NO_LIMITS = { projectRate: 1e6, projectBurst: 1e6, visitorRate: 1e6, visitorBurst: 1e6 };

beforeEach(() => {
  // Pinned: the ProjectDO's alarm never fires on its own, so every flush goes through the simulator.
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/** What a flood did: the ids answered 202, and how many requests had to be sent again. */
interface Flood {
  projectId: string;
  accepted: Set<string>;
  requests: number;
  retried: number;
  statuses: Record<number, number>;
}

/**
 * Send `requests` requests of 1–5 events each, `concurrency` at a time, each event with a client
 * id so that a retried request is stored once. A request answered anything but 202 is retried (as
 * the tracker does) until it is accepted. `midway` runs once, when half the requests have started.
 */
async function flood(
  project: TestProject,
  requests: number,
  concurrency: number,
  midway: () => Promise<void>,
  random: () => number,
): Promise<Flood> {
  const result: Flood = { projectId: project.id, accepted: new Set(), requests: 0, retried: 0, statuses: {} };
  let started = 0;
  let midwayDone: Promise<void> | null = null;
  const one = async (n: number) => {
    const size = 1 + Math.floor(random() * 5);
    const body = Array.from({ length: size }, (_, i) =>
      pageview(project.siteKey, { u: `https://example.com/${n}/${i}`, i: crypto.randomUUID() }),
    );
    const ip = `198.51.${n % 200}.${Math.floor(random() * 250)}`;
    for (let attempt = 0; ; attempt++) {
      const res = await postEvent(body, { headers: { 'cf-connecting-ip': ip } });
      result.requests++;
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      if (res.status === 202) {
        const { ids } = (await res.json()) as { ids: string[] };
        expect(ids.sort()).toEqual(body.map((event) => event.i).sort());
        for (const id of ids) result.accepted.add(id);
        return;
      }
      await res.body?.cancel();
      expect([429, 503], `status ${res.status}`).toContain(res.status);
      expect(attempt).toBeLessThan(20);
      result.retried++;
    }
  };
  const lane = async () => {
    while (started < requests) {
      const n = started++;
      if (n === Math.floor(requests / 2)) midwayDone = midway();
      await one(n);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  await midwayDone;
  return result;
}

/**
 * Abort a ProjectDO as a crash would: in-flight calls fail, memory is lost, storage is kept. The
 * reason marks workerd's report of it as expected (deliberate-crash.ts).
 */
async function crash(projectId: string): Promise<void> {
  await runInDurableObject(projectStub(projectId), (_instance, state) => {
    state.abort(DELIBERATE_CRASH);
  }).catch(() => undefined);
}

/** D1's view of a project's events: its rows, and their ids. */
async function stored(projectId: string) {
  const { results } = await env.DB.prepare('SELECT id FROM events WHERE project_id = ?')
    .bind(projectId)
    .all<{ id: string }>();
  return { total: results.length, ids: new Set(results.map((r) => r.id)) };
}

describe('every 202 reaches D1', () => {
  it('through DO restarts, refused sends, crashing consumers, D1 errors and a dead-letter replay', async () => {
    // The outbox logs each send the simulated queue refuses, and retries it: expected here.
    const refusedSends = expectLogs('warn', /Queue send failed: service unavailable/);
    const random = seededRandom(8);
    const projects = [
      await createProject({ rateLimits: NO_LIMITS }),
      await createProject({ rateLimits: NO_LIMITS }),
      await createProject({ rateLimits: NO_LIMITS }),
    ];
    const queues = new QueueSimulator({ crashBefore: 0.15, crashAfter: 0.15, d1Before: 0.1, d1After: 0.05 }, random);
    const floods: Flood[] = [];
    const WAVES = 8;

    for (let wave = 0; wave < WAVES; wave++) {
      // Wave 2: one project's object is evicted (memory gone, storage kept) in the middle of its traffic.
      // Wave 6: it crashes (aborts) with requests in flight.
      const midway =
        wave === 2
          ? () => evictDurableObject(projectStub(projects[0]?.id ?? '')).catch(() => undefined)
          : wave === 6
            ? () => crash(projects[0]?.id ?? '')
            : async () => undefined;
      for (const [index, project] of projects.entries()) {
        for (let part = 0; part < 4; part++) {
          const during = index === 0 && part === 1 ? midway : async () => undefined;
          floods.push(await flood(project, 6, 6, during, random));
          // Every fourth wave the queue refuses the first sends: the outbox keeps the events meanwhile.
          await queues.flush(project.id, wave % 4 === 1 ? 2 : 0);
          expect(await projectStub(project.id).pendingEvents()).toBe(0);
        }
      }
      // Wave 3: D1 writes a batch, then fails (the answer is lost): forced, so that the redelivery of
      // what D1 already holds is exercised whatever the seed.
      if (wave === 3) queues.failAfterWrite = 2;
      if (wave === 4) {
        // D1 is down for longer than the main queue retries: what is queued moves to the dead-letter queue.
        queues.outage = true;
        while (queues.waiting.main > 0) await queues.deliverRound({ deadLetter: false });
        queues.outage = false;
      } else {
        // Some of what is queued is delivered now; the rest waits while the next wave arrives.
        for (let round = 0; round < 3; round++) await queues.deliverRound();
      }
    }
    await queues.drain();

    const accepted = new Set(floods.flatMap((f) => [...f.accepted]));
    let lost = 0;
    let unexpected = 0;
    let rows = 0;
    for (const project of projects) {
      const mine = new Set(floods.filter((f) => f.projectId === project.id).flatMap((f) => [...f.accepted]));
      const inD1 = await stored(project.id);
      rows += inD1.total;
      lost += [...mine].filter((id) => !inD1.ids.has(id)).length;
      unexpected += [...inD1.ids].filter((id) => !mine.has(id)).length;
    }
    const requests = floods.reduce((n, f) => n + f.requests, 0);
    const retried = floods.reduce((n, f) => n + f.retried, 0);
    const { counts } = queues;
    console.log(
      `faults: ${accepted.size} events answered 202 in ${requests} requests to ${projects.length} projects ` +
        `(${retried} answered 429/503 and sent again); ${counts.deliveries} deliveries ` +
        `(${counts.crashedBeforeWrite} crashed before the write, ${counts.crashedAfterWrite} after), ` +
        `${counts.d1FailedBefore + counts.d1FailedAfter} D1 errors (${counts.d1FailedAfter} after writing), ` +
        `${counts.sendsRefused} refused sends, ${counts.movedToDeadLetter} messages replayed from the dead-letter queue; ` +
        `COUNT(*) ${rows}, lost ${lost}, unexpected ${unexpected}`,
    );
    expect({ lost, unexpected, expired: counts.expired }).toEqual({
      lost: 0,
      unexpected: 0,
      expired: 0,
    });
    expect(rows).toBe(accepted.size);
    // The plan did strike: about a third of deliveries crashed, D1 failed before and after writing,
    // and the dead-letter queue replayed what the main queue gave up on.
    expect(counts.crashedBeforeWrite + counts.crashedAfterWrite).toBeGreaterThan(counts.deliveries * 0.15);
    expect(counts.deliveries).toBeGreaterThan(100);
    expect(counts.d1FailedAfter).toBeGreaterThan(0);
    expect(counts.movedToDeadLetter).toBeGreaterThan(0);
    expect(counts.sendsRefused).toBeGreaterThan(0);
    expect(refusedSends.lines.length).toBeGreaterThan(0);
    const { results: quarantined } = await env.DB.prepare('SELECT body FROM quarantine').all<{ body: string }>();
    expect(quarantined.filter((row) => projects.some((p) => row.body.includes(p.id)))).toEqual([]);
  }, 120_000);
});

describe('when the ProjectDO is aborted with admissions in flight', () => {
  it('answers each request 202 (stored exactly once) or 503 with Retry-After, never anything else', async () => {
    // Each 503 is an admission the abort broke, and the Worker logs why.
    const admitFailures = expectLogs('error', /^ProjectDO admit failed: /);
    const random = seededRandom(86);
    const project = await createProject({ rateLimits: NO_LIMITS });
    const REQUESTS = 120;
    const ABORT_AFTER = [20, 60];
    const bodies = Array.from({ length: REQUESTS }, (_, n) =>
      Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) =>
        pageview(project.siteKey, { u: `https://example.com/${n}/${i}`, i: crypto.randomUUID() }),
      ),
    );
    // All requests start at once; the object is aborted (twice) while the rest are still in flight.
    let answered = 0;
    const aborts: Promise<void>[] = [];
    const answers = await Promise.all(
      bodies.map(async (body, n) => {
        const res = await postEvent(body, { headers: { 'cf-connecting-ip': `198.51.100.${n % 250}` } });
        answered++;
        if (ABORT_AFTER.includes(answered)) aborts.push(crash(project.id));
        const answer = { body, status: res.status, retryAfter: res.headers.get('retry-after'), ids: [] as string[] };
        if (res.status === 202) answer.ids = ((await res.json()) as { ids: string[] }).ids;
        else await res.body?.cancel();
        return answer;
      }),
    );
    await Promise.all(aborts);
    const queues = new QueueSimulator({ crashBefore: 0, crashAfter: 0, d1Before: 0, d1After: 0 }, random);
    await queues.flush(project.id);
    await queues.drain();

    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 503);
    const other = answers.filter((a) => a.status !== 202 && a.status !== 503).map((a) => a.status);
    const inD1 = await stored(project.id);
    const acceptedIds = accepted.flatMap((a) => a.ids);
    const lost = acceptedIds.filter((id) => !inD1.ids.has(id)).length;
    // A 503 may come after the outbox write committed (the answer was lost, not the events): the
    // client retries with the same event ids, which are stored once. Counted, not failed.
    const refusedButStored = refused.flatMap((a) => a.body.map((e) => e.i)).filter((id) => inD1.ids.has(id ?? ''));
    console.log(
      `faults (ProjectDO aborted twice with admissions in flight): ${REQUESTS} requests, ` +
        `${accepted.length} answered 202 (${acceptedIds.length} events), ${refused.length} answered 503 with Retry-After ` +
        `(${refusedButStored.length} of their events stored anyway, for a retry to find); ` +
        `COUNT(*) ${inD1.total}, lost ${lost}`,
    );
    expect(other).toEqual([]);
    expect(refused.every((a) => a.retryAfter !== null && /^\d+$/.test(a.retryAfter))).toBe(true);
    for (const a of accepted) expect(a.ids.sort()).toEqual(a.body.map((e) => e.i).sort());
    expect(lost).toBe(0);
    expect(inD1.total).toBe(acceptedIds.length + refusedButStored.length);
    // The aborts struck requests in flight (with this seed and timing: 2 of 120), and spared the rest.
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(REQUESTS / 2);
    expect(admitFailures.lines).toEqual(refused.map(() => `ProjectDO admit failed: ${DELIBERATE_CRASH}`));
  }, 60_000);
});

/**
 * An env whose ProjectDO refuses every admission the way a Durable Object does when it is
 * overloaded or unreachable, or its storage is full. Everything else is real.
 */
function envWithFailingDurableObject(message: string): Env {
  const stub = { admit: () => Promise.reject(new Error(message)) };
  const namespace = { idFromName: (name: string) => env.PROJECT.idFromName(name), get: () => stub };
  return { ...env, PROJECT: namespace as unknown as Env['PROJECT'] };
}

describe('when events cannot be made durable (the admission fails)', () => {
  it('answers 503 with Retry-After, never 202, and stores nothing', async () => {
    vi.useRealTimers();
    const admitFailures = expectLogs('error', /^ProjectDO admit failed: /);
    const project = await createProject({ hostnames: ['example.com'] });
    const messages = [
      'Durable Object is overloaded',
      'Network connection lost',
      'SQLITE_FULL: database or disk is full',
    ];
    let unavailable = 0;
    for (const message of messages) {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`${ORIGIN}${EVENT_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'user-agent': USER_AGENTS.firefoxWindows },
          body: JSON.stringify([pageview(project.siteKey), pageview(project.siteKey, { u: 'https://example.com/2' })]),
        }),
        envWithFailingDurableObject(message),
        ctx,
      );
      await waitOnExecutionContext(ctx);
      const error = await expectError(res, 503, 'unavailable');
      expect(res.headers.get('retry-after'), message).toMatch(/^\d+$/);
      // The cause stays in the logs: nothing internal reaches the client.
      expect(error.message).not.toContain(message);
      unavailable++;
    }
    const inD1 = await stored(project.id);
    console.log(
      `faults (admission failed: ${messages.length} causes): ${unavailable} of ${messages.length} answered 503 ` +
        `with Retry-After, 0 answered 202; COUNT(*) ${inD1.total}, pending ${await projectStub(project.id).pendingEvents()}`,
    );
    expect(inD1.total).toBe(0);
    // The cause stays in the logs.
    expect(admitFailures.lines).toEqual(messages.map((message) => `ProjectDO admit failed: ${message}`));
  });
});

describe('when D1 is overloaded or resetting during a request', () => {
  it.each(D1_TRANSIENT_ERRORS)('answers 503 with Retry-After, never 500 or the D1 text (%s)', async (message) => {
    vi.useRealTimers();
    const logged = expectLogs('error', /^storage unavailable \(store_unavailable\): /);
    const project = await createProject();
    const user = await signUp();
    const failing = new Proxy(env.DB, {
      get(target, property) {
        if (property === 'prepare' || property === 'batch' || property === 'exec') {
          return () => {
            throw new Error(message);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const requests = [
      new Request(`${ORIGIN}${EVENT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': USER_AGENTS.firefoxWindows },
        body: JSON.stringify(pageview(project.siteKey)),
      }),
      new Request(`${ORIGIN}/api/projects`, { headers: user.headers }),
      new Request(`${ORIGIN}/api/auth/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: ORIGIN },
        body: JSON.stringify({ email: user.email, password: PASSWORD, mode: 'token' }),
      }),
    ];
    for (const request of requests) {
      const ctx = createExecutionContext();
      const res = await app.fetch(request, { ...env, DB: failing }, ctx);
      await waitOnExecutionContext(ctx);
      const error = await expectError(res, 503, 'store_unavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(error.message).not.toContain('D1');
    }
    expect(await projectStub(project.id).pendingEvents()).toBe(0);
    // The cause stays in the logs, once per request.
    expect(logged.lines).toEqual(requests.map(() => `storage unavailable (store_unavailable): ${message}`));
  });
});
