/**
 * The tracker as the worker serves it: /t.js and its variants, the content-addressed immutable
 * URLs, caching and revalidation, the headers that let any site load it, and the generated
 * bundle's own hash and SRI values.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { IMMUTABLE_CACHE, resolveScript, SHORT_CACHE, TRACKER_BUNDLES } from '../src/tracker/index.ts';
import { expectError, ORIGIN } from './helpers.ts';

const get = (path: string, init?: RequestInit) => exports.default.fetch(`${ORIGIN}${path}`, init);

async function digest(algorithm: 'SHA-256' | 'SHA-384', text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(algorithm, new TextEncoder().encode(text)));
}

/** The headers every script response carries, whatever its cache policy. */
function expectPublicScriptHeaders(res: Response): void {
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  // A same-origin or same-site resource policy would stop other sites from loading the script.
  expect([null, 'cross-origin']).toContain(res.headers.get('cross-origin-resource-policy'));
}

describe('GET /t.js', () => {
  it('serves the default bundle as JavaScript, cached for an hour with an ETag', async () => {
    const res = await get('/t.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe(SHORT_CACHE);
    expect(res.headers.get('etag')).toBe(`"${TRACKER_BUNDLES.t.hash}"`);
    expectPublicScriptHeaders(res);
    expect(await res.text()).toBe(TRACKER_BUNDLES.t.source);
  });

  it('answers 304 without a body when the ETag matches, 200 when it does not', async () => {
    const etag = `"${TRACKER_BUNDLES.t.hash}"`;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await get('/t.js', { headers: { 'if-none-match': header } });
      expect(res.status, header).toBe(304);
      expect(await res.text()).toBe('');
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toBe(SHORT_CACHE);
    }
    const stale = await get('/t.js', { headers: { 'if-none-match': '"000000000000"' } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe(TRACKER_BUNDLES.t.source);
  });

  it('serves pages on a local host t.local, which says why it counts nothing there; other pages and pinned URLs t.js', async () => {
    for (const referer of [
      'http://localhost:5173/',
      'http://127.0.0.1:8080/a',
      'http://[::1]:3000/',
      'http://0.0.0.0/',
    ]) {
      const res = await get('/t.js', { headers: { referer } });
      expect(await res.text(), referer).toBe(TRACKER_BUNDLES['t.local'].source);
      expect(res.headers.get('etag')).toBe(`"${TRACKER_BUNDLES['t.local'].hash}"`);
      expect(res.headers.get('vary')).toBe('Referer');
    }
    for (const referer of ['https://example.com/', 'https://localhost.example.com/', 'not a url']) {
      const res = await get('/t.js', { headers: { referer } });
      expect(await res.text(), referer).toBe(TRACKER_BUNDLES.t.source);
      expect(res.headers.get('vary')).toBe('Referer');
    }
    const pinned = await get(`/t.${TRACKER_BUNDLES.t.hash}.js`, { headers: { referer: 'http://localhost/' } });
    expect(await pinned.text()).toBe(TRACKER_BUNDLES.t.source);
    const lite = await get('/t.lite.js', { headers: { referer: 'http://localhost/' } });
    expect(await lite.text()).toBe(TRACKER_BUNDLES['t.lite'].source);
    // The message is in t.local only: t.js keeps its bytes.
    expect(TRACKER_BUNDLES['t.local'].source).toContain('Tally: this page is not counted');
    expect(TRACKER_BUNDLES.t.source).not.toContain('console');
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await get('/t.js', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${TRACKER_BUNDLES.t.hash}"`);
    expect(await res.text()).toBe('');
  });
});

describe('GET /t.<hash>.js', () => {
  it('serves the same bytes as /t.js, immutable for a year', async () => {
    const res = await get(`/t.${TRACKER_BUNDLES.t.hash}.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expectPublicScriptHeaders(res);
    expect(await res.text()).toBe(TRACKER_BUNDLES.t.source);
  });

  it('redirects a hash that is no longer current to the short-cached URL', async () => {
    const res = await get('/t.0123456789ab.js', { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe('/t.js');
    expect(res.headers.get('cache-control')).toBe(SHORT_CACHE);
    const lite = await get('/t.lite.0123456789ab.js', { redirect: 'manual' });
    expect(lite.headers.get('location')).toBe('/t.lite.js');
  });
});

describe('variants', () => {
  it('serves t.lite.js and its immutable URL with the lite bundle', async () => {
    const lite = TRACKER_BUNDLES['t.lite'];
    expect(lite.source).not.toBe(TRACKER_BUNDLES.t.source);
    for (const [path, cache] of [
      ['/t.lite.js', SHORT_CACHE],
      [`/t.lite.${lite.hash}.js`, IMMUTABLE_CACHE],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control')).toBe(cache);
      expect(await res.text()).toBe(lite.source);
    }
  });

  it('answers 404 in the one error shape for any other script name', async () => {
    for (const path of ['/tx.js', '/t.full.js', `/t.${TRACKER_BUNDLES.t.hash.slice(0, 8)}.js`, '/t.lite.lite.js']) {
      await expectError(await get(path), 404, 'not_found');
    }
    expect(resolveScript('t.js.map')).toBeNull();
    expect(resolveScript('T.js')).toBeNull();
  });
});

describe('the generated bundles', () => {
  it('name each source by the first 12 hex digits of its SHA-256 and carry its SHA-384 SRI value', async () => {
    for (const bundle of Object.values(TRACKER_BUNDLES)) {
      const sha256 = [...(await digest('SHA-256', bundle.source))].map((b) => b.toString(16).padStart(2, '0'));
      expect(bundle.hash).toBe(sha256.join('').slice(0, 12));
      const sha384 = btoa(String.fromCharCode(...(await digest('SHA-384', bundle.source))));
      expect(bundle.integrity).toBe(`sha384-${sha384}`);
    }
  });

  it('are one self-contained IIFE that reads its settings from the script tag and posts to /api/event', () => {
    const { source } = TRACKER_BUNDLES.t;
    expect(source.startsWith('(()=>{')).toBe(true);
    expect(source.endsWith('})();')).toBe(true);
    expect(source).toContain('document.currentScript');
    expect(source).toContain('"/api/event"');
    expect(source).toContain('sendBeacon');
    expect(source).not.toMatch(/document\.cookie|import\s*\(|\brequire\(/);
  });
});
