/**
 * Ingest: `POST /api/event` takes one event or a batch from the tracker, the SDK or a server,
 * and answers 202 once the events are durable.
 *
 * @example
 * ```sh
 * curl -X POST https://HOST/api/event -H 'Content-Type: text/plain' \
 *   -d '{"s":"demo","n":"pageview","u":"https://example.com/","r":"https://www.google.com/"}'
 * # 202 {"accepted":1,"ids":["0193…"]}; in a batch, invalid events come back as "rejected": [{"index",…}]
 * ```
 */
import { API_KEY_HEADER, EVENT_PATH } from '@tally/sdk/protocol';
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { ApiError } from '../shared/errors.ts';
import { ErrorSchema, errorResponses } from '../shared/openapi.ts';
import { readJsonBody } from './body.ts';
import { ingest } from './ingest.ts';
import { wireBatchSchema, wireEventSchema } from './schema.ts';

export { clearSiteCache } from './site.ts';

/** The API key of a request: `Authorization: Bearer …` or `X-Tally-Key`. */
function apiKeyOf(headers: Headers): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.get('authorization') ?? '')?.[1];
  return bearer ?? headers.get(API_KEY_HEADER);
}

/** Routes mounted at the app's root. */
export const ingestRoutes = new Hono<{ Bindings: Env }>()
  // Public ingest is the only CORS surface: any site may send its events here.
  .use(
    EVENT_PATH,
    cors({
      origin: '*',
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization', API_KEY_HEADER],
      maxAge: 86_400,
    }),
  )
  .post(EVENT_PATH, async (c) => {
    const body = await readJsonBody(c.req.raw);
    const result = await ingest(c.env, {
      body,
      apiKey: apiKeyOf(c.req.raw.headers),
      ip: c.req.header('cf-connecting-ip') ?? '',
      userAgent: c.req.header('user-agent') ?? '',
      acceptLanguage: c.req.header('accept-language') ?? '',
      cf: c.req.raw.cf as Partial<IncomingRequestCfProperties> | undefined,
      now: Date.now(),
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    });
    return c.json(result, 202);
  })
  // The pixel: `<img src="https://HOST/api/event?s=SITE_KEY">` for pages and emails without
  // JavaScript. One pageview (or `n`) of `u`, else of the page the Referer header names.
  .get(EVENT_PATH, async (c) => {
    const query = c.req.query();
    const referer = c.req.header('referer');
    const event: Record<string, unknown> = { n: query.n ?? 'pageview', u: query.u ?? referer ?? '' };
    if (query.s !== undefined) event.s = query.s;
    if (query.r !== undefined) event.r = query.r;
    if (query.w !== undefined) event.w = Number(query.w);
    await ingest(c.env, {
      body: event,
      apiKey: null,
      ip: c.req.header('cf-connecting-ip') ?? '',
      userAgent: c.req.header('user-agent') ?? '',
      acceptLanguage: c.req.header('accept-language') ?? '',
      cf: c.req.raw.cf as Partial<IncomingRequestCfProperties> | undefined,
      now: Date.now(),
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    });
    return c.body(PIXEL.slice().buffer, 200, {
      'Content-Type': 'image/gif',
      'Cache-Control': 'no-store, max-age=0',
    });
  })
  .all(EVENT_PATH, () => {
    throw new ApiError(405, 'method_not_allowed', 'Send events with POST, or GET for the pixel');
  });

/** The `202` body (`AcceptedResponse` in the SDK's protocol module). */
const AcceptedSchema = z
  .object({
    accepted: z.number().int(),
    ids: z.array(z.string()),
    rejected: z
      .array(z.object({ index: z.number().int(), error: ErrorSchema.shape.error }))
      .optional()
      .openapi({ description: 'Events of the batch that were refused, by index; absent when none was' }),
  })
  .openapi('Accepted');

/** A transparent 1×1 GIF. */
const PIXEL = Uint8Array.from(atob('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'), (c) => c.charCodeAt(0));

/**
 * Describe `POST /api/event` in the OpenAPI document. It is registered by hand because its body
 * is parsed from `text/plain` as well as JSON (sendBeacon), before the zod schema checks it.
 */
export function registerIngestOpenApi(registry: OpenAPIHono['openAPIRegistry']): void {
  registry.registerPath({
    method: 'get',
    path: EVENT_PATH,
    tags: ['Ingest'],
    summary: 'The tracking pixel: one event from query parameters',
    description:
      'For pages and emails without JavaScript: `<img src="https://HOST/api/event?s=SITE_KEY" alt="">`. `u` defaults ' +
      "to the Referer header (often only the origin, under browsers' default referrer policy). Answers a 1×1 GIF.",
    security: [{}],
    request: {
      query: z.object({
        s: z.string().openapi({ description: 'Site key' }),
        n: z.string().optional().openapi({ description: 'Event name (default `pageview`)' }),
        u: z.string().optional().openapi({ description: 'Page URL (default: the Referer header)' }),
        r: z.string().optional().openapi({ description: 'Referrer' }),
        w: z.string().optional().openapi({ description: 'Screen width' }),
      }),
    },
    responses: {
      200: { description: 'Stored (or dropped as a bot)', content: { 'image/gif': { schema: z.string() } } },
      ...errorResponses(400, 404, 429),
    },
  });

  const body = z.union([wireEventSchema, wireBatchSchema]).openapi('EventBody');
  registry.registerPath({
    method: 'post',
    path: EVENT_PATH,
    tags: ['Ingest'],
    summary: 'Send one event or a batch of up to 50',
    description:
      'Public (CORS). `202` means the events are durable. Bots, referrer spam and foreign hostnames are answered ' +
      '`202` too but not stored (`accepted` counts what was stored). An invalid event inside a batch is refused on its ' +
      'own: the others are stored and `rejected` lists it by index with its error (field paths relative to the body); ' +
      'a body whose every event is invalid is a `400`. `ip` and `ua` need an API key with the `ingest` scope.',
    security: [{}, { bearer: [] }],
    request: {
      body: { content: { 'application/json': { schema: body }, 'text/plain': { schema: body } }, required: true },
    },
    responses: {
      202: {
        description: 'Accepted and durable',
        content: { 'application/json': { schema: AcceptedSchema } },
      },
      ...errorResponses(400, 401, 403, 404, 429),
      413: {
        description: 'Body over 64 KB, or an event over 100 KB once encoded',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      415: { description: 'Not JSON or text/plain', content: { 'application/json': { schema: ErrorSchema } } },
      503: {
        description: 'Could not be made durable; retry after `Retry-After`',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    },
  });
}
