/**
 * The Hono app: security headers, each feature's routes, and the one error handler that gives
 * every failure the same shape: `{ "error": { "code", "message", "details?" } }`.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { healthRoutes } from './health/index.ts';
import { ingestRoutes } from './ingest/index.ts';
import { ApiError } from './shared/errors.ts';

export const app = new Hono<{ Bindings: Env }>();

app.use(
  secureHeaders({
    // Public endpoints (the tracker script, ingest) are loaded by other sites.
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    strictTransportSecurity: 'max-age=63072000; includeSubDomains',
  }),
);

app.route('/', ingestRoutes);
app.route('/', healthRoutes);

app.notFound((c) => c.json(new ApiError(404, 'not_found', 'No such route').toBody(), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
    return c.json(error.toBody(), error.status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json(new ApiError(error.status, 'invalid_input', error.message || 'Bad request').toBody(), error.status);
  }
  // Unexpected: log it, but never send internals (D1 error text included) to the client.
  console.error('unhandled error:', error instanceof Error ? (error.stack ?? error.message) : String(error));
  return c.json(new ApiError(500, 'internal', 'Something went wrong on our side').toBody(), 500);
});
