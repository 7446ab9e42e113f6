/**
 * POST /api/event as HTTP: every status with its error code and the one error shape, content
 * types, the body-size cap, CORS and security headers.
 */
import { type AcceptedResponse, EVENT_PATH, LIMITS } from '@tally/sdk/protocol';
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createProject,
  expectError,
  ORIGIN,
  pageview,
  postEvent,
  type TestProject,
  USER_AGENTS,
  waitForEvents,
} from './helpers.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let project: TestProject;
beforeEach(async () => {
  project = await createProject();
});

/** A valid event as JSON text padded with whitespace (still valid JSON) to exactly `bytes` bytes. */
function bodyOfBytes(siteKey: string, bytes: number): string {
  const json = JSON.stringify(pageview(siteKey));
  return json + ' '.repeat(bytes - json.length);
}

/** A body sent as a stream in chunks, so that no Content-Length can be known up front. */
function chunkedBody(text: string, chunkBytes = 8 * 1024): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

describe('202 Accepted', () => {
  it('answers with the ids of the stored events, which are UUIDs and the rows’ primary keys', async () => {
    const res = await postEvent([pageview(project.siteKey), pageview(project.siteKey, { n: 'signup' })]);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; ids: string[] };
    expect(body).toEqual({ accepted: 2, ids: [expect.stringMatching(UUID), expect.stringMatching(UUID)] });
    expect(new Set(body.ids).size).toBe(2);

    const rows = await waitForEvents(project.id, 2);
    expect(rows.map((row) => row.id).sort()).toEqual([...body.ids].sort());
  });

  it('stores exactly the valid events of a batch with poison ones, and names each poison event by index', async () => {
    const body: unknown[] = [
      pageview(project.siteKey, { u: 'https://example.com/a' }),
      pageview(project.siteKey, { u: 'javascript:alert(1)' }),
      pageview(project.siteKey, { u: 'https://example.com/b' }),
      { ...pageview(project.siteKey), p: { nested: { no: 1 } }, extra: true },
    ];
    const res = await postEvent(body);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as AcceptedResponse;
    expect(answer).toEqual({
      accepted: 2,
      ids: [expect.stringMatching(UUID), expect.stringMatching(UUID)],
      rejected: [
        {
          index: 1,
          error: {
            code: 'invalid_input',
            message: expect.any(String),
            details: [{ path: [1, 'u'], message: expect.any(String) }],
          },
        },
        {
          index: 3,
          error: {
            code: 'invalid_input',
            message: expect.any(String),
            details: expect.arrayContaining([
              { path: [3, 'extra'], message: 'unknown field' },
              { path: [3, 'p', 'nested'], message: expect.any(String) },
            ]),
          },
        },
      ],
    });
    const rows = await waitForEvents(project.id, 2);
    expect(rows.map((row) => [row.id, row.path]).sort()).toEqual(
      [
        [answer.ids[0], '/a'],
        [answer.ids[1], '/b'],
      ].sort(),
    );
  });

  it.each(['text/plain', 'text/plain;charset=UTF-8', 'application/json', 'Application/JSON; charset=utf-8'])(
    'accepts Content-Type %s (sendBeacon sends text/plain)',
    async (type) => {
      const res = await postEvent(pageview(project.siteKey), { headers: { 'content-type': type } });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ accepted: 1 });
    },
  );
});

describe('400', () => {
  it.each(['{', '', 'pageview', '{"s":"x",}', "{'s':'x'}"])('invalid_json for %j', async (text) => {
    await expectError(await postEvent(text), 400, 'invalid_json');
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['an empty batch', []],
    ['a batch whose every event is invalid', [{ n: 'pageview' }, 42, null]],
    ['an event without a name', { s: 'x', u: 'https://example.com/' }],
  ])('invalid_input for %s', async (_case, body) => {
    await expectError(await postEvent(body), 400, 'invalid_input');
  });

  it('invalid_input names the missing site key', async () => {
    const error = await expectError(await postEvent(pageview(undefined)), 400, 'invalid_input');
    expect(error.details).toEqual([{ path: [0, 's'], message: expect.any(String) }]);
  });

  it('invalid_input when a batch mixes site keys, naming the first odd event', async () => {
    const other = await createProject();
    const body = [pageview(project.siteKey), pageview(project.siteKey), pageview(other.siteKey)];
    const error = await expectError(await postEvent(body), 400, 'invalid_input');
    expect(error.details).toEqual([{ path: [2, 's'], message: expect.any(String) }]);
  });
});

