/**
 * The Hono app: security headers, each feature's routes, the OpenAPI document, and the one error
 * handler that gives every failure the same shape: `{ "error": { "code", "message", "details?" } }`.
 */
import type { StoreFaultCode } from '@tally/sdk/protocol';
import { HTTPException } from 'hono/http-exception';
import { authenticate, authRoutes, csrfProtection } from './auth/index.ts';
import { docsRoutes } from './docs/index.ts';
import { healthRoutes } from './health/index.ts';
import { ingestRoutes, registerIngestOpenApi } from './ingest/index.ts';
import { liveRoutes } from './live/index.ts';
import { projectRoutes } from './projects/index.ts';
import { dropRoutes, exportRoutes, funnelRoutes, queryRoutes } from './query/index.ts';
import { segmentRoutes } from './segments/index.ts';
import { isTransientStorageError, storeFault } from './shared/db-errors.ts';
import { ApiError, codeForStatus } from './shared/errors.ts';
import { createRouter } from './shared/hono.ts';
import { securityHeaders } from './shared/security-headers.ts';
import { VERSION } from './shared/version.ts';
import { trackerRoutes } from './tracker/index.ts';

export const app = createRouter();

/** What a client is told when D1 fails (each `StoreFaultCode`), and how many seconds it should wait. */
const STORE_FAULTS: Record<StoreFaultCode, readonly [message: string, retryAfter: string]> = {
  store_full: ['The database is full; events already accepted are kept until it has room. Retry later', '60'],
  store_unavailable: ['The database is unavailable right now; retry later', '5'],
};

// Per kind of response: API answers, the docs page, and the scripts other sites load.
app.use(securityHeaders);

// The management API: CSRF checks for browsers, then who is calling. Public ingest and health
// stay outside (they have their own rules and no cookies).
for (const path of ['/api/auth/*', '/api/projects', '/api/projects/*', '/api/share/*', '/api/v1/*']) {
  app.use(path, csrfProtection, authenticate);
}

app.route('/', ingestRoutes);
app.route('/', healthRoutes);
app.route('/', authRoutes);
app.route('/', projectRoutes);
app.route('/', liveRoutes);
app.route('/', queryRoutes);
app.route('/', dropRoutes);
app.route('/', funnelRoutes);
app.route('/', exportRoutes);
app.route('/', segmentRoutes);
app.route('/', docsRoutes);
app.route('/', trackerRoutes);

registerIngestOpenApi(app.openAPIRegistry);
app.openAPIRegistry.registerComponent('securitySchemes', 'cookie', {
  type: 'apiKey',
  in: 'cookie',
  name: 'tally_access',
});
app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
app.doc31('/api/openapi.json', {
  openapi: '3.1.0',
  info: {
    title: 'Tally API',
    version: VERSION,
    description:
      'Privacy-first analytics on Cloudflare. Every error is `{ "error": { "code", "message", "details?" } }`. ' +
      'Authenticate with the session cookie (browsers), `Authorization: Bearer <access token or API key>`, ' +
      'or `X-Tally-Share: <slug>` for a share link.',
  },
  security: [{ cookie: [] }, { bearer: [] }],
});

app.notFound((c) => c.json(new ApiError(404, 'not_found', 'No such route').toBody(), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
    return c.json(error.toBody(), error.status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = codeForStatus(error.status);
    return c.json(new ApiError(error.status, code, error.message || 'Bad request').toBody(), error.status);
  }
  // D1 itself failing: a client can tell a full database (retry much later) from a hiccup.
  const fault = storeFault(error);
  if (fault) {
    console.error(`storage unavailable (${fault}):`, error instanceof Error ? error.message : String(error));
    const [message, retryAfter] = STORE_FAULTS[fault];
    return c.json(new ApiError(503, fault, message).toBody(), 503, { 'Retry-After': retryAfter });
  }
  if (isTransientStorageError(error)) {
    console.error('storage unavailable:', error instanceof Error ? error.message : String(error));
    const unavailable = new ApiError(503, 'unavailable', 'Temporarily unavailable; retry later');
    return c.json(unavailable.toBody(), 503, { 'Retry-After': '5' });
  }
  // Unexpected: log it, but never send internals (D1 error text included) to the client.
  console.error('unhandled error:', error instanceof Error ? (error.stack ?? error.message) : String(error));
  return c.json(new ApiError(500, 'internal', 'Something went wrong on our side').toBody(), 500);
});
