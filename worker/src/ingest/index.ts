/**
 * Ingest: `POST /api/event` takes one event or a batch from the tracker, the SDK or a server,
 * and answers 202 once the events are durable.
 *
 * @example
 * ```sh
 * curl -X POST https://HOST/api/event -H 'Content-Type: text/plain' \
 *   -d '{"s":"demo","n":"pageview","u":"https://example.com/","r":"https://www.google.com/"}'
 * # 202 {"accepted":1,"ids":["0193…"]}
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
      cf: c.req.raw.cf as Partial<IncomingRequestCfProperties> | undefined,
      now: Date.now(),
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    });
    return c.json(result, 202);
  })
  .all(EVENT_PATH, () => {
    throw new ApiError(405, 'method_not_allowed', 'Send events with POST');
  });

/**
 * Describe `POST /api/event` in the OpenAPI document. It is registered by hand because its body
 * is parsed from `text/plain` as well as JSON (sendBeacon), before the zod schema checks it.
 */
export function registerIngestOpenApi(registry: OpenAPIHono['openAPIRegistry']): void {
  const body = z.union([wireEventSchema, wireBatchSchema]).openapi('EventBody');
  registry.registerPath({
    method: 'post',
    path: EVENT_PATH,
    tags: ['Ingest'],
    summary: 'Send one event or a batch of up to 50',
    description:
      'Public (CORS). `202` means the events are durable. Bots, referrer spam and foreign hostnames are answered ' +
      '`202` too but not stored (`accepted` counts what was stored). `ip` and `ua` need an API key with the `ingest` scope.',
    security: [{}, { bearer: [] }],
    request: {
      body: { content: { 'application/json': { schema: body }, 'text/plain': { schema: body } }, required: true },
    },
    responses: {
      202: {
        description: 'Accepted and durable',
        content: { 'application/json': { schema: z.object({ accepted: z.number().int(), ids: z.array(z.string()) }) } },
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