describe('404, 405, 415', () => {
  it('404 unknown_site for a site key no project has', async () => {
    await expectError(await postEvent(pageview('no_such_site')), 404, 'unknown_site');
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('405 method_not_allowed for %s %s', async (method) => {
    const res = await exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, { method });
    await expectError(res, 405, 'method_not_allowed');
  });

  it.each(['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/html'])(
    '415 unsupported_media_type for %s',
    async (type) => {
      const res = await postEvent(pageview(project.siteKey), { headers: { 'content-type': type } });
      await expectError(res, 415, 'unsupported_media_type');
    },
  );

  it('415 unsupported_media_type without a Content-Type', async () => {
    // A byte body, unlike a string, gets no default Content-Type from fetch.
    const bytes = new TextEncoder().encode(JSON.stringify(pageview(project.siteKey)));
    const res = await postEvent(bytes, { headers: { 'content-type': null } });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('404 not_found, in the error shape, for unknown routes', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['POST', '/api/events'],
      ['GET', '/api/event/extra'],
    ] as const) {
      await expectError(await exports.default.fetch(`${ORIGIN}${path}`, { method }), 404, 'not_found');
    }
  });
});

describe('the GET pixel', () => {
  const pixel = (query: string, headers: Record<string, string> = {}) =>
    exports.default.fetch(`${ORIGIN}${EVENT_PATH}?${query}`, {
      headers: { 'user-agent': USER_AGENTS.chromeWindows, 'cf-connecting-ip': '203.0.113.9', ...headers },
    });

  it('stores a pageview of `u`, or of the Referer, and answers a 1×1 GIF', async () => {
    const res = await pixel(`s=${project.siteKey}&u=${encodeURIComponent('https://example.com/pricing?x=1')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(new Uint8Array(await res.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode('GIF89a'));
    await pixel(`s=${project.siteKey}&n=open`, { referer: 'https://example.com/newsletter/42' });
    const rows = await waitForEvents(project.id, 2);
    expect(rows.map((row) => [row.name, row.path]).sort()).toEqual([
      ['open', '/newsletter/42'],
      ['pageview', '/pricing'],
    ]);
  });

  it('refuses what POST refuses, in the error shape', async () => {
    await expectError(await pixel(''), 400, 'invalid_input');
    await expectError(await pixel('s=no_such_site&u=https%3A%2F%2Fexample.com%2F'), 404, 'unknown_site');
    await expectError(await pixel(`s=${project.siteKey}&u=javascript%3Aalert(1)`), 400, 'invalid_input');
  });
});

describe(`413 for bodies over ${LIMITS.bodyBytes} bytes`, () => {
  it('accepts a body of exactly the cap', async () => {
    const res = await postEvent(bodyOfBytes(project.siteKey, LIMITS.bodyBytes));
    expect(res.status).toBe(202);
  });

  it('refuses a body one byte over the cap (Content-Length known)', async () => {
    const text = bodyOfBytes(project.siteKey, LIMITS.bodyBytes + 1);
    await expectError(await postEvent(text), 413, 'payload_too_large');
  });

  it('refuses a much larger body without reading it as JSON', async () => {
    await expectError(await postEvent('x'.repeat(LIMITS.bodyBytes * 16)), 413, 'payload_too_large');
  });

  it('accepts a chunked body (no Content-Length) of exactly the cap', async () => {
    const res = await postEvent(chunkedBody(bodyOfBytes(project.siteKey, LIMITS.bodyBytes)));
    expect(res.status).toBe(202);
  });

  it('refuses a chunked body (no Content-Length) once it passes the cap', async () => {
    const res = await postEvent(chunkedBody(bodyOfBytes(project.siteKey, LIMITS.bodyBytes + 1)));
    await expectError(res, 413, 'payload_too_large');
  });
});

describe('CORS: public ingest may be called from any site', () => {
  it('answers the preflight for any origin', async () => {
    const res = await exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.customer.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-tally-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain('POST');
    const allowed = res.headers.get('access-control-allow-headers')?.toLowerCase().split(',');
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-tally-key']));
  });

  it('lets a cross-origin page read both answers and errors', async () => {
    const origin = { origin: 'https://blog.customer.example' };
    const ok = await postEvent(pageview(project.siteKey), { headers: origin });
    const bad = await postEvent('{', { headers: origin });
    expect([ok.status, bad.status]).toEqual([202, 400]);
    expect([ok.headers.get('access-control-allow-origin'), bad.headers.get('access-control-allow-origin')]).toEqual([
      '*',
      '*',
    ]);
  });
});

describe('security headers', () => {
  const requests: [string, () => Promise<Response>][] = [
    ['a 202', () => postEvent(pageview(project.siteKey))],
    ['a 400', () => postEvent('{')],
    ['a 404', () => exports.default.fetch(`${ORIGIN}/nope`)],
    ['a preflight', () => exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, { method: 'OPTIONS' })],
  ];

  it.each(requests)('are on %s', async (_name, send) => {
    const headers = (await send()).headers;
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
    expect(headers.get('strict-transport-security')).toMatch(/^max-age=\d{7,}; includeSubDomains/);
    expect(headers.get('x-frame-options')).toMatch(/^(DENY|SAMEORIGIN)$/);
  });
});
