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
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { ApiError } from '../shared/errors.ts';
import { readJsonBody } from './body.ts';
import { ingest } from './ingest.ts';

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
