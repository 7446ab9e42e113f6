import { describe, expect, it } from 'vitest';
import { ApiError, createApi, errorFrom, isAbort } from './client.ts';

interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  credentials: RequestCredentials | undefined;
}

/** A stand-in for the worker: answers by method and path, and records what it was sent. */
function fakeFetch(routes: Record<string, (call: Call) => Response | Promise<Response>>) {
  const calls: Call[] = [];
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const call: Call = {
      method: init.method ?? 'GET',
      path: String(input),
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init.credentials,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    if (!route) return Response.json({ error: { code: 'not_found', message: 'No such route' } }, { status: 404 });
    return route(call);
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

describe('errors', () => {
  it("carry the worker's code, message and field details", async () => {
    const { fetch } = fakeFetch({
      'POST /api/projects': () =>
        Response.json(
          {
            error: {
              code: 'invalid_input',
              message: 'The request is invalid',
              details: [{ path: ['name'], message: 'required' }],
            },
          },
          { status: 400 },
        ),
    });
    const error = await createApi({ fetch })
      .post('/api/projects', {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_input', message: 'The request is invalid' });
    expect((error as ApiError).fieldMessage('name')).toBe('required');
  });

  it('fall back to the status when the body is not ours', async () => {
    const error = await errorFrom(new Response('<html>Bad gateway</html>', { status: 502 }));
    expect(error).toMatchObject({ status: 502, code: 'http_502', message: 'The API is unreachable right now.' });
  });

  it('name the network when the server cannot be reached', async () => {
    const api = createApi({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(api.get('/api/projects')).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});

describe('sessions', () => {
  it('refresh once on a 401, shared by parallel calls, then retry', async () => {
    let session = 'expired';
    const { fetch, calls } = fakeFetch({
      'GET /api/projects': () =>
        session === 'fresh'
          ? Response.json({ projects: [] })
          : Response.json({ error: { code: 'unauthorized', message: 'expired' } }, { status: 401 }),
      'POST /api/auth/refresh': () => {
        session = 'fresh';
        return Response.json({ user: {}, expiresIn: 900 });
      },
    });
    const api = createApi({ fetch });
    const answers = await Promise.all([api.get('/api/projects'), api.get('/api/projects')]);
    expect(answers).toEqual([{ projects: [] }, { projects: [] }]);
    expect(calls.filter((call) => call.path === '/api/auth/refresh')).toHaveLength(1);
  });

  it('give up and report when the refresh fails', async () => {
    let unauthorized = 0;
    const { fetch } = fakeFetch({
      'GET /api/auth/me': () =>
        Response.json({ error: { code: 'unauthorized', message: 'Sign in first' } }, { status: 401 }),
      'POST /api/auth/refresh': () =>
        Response.json({ error: { code: 'unauthorized', message: 'No refresh token' } }, { status: 401 }),
    });
    const api = createApi({ fetch, onUnauthorized: () => unauthorized++ });
    await expect(api.get('/api/auth/me')).rejects.toMatchObject({ status: 401 });
    expect(unauthorized).toBe(1);
  });

  it('never refresh for a failed sign-in: a wrong password is an answer', async () => {
    const { fetch, calls } = fakeFetch({
      'POST /api/auth/signin': () =>
        Response.json({ error: { code: 'unauthorized', message: 'Wrong email or password' } }, { status: 401 }),
    });
    await expect(
      createApi({ fetch }).post('/api/auth/signin', { email: 'a@b.c', password: 'x' }),
    ).rejects.toMatchObject({
      message: 'Wrong email or password',
    });
    expect(calls.map((call) => call.path)).toEqual(['/api/auth/signin']);
  });
});

describe('share mode', () => {
  it('sends the slug and token headers and no cookies, and never refreshes', async () => {
    const { fetch, calls } = fakeFetch({
      'POST /api/v1/query': () => Response.json({ error: { code: 'unauthorized', message: 'x' } }, { status: 401 }),
    });
    const api = createApi({ fetch, share: { slug: 'abc', token: 'tok' } });
    await expect(api.query({ project: 'p', metrics: ['visitors'], date_range: '7d' })).rejects.toMatchObject({
      status: 401,
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers).toMatchObject({ 'X-Tally-Share': 'abc', 'X-Tally-Share-Token': 'tok' });
    expect(calls[0]?.credentials).toBe('omit');
  });

  it('exchanges a password anonymously: no share header, no cookies, no refresh on a wrong one', async () => {
    const { fetch, calls } = fakeFetch({
      'POST /api/share/abc/auth': () =>
        Response.json({ error: { code: 'unauthorized', message: 'x' } }, { status: 401 }),
    });
    const api = createApi({ fetch, anonymous: true });
    await expect(api.post('/api/share/abc/auth', { password: 'wrong' })).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(1);
    expect(Object.keys(calls[0]?.headers ?? {}).filter((name) => /share/i.test(name))).toEqual([]);
    expect(calls[0]?.credentials).toBe('omit');
  });
});

describe('query memory', () => {
  const body = { project: 'p', metrics: ['visitors' as const], date_range: '7d' };

  it('answers identical queries from memory for a while, and asks again after', async () => {
    let now = 0;
    const { fetch, calls } = fakeFetch({
      'POST /api/v1/query': () => Response.json({ results: [], meta: {} }),
    });
    const api = createApi({ fetch, now: () => now, queryCacheMs: 30_000 });
    await api.query(body);
    await api.query(body);
    expect(calls).toHaveLength(1);
    await api.query(body, { fresh: true });
    expect(calls).toHaveLength(2);
    now = 31_000;
    await api.query(body);
    expect(calls).toHaveLength(3);
    api.clearQueryCache();
    await api.query(body);
    expect(calls).toHaveLength(4);
  });

  it('forgets failures, so a retry asks again', async () => {
    let fail = true;
    const { fetch, calls } = fakeFetch({
      'POST /api/v1/query': () =>
        fail
          ? Response.json({ error: { code: 'unavailable', message: 'down' } }, { status: 503 })
          : Response.json({ results: [], meta: {} }),
    });
    const api = createApi({ fetch });
    await expect(api.query(body)).rejects.toMatchObject({ status: 503 });
    fail = false;
    await expect(api.query(body)).resolves.toEqual({ results: [], meta: {} });
    expect(calls).toHaveLength(2);
  });

  it('lets one caller abort without cancelling the answer others share', async () => {
    let release: () => void = () => undefined;
    const { fetch } = fakeFetch({
      'POST /api/v1/query': () =>
        new Promise<Response>((resolve) => {
          release = () => resolve(Response.json({ results: [{ dimensions: [], metrics: [1] }], meta: {} }));
        }),
    });
    const api = createApi({ fetch });
    const controller = new AbortController();
    const first = api.query(body, { signal: controller.signal });
    const second = api.query(body);
    controller.abort();
    release();
    const aborted = await first.catch((error: unknown) => error);
    expect(isAbort(aborted)).toBe(true);
    await expect(second).resolves.toMatchObject({ results: [{ metrics: [1] }] });
  });
});

describe('downloads', () => {
  it('return the file and the name the worker suggests', async () => {
    const { fetch } = fakeFetch({
      'POST /api/v1/export': () =>
        new Response('zipdata', { headers: { 'Content-Disposition': 'attachment; filename="tally-demo.zip"' } }),
    });
    const file = await createApi({ fetch }).download('/api/v1/export', { project: 'demo' });
    expect(file.filename).toBe('tally-demo.zip');
    expect(await file.blob.text()).toBe('zipdata');
  });
});
