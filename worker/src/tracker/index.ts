/**
 * The script-tag tracker, served by the worker so that the API origin is the script's own and a
 * site needs one tag:
 *
 * ```html
 * <script defer src="https://HOST/t.js" data-site="SITE_KEY"></script>
 * ```
 *
 * - `GET /t.js` — the current default build, cached for an hour (with an ETag), so a new
 *   version reaches every site within the hour;
 * - `GET /t.<hash>.js` — the same bytes under their content hash, cached for a year and
 *   immutable, for sites that pin a version (with its `integrity` for SRI);
 * - `/t.lite.js` and `/t.lite.<hash>.js` — the variant without click tracking, likewise.
 *
 * A page on a local host (localhost, 127.x, [::1], 0.0.0.0, by its `Referer`) that asks for
 * `/t.js` gets `t.local`: the same tracker, which also says once in the console why it counts
 * nothing there (no `data-allow-local`), since a site owner trying the snippet locally otherwise
 * sees nothing happen and no cause. The answer varies by `Referer`. Pinned URLs never switch
 * (their bytes are what an SRI hash names).
 *
 * A hash that is no longer current redirects to the variant's short-cached URL: the site keeps
 * being counted (unless it pinned the old bytes with SRI, which no server can honour).
 * The bundles are built by `sdk/scripts/build.mjs` into `bundle.generated.ts`.
 */
import { Hono } from 'hono';
import { ApiError } from '../shared/errors.ts';
import { TRACKER_BUNDLES, type TrackerBundle } from './bundle.generated.ts';

export { TRACKER_BUNDLES, type TrackerBundle } from './bundle.generated.ts';

/** An hour: how long a site may run an old version after a deploy. */
export const SHORT_CACHE = 'public, max-age=3600';
/** A content-addressed URL never changes. */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';

type Variant = keyof typeof TRACKER_BUNDLES;

/** What a request for a script file names. */
export type ScriptRequest =
  | { kind: 'current'; variant: Variant; bundle: TrackerBundle }
  | { kind: 'pinned'; variant: Variant; bundle: TrackerBundle }
  | { kind: 'outdated'; variant: Variant }
  | null;

/**
 * Read a file name: `t.js`, `t.<hash>.js`, `t.lite.js`, `t.lite.<hash>.js`. Null for anything else.
 *
 * @example
 * ```ts
 * resolveScript('t.js'); // { kind: 'current', variant: 't', bundle }
 * ```
 */
export function resolveScript(file: string): ScriptRequest {
  const match = /^(t(?:\.lite)?)(?:\.([0-9a-f]{12}))?\.js$/.exec(file);
  if (!match || !Object.hasOwn(TRACKER_BUNDLES, match[1] as string)) return null;
  const variant = match[1] as Variant;
  const bundle: TrackerBundle = TRACKER_BUNDLES[variant];
  if (match[2] === undefined) return { kind: 'current', variant, bundle };
  return match[2] === bundle.hash ? { kind: 'pinned', variant, bundle } : { kind: 'outdated', variant };
}

/** Whether a `Referer` names a page on a local host, where the tracker counts nothing by default. */
export function fromLocalPage(referer: string | undefined): boolean {
  if (!referer) return false;
  try {
    // The same hosts the tracker itself treats as local (sdk/src/tracker/ignore.ts).
    return /^(127\.|\[::1|0\.0\.0\.0)|localhost$/.test(new URL(referer).hostname);
  } catch {
    return false;
  }
}

/** Whether an `If-None-Match` header already names this ETag. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** Routes mounted at the app's root. */
export const trackerRoutes = new Hono().get('/:file{t[.a-z0-9]*\\.js}', (c) => {
  const script = resolveScript(c.req.param('file'));
  if (!script) throw new ApiError(404, 'not_found', 'No such script');
  const headers: Record<string, string> = {
    // Any site may load the tracker, also with `crossorigin` (needed for SRI).
    'Access-Control-Allow-Origin': '*',
    'X-Content-Type-Options': 'nosniff',
  };
  if (script.kind === 'outdated') {
    return c.body(null, 307, { ...headers, Location: `/${script.variant}.js`, 'Cache-Control': SHORT_CACHE });
  }
  const explained = script.kind === 'current' && script.variant === 't';
  const bundle: TrackerBundle =
    explained && fromLocalPage(c.req.header('referer')) ? TRACKER_BUNDLES['t.local'] : script.bundle;
  const etag = `"${bundle.hash}"`;
  Object.assign(headers, {
    'Cache-Control': script.kind === 'pinned' ? IMMUTABLE_CACHE : SHORT_CACHE,
    ETag: etag,
    ...(explained ? { Vary: 'Referer' } : {}),
  });
  if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(bundle.source, 200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
});
