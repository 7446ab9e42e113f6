/**
 * Fixtures shared by the worker's tests: projects and API keys written straight to D1, a way to
 * send events through the real Worker, and a way to wait for what the pipeline writes.
 */
import { markAllEventHoursStatement } from '../src/store/index.ts';
import type { WireEvent } from '@tally/sdk/protocol';
import { EVENT_PATH } from '@tally/sdk/protocol';
import { env, exports } from 'cloudflare:workers';
import { and, asc, eq } from 'drizzle-orm';
import { expect, vi } from 'vitest';
import { type ApiKeyScope, generateApiKey, hashApiKey } from '../src/auth/index.ts';
import { apiKeys, dropCounts, events, getDb, projectHostnames, projects } from '../src/db/index.ts';
import type { RateLimits } from '../src/live/rate-limit.ts';
import type { DropReason, StoredEvent } from '../src/pipeline/messages.ts';

/** Where tests send requests; the host is never looked at. */
export const ORIGIN = 'http://tally.test';

/** Real user agents, current at the time of writing. */
export const USER_AGENTS = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  headlessChrome:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
} as const;

/** Polling options for anything the pipeline writes asynchronously (DO alarm → queue → consumer). */
export const PIPELINE_WAIT = { timeout: 10_000, interval: 100 } as const;

/** A hostname a project accepts; a bare string means without subdomains. */
export type HostnameEntry = string | { hostname: string; includeSubdomains: boolean };

/** A project as the tests need it. */
export interface TestProject {
  id: string;
  siteKey: string;
}

/**
 * Insert a project with fresh ids (so that tests never share a ProjectDO or a cached site).
 *
 * @example
 * ```ts
 * const project = await createProject({ hostnames: ['example.com'], rateLimits: { projectBurst: 3 } });
 * ```
 */
export async function createProject(
  options: { hostnames?: HostnameEntry[]; rateLimits?: Partial<RateLimits>; timezone?: string } = {},
): Promise<TestProject> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const project = { id: `p_${suffix}`, siteKey: `site_${suffix}` };
  const now = Date.now();
  const db = getDb(env.DB);
  await db.insert(projects).values({
    id: project.id,
    name: `Project ${suffix}`,
    siteKey: project.siteKey,
    timezone: options.timezone ?? 'UTC',
    rateLimits: options.rateLimits ? JSON.stringify(options.rateLimits) : null,
    createdAt: now,
    updatedAt: now,
  });
  const hostnames = (options.hostnames ?? ['example.com']).map((entry) =>
    typeof entry === 'string' ? { hostname: entry, includeSubdomains: false } : entry,
  );
  if (hostnames.length) {
    await db.insert(projectHostnames).values(hostnames.map((entry) => ({ projectId: project.id, ...entry })));
  }
  return project;
}

/**
 * Insert an API key row the way the key-management API will: only the prefix and the HMAC with the
 * pepper (`test-pepper`, set in vitest.config.ts) are stored. Returns the whole key.
 */
export async function createApiKey(
  projectId: string,
  options: { scopes?: ApiKeyScope[]; expiresAt?: number | null; revokedAt?: number | null } = {},
): Promise<{ id: string; key: string }> {
  const { key, prefix } = generateApiKey();
  const id = crypto.randomUUID();
  await getDb(env.DB)
    .insert(apiKeys)
    .values({
      id,
      projectId,
      prefix,
      secretHash: await hashApiKey(env.API_KEY_PEPPER, key),
      name: 'test key',
      scopes: JSON.stringify(options.scopes ?? ['ingest']),
      createdAt: Date.now(),
      expiresAt: options.expiresAt ?? null,
      revokedAt: options.revokedAt ?? null,
    });
  return { id, key };
}

/** A pageview on https://example.com/ for a site key; override any field. */
export function pageview(siteKey: string | undefined, fields: Partial<WireEvent> = {}): WireEvent {
  return { ...(siteKey === undefined ? {} : { s: siteKey }), n: 'pageview', u: 'https://example.com/', ...fields };
}

/** How a test request differs from a browser's sendBeacon from Chrome on Windows. */
export interface PostOptions {
  /** Replaces the default headers (user agent, IP, content type) one by one; `null` removes one. */
  headers?: Record<string, string | null>;
  /** `request.cf`, e.g. `{ country: 'DE' }`. */
  cf?: Partial<IncomingRequestCfProperties>;
}

/**
 * POST a body to the ingest endpoint through the real Worker. Objects are sent as JSON text;
 * strings, byte arrays and streams are sent as they are.
 */
export function postEvent(body: unknown, options: PostOptions = {}): Promise<Response> {
  const headers = new Headers({
    'content-type': 'text/plain',
    'user-agent': USER_AGENTS.chromeWindows,
    'cf-connecting-ip': '203.0.113.7',
  });
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  const raw =
    typeof body === 'string' || body instanceof Uint8Array || body instanceof ReadableStream
      ? body
      : JSON.stringify(body);
  const init: RequestInit<IncomingRequestCfProperties> = { method: 'POST', headers, body: raw };
  if (options.cf) init.cf = options.cf as IncomingRequestCfProperties;
  return exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, init);
}

/** A project's stored events, oldest first (then by position in their visit). */
export function storedEvents(projectId: string): Promise<StoredEvent[]> {
  return getDb(env.DB)
    .select()
    .from(events)
    .where(eq(events.projectId, projectId))
    .orderBy(asc(events.ts), asc(events.seq))
    .all();
}

/** Wait until a project has exactly `count` stored events, and return them. */
export async function waitForEvents(projectId: string, count: number): Promise<StoredEvent[]> {
  return vi.waitFor(async () => {
    const rows = await storedEvents(projectId);
    if (rows.length !== count) throw new Error(`expected ${count} stored events, found ${rows.length}`);
    return rows;
  }, PIPELINE_WAIT);
}

/** Wait until a project's drop count for a reason (all days) reaches `count`, and return it. */
export async function waitForDrops(projectId: string, reason: DropReason, count: number): Promise<number> {
  return vi.waitFor(async () => {
    const rows = await getDb(env.DB)
      .select({ count: dropCounts.count })
      .from(dropCounts)
      .where(and(eq(dropCounts.projectId, projectId), eq(dropCounts.reason, reason)))
      .all();
    const total = rows.reduce((sum, row) => sum + row.count, 0);
    if (total < count) throw new Error(`expected ${count} ${reason} drops, found ${total}`);
    return total;
  }, PIPELINE_WAIT);
}

/** One failing field, as an error's `details` lists it. */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Assert that a response is a rejection with this status and code, in the one error shape
 * `{ error: { code, message, details? } }` and nothing else; returns the error.
 */
export async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<{ code: string; message: string; details?: FieldIssue[] }> {
  const body = (await response.json()) as { error: { code: string; message: string; details?: FieldIssue[] } };
  expect({ status: response.status, code: body.error?.code }, JSON.stringify(body)).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(body)).toEqual(['error']);
  const { details: _details, ...rest } = body.error;
  expect(rest).toEqual({ code, message: expect.stringMatching(/\S/) });
  return body.error;
}

/**
 * The statement that marks the hours of a project's events as not rolled up (the store's), as the
 * consumer does for what it writes: tests that insert events straight into D1 must run it, or the
 * stats API would read those days from (empty) rollups.
 */
export function markEventHoursStatement(projectId: string): D1PreparedStatement {
  return markAllEventHoursStatement(env.DB, projectId);
}
