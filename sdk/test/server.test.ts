/**
 * `@tally/sdk/server`: the requests it makes with an API key, batching, retries that keep the
 * event ids, and errors in the API's one shape.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LIMITS } from '../src/protocol.ts';
import { createClient, TallyError } from '../src/server.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Call {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>[];
}

/** A fetch that answers from a list and records each request. */
function fakeFetch(answers: ((body: Record<string, unknown>[]) => Response)[]) {
  const calls: Call[] = [];
  const accept = (body: Record<string, unknown>[]) =>
    Response.json({ accepted: body.length, ids: body.map((event) => event.i) }, { status: 202 });
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body)) as Record<string, unknown>[];
    calls.push({ url: String(input), headers: Object.fromEntries(new Headers(init?.headers)), body });
    return (answers.shift() ?? accept)(body);
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createClient', () => {
  it('posts JSON with the API key, the visitor’s ip and user agent, and an id per event', async () => {
    const { fetch, calls } = fakeFetch([]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'tk_secret', fetch });
    const result = await tally.track('signup', {
      url: 'https://example.com/signup',
      referrer: 'https://news.example/',
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
      props: { plan: 'pro' },
      revenue: { amount: 9, currency: 'EUR' },
      timestamp: new Date('2026-05-04T10:00:00Z'),
      screenWidth: 390,
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('https://tally.example.com/api/event');
    expect(calls[0]?.headers).toMatchObject({
      authorization: 'Bearer tk_secret',
      'content-type': 'application/json',
    });
    expect(calls[0]?.body).toEqual([
      {
        n: 'signup',
        u: 'https://example.com/signup',
        r: 'https://news.example/',
        ip: '203.0.113.9',
        ua: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
        p: { plan: 'pro' },
        $: { a: 9, c: 'EUR' },
        t: Date.parse('2026-05-04T10:00:00Z'),
        w: 390,
        i: expect.stringMatching(UUID),
      },
    ]);
    expect(result).toEqual({ accepted: 1, ids: [calls[0]?.body[0]?.i] });
  });

  it('accepts the full event URL as endpoint, and sends pageviews', async () => {
    const { fetch, calls } = fakeFetch([]);
    const tally = createClient({ endpoint: 'https://tally.example.com/api/event', apiKey: 'k', fetch });
    await tally.pageview({
      url: 'https://example.com/#/a',
      hashRouting: true,
      id: '0193a5d0-0000-7000-8000-000000000001',
    });
    expect(calls[0]?.url).toBe('https://tally.example.com/api/event');
    expect(calls[0]?.body).toEqual([
      { n: 'pageview', u: 'https://example.com/#/a', h: true, i: '0193a5d0-0000-7000-8000-000000000001' },
    ]);
  });

  it('splits large sends into requests of at most the protocol’s batch size', async () => {
    const { fetch, calls } = fakeFetch([]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'k', fetch });
    const events = Array.from({ length: LIMITS.batchEvents * 2 + 1 }, (_, n) => ({
      name: `e${n}`,
      url: 'https://example.com/',
    }));
    const result = await tally.send(events);
    expect(calls.map((call) => call.body.length)).toEqual([LIMITS.batchEvents, LIMITS.batchEvents, 1]);
    expect(calls.flatMap((call) => call.body.map((event) => event.n))).toEqual(events.map((event) => event.name));
    expect(result.accepted).toBe(events.length);
    expect(result.ids).toHaveLength(events.length);
    expect(await tally.send([])).toEqual({ accepted: 0, ids: [] });
    expect(calls).toHaveLength(3);
  });

  it('reports events the API rejected by their index in the whole send, across requests', async () => {
    const error = {
      code: 'invalid_input',
      message: 'The event is invalid',
      details: [{ path: ['u'], message: 'bad' }],
    };
    // The second request's first event is refused on its own; the rest of it is stored.
    const partly = (body: Record<string, unknown>[]) =>
      Response.json(
        { accepted: body.length - 1, ids: body.slice(1).map((event) => event.i), rejected: [{ index: 0, error }] },
        { status: 202 },
      );
    const { fetch } = fakeFetch([
      (body) => Response.json({ accepted: body.length, ids: body.map((event) => event.i) }, { status: 202 }),
      partly,
    ]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'k', fetch });
    const events = Array.from({ length: LIMITS.batchEvents + 3 }, (_, n) => ({
      name: `e${n}`,
      url: 'https://example.com/',
    }));
    const result = await tally.send(events);
    expect(result.accepted).toBe(events.length - 1);
    expect(result.rejected).toEqual([{ index: LIMITS.batchEvents, error }]);
  });

  it('retries 429 and 503 after Retry-After with the same event ids', async () => {
    vi.useFakeTimers();
    const busy = (status: number, seconds: string) => () =>
      Response.json({ error: { code: 'busy', message: 'later' } }, { status, headers: { 'retry-after': seconds } });
    const { fetch, calls } = fakeFetch([busy(429, '1'), busy(503, '3')]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'k', fetch });
    const sending = tally.track('x', { url: 'https://example.com/' });
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toHaveLength(3);
    expect((await sending).accepted).toBe(1);
    expect(new Set(calls.map((call) => call.body[0]?.i)).size).toBe(1);
  });

  it('gives up after its retries with the API’s error', async () => {
    vi.useFakeTimers();
    const limited = () =>
      Response.json(
        { error: { code: 'rate_limited', message: 'Too many events from this visitor' } },
        { status: 429, headers: { 'retry-after': '1' } },
      );
    const { fetch, calls } = fakeFetch([limited, limited, limited]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'k', fetch, retries: 2 });
    const sending = tally.track('x', { url: 'https://example.com/' }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(5_000);
    const error = await sending;
    expect(error).toBeInstanceOf(TallyError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', message: 'Too many events from this visitor' });
    expect(calls).toHaveLength(3);
  });

  it('does not retry a refusal, and keeps its details', async () => {
    const details = [{ path: [0, 'u'], message: 'an absolute http(s) URL' }];
    const { fetch, calls } = fakeFetch([
      () =>
        Response.json({ error: { code: 'invalid_input', message: 'The event is invalid', details } }, { status: 400 }),
      () => new Response('<html>bad gateway</html>', { status: 502 }),
    ]);
    const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: 'k', fetch });
    await expect(tally.track('x', { url: 'not a url' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_input',
      details,
    });
    await expect(tally.track('x', { url: 'https://example.com/' })).rejects.toMatchObject({
      status: 502,
      code: 'http_error',
    });
    expect(calls).toHaveLength(2);
  });
});
