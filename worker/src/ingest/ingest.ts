import { sha256Hex } from '../shared/crypto.ts';
import { type AcceptedResponse, LIMITS } from '@tally/sdk/protocol';
import type { AdmitRequest, ProjectDO } from '../live/index.ts';
import { type DropReason, MAX_EVENT_BYTES, type PendingEvent, utf8Length } from '../pipeline/messages.ts';
import type { SiteConfig } from '../projects/index.ts';
import { ApiError, type FieldIssue } from '../shared/errors.ts';
import { fieldIssues } from '../shared/hono.ts';
import { enrichEvent } from './enrich.ts';
import { batchEnvelopeSchema, type ValidEvent, wireEventSchema } from './schema.ts';
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
  /** The request's `Accept-Language` header, or empty. */
  acceptLanguage: string;
  now: number;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** The 202 answer: ids of the events that were stored, and the events of a batch that were refused. */
export type IngestResult = AcceptedResponse;

/** An event that passed validation, with its index in the body as sent. */
interface IndexedEvent {
  index: number;
  event: ValidEvent;
}

/** An event refused on its own while the rest of its batch goes on. */
interface Rejection {
  index: number;
  error: ApiError;
}

/**
 * The ingest pipeline: validate → resolve site → hostname → bot → spam → enrich → admit.
 * Returns once every accepted event is durable (in the ProjectDO's outbox); throws `ApiError`
 * for every rejection of the request. An invalid event inside a batch is refused on its own and
 * listed in `rejected`; only when no event of the body is left does the request fail.
 */
export async function ingest(env: Env, request: IngestRequest): Promise<IngestResult> {
  const { events, rejected, at } = validate(request.body);
  const total = events.length + rejected.length;
  const site = await resolveSite(env, request, events, at);

  const drops: Partial<Record<DropReason, number>> = {};
  const admitted: AdmitRequest['events'] = [];
  // A batch is usually one visitor's: hash each IP and user agent pair once.
  const fingerprints = new Map<string, Promise<string>>();
  for (const { index, event } of events) {
    const userAgent = event.ua ?? request.userAgent;
    const reason = firstDrop(event, { site, userAgent });
    if (reason) {
      drops[reason] = (drops[reason] ?? 0) + 1;
      continue;
    }
    const ts = clampTimestamp(event.t, request.now);
    const pending: PendingEvent = enrichEvent(event, site.id, ts, request.now, {
      userAgent,
      cf: request.cf,
      acceptLanguage: request.acceptLanguage,
    });
    // JSON escaping grows text (a backslash in a property doubles at each encoding); an event
    // must still fit one queue message, or it could never leave the outbox.
    if (utf8Length(JSON.stringify(pending)) > MAX_EVENT_BYTES) {
      rejected.push({
        index,
        error: new ApiError(413, 'payload_too_large', 'The event is too large once encoded', [
          { path: at(index), message: `events are limited to ${MAX_EVENT_BYTES} bytes as stored` },
        ]),
      });
      continue;
    }
    const identity = `${event.ip ?? request.ip}\n${userAgent}`;
    const hashed = fingerprints.get(identity) ?? fingerprint(identity);
    fingerprints.set(identity, hashed);
    admitted.push({ fingerprint: await hashed, event: pending });
  }
  if (rejected.length === total) throw nothingLeft(rejected);

  const ids = await admit(env, {
    now: request.now,
    project: { id: site.id, timezone: site.timezone, limits: site.limits },
    events: admitted,
    drops,
  });
  if (!rejected.length) return { accepted: ids.length, ids };
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: ids.length, ids, rejected: rejected.map(({ index, error }) => ({ index, ...error.toBody() })) };
}

/** Builds a field path relative to the body as sent: `['u']` for one event, `[3, 'u']` in a batch. */
type PathOf = (index: number, ...rest: (string | number)[]) => (string | number)[];

/**
 * Check the body's shape, then each event on its own. A body that is not an event or a batch of
 * 1 to 50 is refused whole; so is one whose every event is invalid.
 */
function validate(body: unknown): { events: IndexedEvent[]; rejected: Rejection[]; at: PathOf } {
  const isBatch = Array.isArray(body);
  const at: PathOf = isBatch ? (index, ...rest) => [index, ...rest] : (_index, ...rest) => rest;
  if (isBatch) {
    const envelope = batchEnvelopeSchema.safeParse(body);
    if (!envelope.success) {
      throw new ApiError(400, 'invalid_input', 'The event is invalid', fieldIssues(envelope.error.issues));
    }
  }
  const events: IndexedEvent[] = [];
  const rejected: Rejection[] = [];
  for (const [index, raw] of (isBatch ? body : [body]).entries()) {
    const parsed = wireEventSchema.safeParse(raw);
    if (parsed.success) {
      events.push({ index, event: parsed.data });
      continue;
    }
    const details = fieldIssues(parsed.error.issues).map((issue) => ({ ...issue, path: at(index, ...issue.path) }));
    rejected.push({ index, error: new ApiError(400, 'invalid_input', 'The event is invalid', details) });
  }
  if (!events.length) throw nothingLeft(rejected);
  return { events, rejected, at };
}

/**
 * The answer when every event of a body was refused: a single event's own error, or for a batch
 * the first one's status and code with every event's details (their paths name the events).
 */
function nothingLeft(rejected: Rejection[]): ApiError {
  const sorted = [...rejected].sort((a, b) => a.index - b.index);
  const first = sorted[0]?.error;
  if (!first) return new ApiError(400, 'invalid_input', 'The event is invalid');
  if (sorted.length === 1) return first;
  const details = sorted.flatMap(({ error }) => (Array.isArray(error.details) ? error.details : []));
  const sameCode = sorted.every(({ error }) => error.code === first.code);
  const message = sameCode && first.code === 'invalid_input' ? 'Every event of the batch is invalid' : first.message;
  return new ApiError(first.status, first.code, message, details);
}

async function resolveSite(env: Env, request: IngestRequest, events: IndexedEvent[], at: PathOf): Promise<SiteConfig> {
  if (request.apiKey) {
    const site = await siteForApiKey(env, request.apiKey, request.ip, 'ingest', request.now, request.waitUntil);
    const foreign = events.find(({ event }) => event.s !== undefined && event.s !== site.siteKey);
    if (foreign) {
      throw new ApiError(403, 'forbidden', 'This API key belongs to another site', [
        { path: at(foreign.index, 's'), message: 'does not match the API key' },
      ]);
    }
    return site;
  }
  const issues: FieldIssue[] = [];
  for (const { index, event } of events) {
    if (event.ip !== undefined)
      issues.push({ path: at(index, 'ip'), message: 'only requests with an API key may set ip' });
    if (event.ua !== undefined)
      issues.push({ path: at(index, 'ua'), message: 'only requests with an API key may set ua' });
  }
  if (issues.length) throw new ApiError(403, 'forbidden', 'Only server-side requests may set ip or ua', issues);
  const [first] = events;
  const siteKey = first?.event.s;
  if (!siteKey)
    throw new ApiError(400, 'invalid_input', 'The event is invalid', [
      { path: [first?.index ?? 0, 's'], message: 'a site key is required' },
    ]);
  const other = events.find(({ event }) => event.s !== siteKey);
  if (other) {
    throw new ApiError(400, 'invalid_input', 'The event is invalid', [
      { path: at(other.index, 's'), message: 'all events of a batch must carry the same site key' },
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

/** SHA-256 of `${ip}\n${userAgent}`: all the ProjectDO sees of a visitor's identity. */
async function fingerprint(identity: string): Promise<string> {
  return sha256Hex(identity);
}
