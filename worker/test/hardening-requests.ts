/**
 * Generated hostile requests (fast-check) for the malformed-input suite, and the one property every
 * answer must have: never a 5xx, and every rejection a 4xx from the documented set in the one error
 * shape. Requests are plain data (method, path, headers, body) so that a failure prints as the
 * request that caused it.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import { exports } from 'cloudflare:workers';
import fc from 'fast-check';
import {
  clientHeaders,
  contentTypes,
  credentials,
  HOSTILE_BODIES,
  HOSTILE_TEXT,
  jsonValue,
  METHODS,
  mutated,
  printable,
  queryString,
  segment,
} from './hardening-hostile.ts';
import { ORIGIN } from './helpers.ts';
import { type Route, validBody, type World } from './hardening-world.ts';

/**
 * Statuses a rejection may have. Besides the issue's list: 409, a conflict with stored state (an
 * email or a name in use), and 426, a WebSocket route asked for without `Upgrade: websocket`.
 */
export const REJECTION_STATUSES = new Set([400, 401, 403, 404, 405, 409, 413, 415, 426, 429]);

/** A request as data. */
export interface RequestSpec {
  method: string;
  /** Path and query string, already encoded (or deliberately mis-encoded). */
  target: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Send a spec through the real Worker. */
export function send(spec: RequestSpec): Promise<Response> {
  return exports.default.fetch(`${ORIGIN}${spec.target}`, {
    method: spec.method,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
}

/** A spec shortened for a failure message (bodies can be 64 KB). */
export function describeSpec(spec: RequestSpec): string {
  const body =
    spec.body === undefined
      ? ''
      : typeof spec.body === 'string'
        ? ` body ${JSON.stringify(spec.body.slice(0, 200))}${spec.body.length > 200 ? `…(${spec.body.length})` : ''}`
        : ` body <${spec.body.byteLength} bytes>`;
  const headers = Object.entries(spec.headers)
    .map(([name, value]) => `${name}: ${value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value}`)
    .join('; ');
  return `${spec.method} ${spec.target.slice(0, 300)} [${headers}]${body}`;
}

/**
 * What is wrong with an answer, or null: a 5xx, a rejection outside {@link REJECTION_STATUSES}, or a
 * rejection whose body is not exactly `{ "error": { "code", "message", "details?" } }`.
 */
export async function problemWith(spec: RequestSpec, res: Response): Promise<string | null> {
  const text = await res.text();
  if (res.status < 400) return null;
  if (!REJECTION_STATUSES.has(res.status)) return `${res.status}: ${text.slice(0, 300)}`;
  if (spec.method === 'HEAD') return null;
  if (!/^application\/json/.test(res.headers.get('content-type') ?? '')) {
    return `${res.status} with content-type ${res.headers.get('content-type')}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${res.status} with a body that is not JSON: ${text.slice(0, 100)}`;
  }
  const error = (body as { error?: Record<string, unknown> }).error;
  const keysOk =
    Object.keys(body as object).join() === 'error' &&
    error !== undefined &&
    Object.keys(error).every((key) => ['code', 'message', 'details'].includes(key));
  if (!keysOk || typeof error?.code !== 'string' || typeof error.message !== 'string' || !error.message.trim()) {
    return `${res.status} not in the error shape: ${text.slice(0, 200)}`;
  }
  return null;
}

/**
 * One generated request: mostly a documented route with its own method, real ids and a mutated
 * valid body, so that validation deep inside each route is reached; otherwise any method, a
 * hostile path, query string, headers and body.
 */
export function requestArbitrary(world: World, routes: Route[]): fc.Arbitrary<RequestSpec> {
  const { project, foreign } = world;
  const values: Record<string, [string, string]> = {
    id: [project.id, foreign.id],
    goalId: [project.goalId, foreign.goalId],
    funnelId: [project.funnelId, foreign.funnelId],
    shareId: [project.shareId, foreign.shareId],
    keyId: [project.keyId, foreign.keyId],
    userId: [project.memberUserId, world.stranger.userId],
    slug: [project.shareSlug, foreign.shareSlug],
    siteKey: [project.siteKey, foreign.siteKey],
  };
  const path = (template: string): fc.Arbitrary<string> => {
    const parts = template.split(/(\{\w+\})/).map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (!name) return fc.constant(part);
      // A parameter added after this file was written still gets hostile values.
      return segment(...(values[name] ?? ['unknown', 'unknown']));
    });
    return fc.tuple(...parts).map((pieces) => pieces.join(''));
  };
  const strayPath = fc.oneof(
    fc.constantFrom(
      '/',
      '/api',
      '/api/',
      '//api//projects',
      '/API/EVENT',
      `${EVENT_PATH}/`,
      '/api/projects/../auth/me',
      '/api/projects/%2e%2e/auth/me',
      '/api/v1',
      '/api/v1/query/../../auth/me',
      '/t.js',
      '/live.js',
      '/.env',
      '/wp-login.php',
    ),
    printable(60).map((text) => `/api/${encodeURIComponent(text)}`),
  );

  const routeRequest = fc.constantFrom(...routes).chain((route) => {
    const valid = validBody(route, project);
    const body = fc.oneof(
      { weight: valid === undefined ? 0 : 5, arbitrary: mutated(valid ?? {}).map((value) => JSON.stringify(value)) },
      { weight: 2, arbitrary: jsonValue.map((value) => JSON.stringify(value)) },
      { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_BODIES) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    return fc.record({
      method: fc.oneof(
        { weight: 5, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      path: path(route.template),
      query: queryString,
      auth: credentials(world),
      contentType: contentTypes,
      client: clientHeaders,
      body,
    });
  });
  const strayRequest = fc.record({
    method: fc.constantFrom(...METHODS),
    path: strayPath,
    query: queryString,
    auth: credentials(world),
    contentType: contentTypes,
    client: clientHeaders,
    body: fc.oneof(fc.constant(undefined), fc.constantFrom(...HOSTILE_BODIES)),
  });

  // Ingest is the endpoint the open internet reaches most: it gets a share of its own, with batches
  // and hostile text in every field of the wire protocol.
  const valid = validBody({ method: 'POST', template: EVENT_PATH }, project) as Record<string, unknown>;
  const hostile = fc.oneof(fc.constantFrom(...HOSTILE_TEXT), fc.string({ unit: 'binary', maxLength: 100 }));
  const hostileEvent = fc
    .record({
      n: fc.oneof(fc.constant('pageview'), hostile),
      u: fc.oneof(
        fc.constant('https://example.com/'),
        hostile.map((text) => `https://example.com/${text}`),
        hostile,
      ),
      r: hostile,
      p: fc.dictionary(hostile, fc.oneof(hostile, jsonValue), { maxKeys: 4 }),
      i: fc.oneof(fc.uuid(), hostile),
      ip: fc.oneof(fc.ipV4(), fc.ipV6(), hostile),
      ua: hostile,
      t: fc.oneof(fc.integer(), fc.double()),
      w: fc.oneof(fc.integer(), fc.double()),
    })
    .map((fields) => ({ ...valid, ...fields }));
  const event = fc.oneof(mutated(valid), hostileEvent);
  const ingestBody = fc.oneof(
    { weight: 4, arbitrary: event.map((value) => JSON.stringify(value)) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 60 }), fc.array(fc.tuple(fc.nat(59), event), { maxLength: 2 }))
        .map(([size, poison]) => {
          const batch: unknown[] = Array.from({ length: size }, (_, i) => ({
            ...valid,
            u: `https://example.com/${i}`,
          }));
          for (const [at, bad] of poison) batch[at % size] = bad;
          return JSON.stringify(batch);
        }),
    },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_BODIES) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  );
  const ingestRequest = fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constant('POST') },
      { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
    ),
    path: fc.constant(EVENT_PATH),
    query: queryString,
    auth: fc.oneof(
      { weight: 6, arbitrary: fc.constant({}) },
      { weight: 2, arbitrary: fc.constant({ authorization: `Bearer ${project.apiKey}` }) },
      { weight: 1, arbitrary: credentials(world) },
    ),
    contentType: fc.oneof({ weight: 4, arbitrary: fc.constant('text/plain') }, { weight: 3, arbitrary: contentTypes }),
    client: clientHeaders,
    body: ingestBody,
  });

  return fc
    .oneof(
      { weight: 6, arbitrary: routeRequest },
      { weight: 3, arbitrary: ingestRequest },
      { weight: 1, arbitrary: strayRequest },
    )
    .map((r) => {
      // A sign-out with a live session is valid whatever else the request says: it would end the
      // session the rest of the run uses. Sign-out itself is tested in auth-sessions.test.ts.
      const auth = /^\/api\/auth\/signout/.test(r.path) ? {} : r.auth;
      const headers: Record<string, string> = { ...r.client, ...auth };
      if (r.contentType) headers['content-type'] = r.contentType;
      const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
      // The runtime sets Content-Length from the body it sends; a stated one is kept only without a body.
      if (hasBody) delete headers['content-length'];
      return { method: r.method, target: `${r.path}${r.query}`, headers, ...(hasBody ? { body: r.body } : {}) };
    });
}
