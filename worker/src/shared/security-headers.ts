/**
 * Security headers on every response, chosen by what the response is. API answers (JSON, CSV,
 * zip, errors) may not be framed, sniffed, or run anything; the docs page may run Scalar's script
 * from jsDelivr and nothing else; the public scripts and the ingest endpoint must stay loadable from
 * any site, so they get no framing policy and a cross-origin resource policy.
 */
import { createMiddleware } from 'hono/factory';

/** The tracker (`/t.js`, `/t.<hash>.js`) and the live counter widget (`/live.js`). */
export const PUBLIC_SCRIPT = /^\/(t[.a-z0-9]*|live)\.js$/;
/** Endpoints other sites call or embed: beacons, fetches and the `<img>` pixel of `/api/event`. */
const PUBLIC_ENDPOINT = /^\/api\/event\/?$/;
const DOCS_PATH = '/api/docs';

const EVERYWHERE: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Browsers ignore it over plain HTTP, so local development is unaffected.
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
};

/** Nothing to load, nothing to run, never in a frame: a JSON answer opened as a page stays inert. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Scalar's API reference: its script (and the chunks it loads) from jsDelivr, the styles it injects,
 * its fonts, and requests to this origin only (the OpenAPI document, "try it" calls).
 */
const DOCS_CSP = [
  "default-src 'none'",
  'script-src https://cdn.jsdelivr.net/npm/@scalar/',
  "style-src 'unsafe-inline' https://cdn.jsdelivr.net/npm/@scalar/ https://fonts.scalar.com",
  'font-src https://fonts.scalar.com https://cdn.jsdelivr.net/npm/@scalar/ data:',
  "img-src 'self' data: https:",
  "connect-src 'self'",
  'worker-src blob:',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The headers for one response, by its path. */
export function securityHeadersFor(path: string): Record<string, string> {
  if (PUBLIC_SCRIPT.test(path)) return { ...EVERYWHERE, 'Cross-Origin-Resource-Policy': 'cross-origin' };
  const page = path === DOCS_PATH;
  return {
    ...EVERYWHERE,
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': page ? DOCS_CSP : API_CSP,
    'Cross-Origin-Resource-Policy': PUBLIC_ENDPOINT.test(path) ? 'cross-origin' : 'same-origin',
    ...(page ? { 'Cross-Origin-Opener-Policy': 'same-origin' } : {}),
  };
}

/**
 * Middleware: add {@link securityHeadersFor} to the response, keeping any header a route set itself.
 * WebSocket upgrades (101) are left alone: their response is not a document.
 *
 * @example
 * ```ts
 * app.use(securityHeaders);
 * ```
 */
export const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  if (c.res.status === 101) return;
  const wanted = Object.entries(securityHeadersFor(c.req.path)).filter(([name]) => !c.res.headers.has(name));
  if (!wanted.length) return;
  try {
    for (const [name, value] of wanted) c.res.headers.set(name, value);
  } catch {
    // A response passed through from a fetch (a Durable Object's, say) has immutable headers.
    const copy = new Response(c.res.body, c.res);
    for (const [name, value] of wanted) copy.headers.set(name, value);
    c.res = copy;
  }
});
