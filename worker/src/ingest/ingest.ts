import { sha256Hex } from '../shared/crypto.ts';
import { LIMITS } from '@tally/sdk/protocol';
import type { AdmitRequest, ProjectDO } from '../live/index.ts';
import { type DropReason, MAX_EVENT_BYTES, type PendingEvent, utf8Length } from '../pipeline/messages.ts';
import type { SiteConfig } from '../projects/index.ts';
import { ApiError, type FieldIssue } from '../shared/errors.ts';
import { fieldIssues } from '../shared/hono.ts';
import { enrichEvent } from './enrich.ts';
import { type ValidEvent, wireBatchSchema, wireEventSchema } from './schema.ts';
import { siteForApiKey, siteForKey } from './site.ts';
import { firstDrop } from './steps.ts';

/** One ingest request, as the router hands it over (no Hono context below this line). */
export interface IngestRequest {
  /** The parsed JSON body. */
  body: unknown;
  /** A secret API key, when the request carries one. */
  apiKey: string | null;
  /** `CF-Connecting-IP`. Never stored or logged: it only feeds the visitor hash. */
  ip: string;
  userAgent: string;
  cf: Partial<IncomingRequestCfProperties> | undefined;
  now: number;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** The 202 answer: ids of the events that were stored. Dropped events are not listed. */
export interface IngestResult {
  accepted: number;
  ids: string[];
}

/**
 * The ingest pipeline: validate → resolve site → hostname → bot → spam → enrich → admit.
 * Returns once every accepted event is durable (in the ProjectDO's outbox); throws `ApiError`
 * for every rejection.
 */
export async function ingest(env: Env, request: IngestRequest): Promise<IngestResult> {
  const { events, at } = validate(request.body);
  const site = await resolveSite(env, request, events, at);

  const drops: Partial<Record<DropReason, number>> = {};
  const admitted: AdmitRequest['events'] = [];
  for (const [index, event] of events.entries()) {
    const userAgent = event.ua ?? request.userAgent;
    const reason = firstDrop(event, { site, userAgent });
    if (reason) {
      drops[reason] = (drops[reason] ?? 0) + 1;
      continue;
    }
    const ts = clampTimestamp(event.t, request.now);
    const pending: PendingEvent = enrichEvent(event, site.id, ts, request.now, { userAgent, cf: request.cf });
    // JSON escaping grows text (a backslash in a property doubles at each encoding); an event
    // must still fit one queue message, or it could never leave the outbox.
    if (utf8Length(JSON.stringify(pending)) > MAX_EVENT_BYTES) {
      throw new ApiError(413, 'payload_too_large', 'An event is too large once encoded', [
        { path: at(index), message: `events are limited to ${MAX_EVENT_BYTES} bytes as stored` },
      ]);
    }
    admitted.push({ fingerprint: await fingerprint(event.ip ?? request.ip, userAgent), event: pending });
  }

  const result = await admit(env, {
    now: request.now,
    project: { id: site.id, timezone: site.timezone, limits: site.limits },
    events: admitted,
    drops,
  });
  return { accepted: result.length, ids: result };
}

/** Builds a field path relative to the body as sent: `['u']` for one event, `[3, 'u']` in a batch. */
type PathOf = (index: number, ...rest: (string | number)[]) => (string | number)[];

const singleEventSchema = wireEventSchema.transform((event) => [event]);

function validate(body: unknown): { events: ValidEvent[]; at: PathOf } {
  const isBatch = Array.isArray(body);
  const at: PathOf = isBatch ? (index, ...rest) => [index, ...rest] : (_index, ...rest) => rest;
  const parsed = isBatch ? wireBatchSchema.safeParse(body) : singleEventSchema.safeParse(body);
  if (parsed.success) return { events: parsed.data, at };
  throw new ApiError(400, 'invalid_input', 'The event is invalid', fieldIssues(parsed.error.issues));
}

async function resolveSite(env: Env, request: IngestRequest, events: ValidEvent[], at: PathOf): Promise<SiteConfig> {
  if (request.apiKey) {
    const site = await siteForApiKey(env, request.apiKey, request.ip, 'ingest', request.now, request.waitUntil);
    const foreign = events.findIndex((event) => event.s !== undefined && event.s !== site.siteKey);
    if (foreign !== -1) {
      throw new ApiError(403, 'forbidden', 'This API key belongs to another site', [
        { path: at(foreign, 's'), message: 'does not match the API key' },
      ]);
    }
    return site;
  }
  const issues: FieldIssue[] = [];
  events.forEach((event, index) => {
    if (event.ip !== undefined)
      issues.push({ path: at(index, 'ip'), message: 'only requests with an API key may set ip' });
    if (event.ua !== undefined)
      issues.push({ path: at(index, 'ua'), message: 'only requests with an API key may set ua' });
  });
  if (issues.length) throw new ApiError(403, 'forbidden', 'Only server-side requests may set ip or ua', issues);
  const siteKey = events[0]?.s;
  if (!siteKey)
    throw new ApiError(400, 'invalid_input', 'The event is invalid', [
      { path: [0, 's'], message: 'a site key is required' },
    ]);
  const other = events.findIndex((event) => event.s !== siteKey);
  if (other !== -1) {
    throw new ApiError(400, 'invalid_input', 'The event is invalid', [
      { path: at(other, 's'), message: 'all events of a batch must carry the same site key' },
    ]);
  }
  return siteForKey(env.DB, siteKey, request.now);
}

async function admit(env: Env, request: AdmitRequest): Promise<string[]> {
  const stub = env.PROJECT.get(env.PROJECT.idFromName(request.project.id)) as DurableObjectStub<ProjectDO>;
  let result: Awaited<ReturnType<ProjectDO['admit']>>;
  try {
    result = await stub.admit(request);
  } catch (error) {
    // NOTE: an `overloaded` DO must not be retried (retrying makes it worse); the client backs off.
    console.error('ProjectDO admit failed:', error instanceof Error ? error.message : String(error));
    throw new ApiError(503, 'unavailable', 'Events could not be stored; retry later', undefined, {
      'Retry-After': '5',
    });
  }
  if (!result.ok) {
    throw new ApiError(
      429,
      'rate_limited',
      result.scope === 'project' ? 'This site is sending too many events' : 'Too many events from this visitor',
      undefined,
      { 'Retry-After': String(result.retryAfter) },
    );
  }
  return result.ids;
}

/** Client time, clamped to now − 1 h … now + 5 min; server time when absent. */
export function clampTimestamp(clientTs: number | undefined, now: number): number {
  if (clientTs === undefined) return now;
  return Math.round(Math.min(now + LIMITS.futureMs, Math.max(now - LIMITS.pastMs, clientTs)));
}

/** SHA-256 of IP and user agent: all the ProjectDO sees of a visitor's identity. */
async function fingerprint(ip: string, userAgent: string): Promise<string> {
  return sha256Hex(`${ip}\n${userAgent}`);
}
