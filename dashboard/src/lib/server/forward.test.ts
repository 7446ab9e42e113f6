import { describe, expect, it } from 'vitest';
import { forward, isWorkerPath, shareCacheKey } from './forward.ts';

describe('isWorkerPath', () => {
  it.each(['/api', '/api/auth/me', '/api/projects/x/live', '/t.js', '/t.3f9a1c.js', '/live.js'])(
    'forwards %s',
    (path) => {
      expect(isWorkerPath(path)).toBe(true);
    },
  );

  it.each(['/', '/apis', '/projects/demo', '/share/abc', '/t.js.map', '/_app/immutable/x.js'])(
    'serves %s itself',
    (path) => {
      expect(isWorkerPath(path)).toBe(false);
    },
  );
});

const share = (init: RequestInit & { path?: string } = {}) =>
  new Request(`https://dash.example${init.path ?? '/api/v1/query'}`, {
    method: 'POST',
    ...init,
    headers: {
      'X-Tally-Share': 'slug1',
      'Content-Type': 'application/json',
      ...(init.headers as Record<string, string>),
    },
  });

describe('shareCacheKey', () => {
  it('keys share-link reads by slug and body', async () => {
    const a = await shareCacheKey(share(), '{"a":1}');
    const b = await shareCacheKey(share(), '{"a":2}');
    const c = await shareCacheKey(share({ headers: { 'X-Tally-Share': 'slug2' } }), '{"a":1}');
    expect(a?.method).toBe('GET');
    expect(new Set([a?.url, b?.url, c?.url]).size).toBe(3);
    expect((await shareCacheKey(share(), '{"a":1}'))?.url).toBe(a?.url);
  });

  it('does not cache password-protected links, cookies, other credentials, or writes', async () => {
    expect(await shareCacheKey(share({ headers: { 'X-Tally-Share-Token': 't' } }), '{}')).toBeNull();
    expect(await shareCacheKey(share({ headers: { Cookie: 'tally_access=x' } }), '{}')).toBeNull();
    expect(await shareCacheKey(share({ headers: { Authorization: 'Bearer x' } }), '{}')).toBeNull();
    expect(await shareCacheKey(share({ path: '/api/v1/export' }), '{}')).toBeNull();
    expect(await shareCacheKey(share({ path: '/api/share/slug1/auth' }), '{}')).toBeNull();
    expect(await shareCacheKey(new Request('https://dash.example/api/v1/query', { method: 'POST' }), '{}')).toBeNull();
  });
});

/** A Map-backed stand-in for the Cache API. */
function memoryCache() {
  const entries = new Map<string, Response>();
  return {
    entries,
    async match(request: Request) {
      return entries.get(request.url)?.clone();
    },
    async put(request: Request, response: Response) {
      entries.set(request.url, response);
    },
  };
}

describe('forward', () => {
  it('answers a repeated share read from the cache, with the body the worker got', async () => {
    const seen: string[] = [];
    const api = {
      async fetch(request: Request) {
        seen.push(await request.text());
        return Response.json({ results: [], meta: { n: seen.length } });
      },
    };
    const cache = memoryCache();
    const body = '{"project":"p","metrics":["visitors"],"date_range":"7d"}';
    const first = await forward(share({ body }), api, cache, undefined);
    const second = await forward(share({ body }), api, cache, undefined);
    expect(seen).toEqual([body]);
    expect(await first.json()).toEqual({ results: [], meta: { n: 1 } });
    expect(await second.json()).toEqual({ results: [], meta: { n: 1 } });
    expect(second.headers.get('cache-control')).toBe('public, max-age=60');
  });

  it('does not cache failures', async () => {
    let calls = 0;
    const api = {
      async fetch() {
        calls++;
        return Response.json({ error: { code: 'not_found', message: 'x' } }, { status: 404 });
      },
    };
    const cache = memoryCache();
    await forward(share({ body: '{}' }), api, cache, undefined);
    await forward(share({ body: '{}' }), api, cache, undefined);
    expect(calls).toBe(2);
    expect(cache.entries.size).toBe(0);
  });

  it('passes everything else straight through', async () => {
    const requests: Request[] = [];
    const api = {
      async fetch(request: Request) {
        requests.push(request);
        return new Response(null, { status: 204 });
      },
    };
    const original = new Request('https://dash.example/api/auth/signout', { method: 'POST' });
    await forward(original, api, memoryCache(), undefined);
    expect(requests[0]).toBe(original);
  });
});
