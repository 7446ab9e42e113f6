/**
 * Fixtures for the live (ProjectDO), outbox, pipeline and privacy tests: events, admission
 * requests, queue batches and a project row. Everything here builds inputs; nothing stubs a binding.
 */
import { createMessageBatch, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, vi } from 'vitest';
import type { AdmitRequest, ProjectDO, RateLimits } from '../src/live/index.ts';
import type { DropReason, PendingEvent, QueueBody, StoredEvent } from '../src/pipeline/index.ts';
import { enrichEvent } from '../src/ingest/enrich.ts';
import { generationTables } from '../src/live/schema.ts';
import { toHex, uuidv7 } from '../src/shared/ids.ts';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A UTC midnight well ahead of the real clock; tests speak of days D, D+1, D+2 from here. */
export const DAY_D = Date.UTC(2031, 4, 14);

/**
 * Noon of day D. The ProjectDO arms its alarm at `Date.now()` + 200 ms, and the test isolate shares
 * its (mocked) `Date` with the DO, so pinning the clock here means no alarm fires on its own: a
 * test that wants a flush runs it with `runDurableObjectAlarm`.
 */
export const PINNED_NOW = DAY_D + 12 * HOUR;

/** The UTC day (`YYYY-MM-DD`) of an instant. */
export function utcDayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Limits no test reaches, for tests about something other than rate limiting. */
export const NO_LIMITS: RateLimits = { projectRate: 1e6, projectBurst: 1e6, visitorRate: 1e6, visitorBurst: 1e6 };

/** A pageview as ingest hands it to the ProjectDO; override what the test is about. */
export function pendingEvent(overrides: Partial<PendingEvent> = {}): PendingEvent {
  const ts = overrides.ts ?? PINNED_NOW;
  // Through ingest's own enrichment, so that every column the catalog adds has its value here too.
  const enriched = enrichEvent({ n: 'pageview', u: 'https://example.com/', w: 1920 }, 'p-test', ts, ts, {
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    cf: { country: 'DE', timezone: 'Europe/Berlin' },
    acceptLanguage: '',
  });
  return { ...enriched, ...overrides };
}

/** An event as the ProjectDO stores it and the queue carries it. */
export function storedEvent(overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    ...pendingEvent(overrides),
    visitorId: '0123456789abcdef',
    sessionId: uuidv7(overrides.ts ?? PINNED_NOW),
    seq: 1,
    isEntry: true,
    ...overrides,
  };
}

/** A visitor fingerprint as ingest makes it (64 hex characters), fresh for each call. */
export function randomFingerprint(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** The ProjectDO of a project id. */
export function projectStub(projectId: string): DurableObjectStub<ProjectDO> {
  return env.PROJECT.get(env.PROJECT.idFromName(projectId));
}

/** A project id and its ProjectDO. */
export interface TestProjectDO {
  id: string;
  stub: DurableObjectStub<ProjectDO>;
}

/**
 * A project of its own (a row in D1, which the consumer requires before it stores events) and its
 * ProjectDO, so that tests never share state.
 */
export async function freshProject(prefix = 'p'): Promise<TestProjectDO> {
  const id = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await insertProject(id, `site-${id}`, 'example.com');
  return { id, stub: projectStub(id) };
}

/** The stored (outbox) form of the events with these ids, in that order. */
export async function storedEventsOf(
  stub: DurableObjectStub<ProjectDO>,
  ids: readonly string[],
): Promise<StoredEvent[]> {
  const byId = new Map((await outboxEvents(stub)).map((event) => [event.id, event]));
  return ids.map((id) => byId.get(id) ?? expect.fail(`event ${id} is not in the outbox`));
}

/** One admission: events of one request, each `[fingerprint, event]`. */
export function admitRequest(
  projectId: string,
  now: number,
  events: [fingerprint: string, event: PendingEvent][],
  options: { limits?: RateLimits; timezone?: string; drops?: Partial<Record<DropReason, number>> } = {},
): AdmitRequest {
  return {
    now,
    project: { id: projectId, timezone: options.timezone ?? 'UTC', limits: options.limits ?? NO_LIMITS },
    events: events.map(([fingerprint, event]) => ({ fingerprint, event: { ...event, projectId } })),
    drops: options.drops,
  };
}

/** Admit one event of `fingerprint` at `ts` (also the request's `now`); returns the admission result. */
export function admitOne(
  stub: DurableObjectStub<ProjectDO>,
  projectId: string,
  fingerprint: string,
  ts: number,
  overrides: Partial<PendingEvent> = {},
  limits: RateLimits = NO_LIMITS,
  timezone = 'UTC',
) {
  return stub.admit(
    admitRequest(projectId, ts, [[fingerprint, pendingEvent({ ts, ...overrides })]], { limits, timezone }),
  );
}

/**
 * The events a ProjectDO has admitted and still keeps in its admission log (sent or not), in the
 * order they were admitted — a request's events grouped by visitor — as the consumer receives them.
 */
export function outboxEvents(stub: DurableObjectStub<ProjectDO>): Promise<StoredEvent[]> {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    return generationTables(sql)
      .flatMap((table) =>
        sql.exec<{ id: number; body: string }>(`SELECT id, body FROM ${table} WHERE events > 0`).toArray(),
      )
      .sort((a, b) => a.id - b.id)
      .flatMap((row) => JSON.parse(`[${row.body}]`) as StoredEvent[]);
  });
}

/** The body of an `events` queue message. */
export function eventsBody(events: readonly StoredEvent[]): QueueBody {
  return JSON.stringify({ v: 1, kind: 'events', events });
}

let messageCounter = 0;

/**
 * A batch as a queue delivers it: one message per body, each on its `attempts`-th delivery. Pass
 * `ids` to redeliver messages of an earlier batch.
 */
export function messageBatch(
  queue: string,
  bodies: readonly unknown[],
  options: { attempts?: number; ids?: readonly string[] } = {},
): MessageBatch<QueueBody> {
  return createMessageBatch<QueueBody>(
    queue,
    bodies.map((body, i) => ({
      id: options.ids?.[i] ?? `msg-${++messageCounter}`,
      timestamp: new Date(),
      attempts: options.attempts ?? 1,
      body: body as QueueBody,
    })),
  );
}

/** A project that accepts events from `hostname`, inserted straight into D1. */
export async function insertProject(
  id: string,
  siteKey: string,
  hostname: string,
  rateLimits: RateLimits | null = null,
): Promise<void> {
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      'INSERT INTO projects (id, name, site_key, rate_limits, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).bind(id, id, siteKey, rateLimits && JSON.stringify(rateLimits), now, now),
    env.DB.prepare('INSERT INTO project_hostnames (project_id, hostname) VALUES (?, ?)').bind(id, hostname),
  ]);
}

/** Wait (up to 10 s, the queue delivers in about one) until D1 holds `count` events of a project. */
export async function waitForEvents(projectId: string, count: number): Promise<Record<string, unknown>[]> {
  return vi.waitFor(
    async () => {
      const { results } = await env.DB.prepare('SELECT * FROM events WHERE project_id = ? ORDER BY ts, seq')
        .bind(projectId)
        .all();
      if (results.length < count) throw new Error(`${results.length} of ${count} events in D1`);
      return results;
    },
    { timeout: 10_000, interval: 100 },
  );
}
