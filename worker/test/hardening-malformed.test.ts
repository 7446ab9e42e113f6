/**
 * Malformed input against every route: at least 10,000 generated requests (methods, paths, query
 * strings, headers, bodies) and the hand-picked hazards of issue 8. The figure: no answer ≥ 500, no
 * uncaught exception, every rejection a documented 4xx in the one error shape.
 */
import type { AcceptedResponse } from '@tally/sdk/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProject, expectError, pageview, postEvent, type TestProject, waitForEvents } from './helpers.ts';
import { HOSTILE_BODIES } from './hardening-hostile.ts';
import { describeSpec, problemWith, type RequestSpec, requestArbitrary, send } from './hardening-requests.ts';
import {
  documentedRoutes,
  makeProject,
  makeWorld,
  type Route,
  UNDOCUMENTED_ROUTES,
  type World,
} from './hardening-world.ts';

/** Requests the generated run sends; the issue asks for at least 10,000. */
const GENERATED = 10_400;
/** Requests between two refreshes of the projects (a valid DELETE may have removed what they hold). */
const CHUNK = 400;
const SEED = 8_0808;

/** Every console.error line, and every unhandled rejection, while the suite runs. */
const errors: string[] = [];
const onRejection = (event: PromiseRejectionEvent) => errors.push(`unhandled rejection: ${String(event.reason)}`);
beforeAll(() => {
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    errors.push(args.map(String).join(' '));
  });
  addEventListener('unhandledrejection', onRejection);
});
afterAll(() => {
  removeEventListener('unhandledrejection', onRejection);
  vi.restoreAllMocks();
});

/**
 * Send specs one after another; return each status and every problem found. One at a time: the
 * Worker runs in this isolate, so concurrency buys no speed, and order keeps a run reproducible.
 */
async function runAll(specs: RequestSpec[]): Promise<{ statuses: number[]; problems: string[] }> {
  const statuses: number[] = [];
  const problems: string[] = [];
  for (const spec of specs) {
    let res: Response;
    try {
      res = await send(spec);
    } catch (error) {
      problems.push(`threw ${String(error)} for ${describeSpec(spec)}`);
      continue;
    }
    statuses.push(res.status);
    const problem = await problemWith(spec, res);
    if (problem) problems.push(`${problem} ← ${describeSpec(spec)}`);
  }
  return { statuses, problems };
}

describe('generated requests against every route', () => {
  let world: World;
  let routes: Route[];
  beforeAll(async () => {
    world = await makeWorld();
    routes = [...(await documentedRoutes()), ...UNDOCUMENTED_ROUTES];
  });

  it(`answer ${GENERATED.toLocaleString('en')} hostile requests without a 5xx, each rejection in the error shape`, async () => {
    const statuses: number[] = [];
    const problems: string[] = [];
    let ingest = 0;
    for (let chunk = 0; chunk * CHUNK < GENERATED; chunk++) {
      if (chunk > 0) {
        // Fresh projects: a generated request may validly have deleted one, or a key, or a member.
        world.project = await makeProject(world.owner, world.viewer);
        world.foreign = await makeProject(world.stranger, world.outsider);
      }
      const specs = fc.sample(requestArbitrary(world, routes), { numRuns: CHUNK, seed: SEED + chunk });
      ingest += specs.filter((spec) => spec.target.startsWith('/api/event')).length;
      const result = await runAll(specs);
      statuses.push(...result.statuses);
      problems.push(...result.problems);
    }
    const uncaught = errors.filter((line) => /unhandled/i.test(line));
    const counts: Record<number, number> = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    const byStatus = Object.entries(counts)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ');
    const over499 = statuses.filter((status) => status >= 500).length;
    console.log(
      `malformed input: ${statuses.length} requests to ${routes.length} routes (${ingest} to ingest), ` +
        `${over499} responses ≥ 500, ${uncaught.length} uncaught exceptions, ${problems.length} bad rejections; ${byStatus}`,
    );
    expect(problems.slice(0, 30)).toEqual([]);
    expect(uncaught).toEqual([]);
    expect(over499).toBe(0);
    expect(statuses.length).toBeGreaterThanOrEqual(10_000);
    // The run reached deep: many requests passed validation and authorisation.
    expect(statuses.filter((status) => status < 300).length).toBeGreaterThan(500);
    expect(statuses.filter((status) => status === 400).length).toBeGreaterThan(2_000);
  }, 180_000);
});

describe('hand-picked hazards', () => {
  let world: World;
  let routes: Route[];
  let project: TestProject;
  beforeAll(async () => {
    world = await makeWorld();
    routes = [...(await documentedRoutes()), ...UNDOCUMENTED_ROUTES];
    project = await createProject();
  });

  /** Send each body to each route as the owner; return every answer that breaks the rules. */
  async function sweep(bodies: (string | Uint8Array)[], contentType = 'application/json'): Promise<string[]> {
    const problems: string[] = [];
    for (const route of routes) {
      const target = route.template.replace(/\{(\w+)\}/g, (_m, name: string) =>
        name === 'id' ? world.project.id : name === 'slug' ? world.project.shareSlug : 'x',
      );
      for (const body of bodies) {
        const spec: RequestSpec = {
          method: route.method,
          target,
          headers: { authorization: `Bearer ${world.owner.token}`, 'content-type': contentType },
          ...(route.method === 'GET' ? {} : { body }),
        };
        const problem = await problemWith(spec, await send(spec));
        if (problem) problems.push(`${problem} ← ${describeSpec(spec)}`);
      }
    }
    return problems;
  }

  it('every hostile body (empty, deep nesting, huge numbers, __proto__, NUL, lone surrogates, RTL, 70 KB) on every route', async () => {
    expect(await sweep(HOSTILE_BODIES)).toEqual([]);
    // Nothing reached Object.prototype, in this isolate where the Worker runs.
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  }, 60_000);

  it.each([
    'text/html',
    'application/xml',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    '',
  ])('a body of the wrong content type (%j) on every route', async (type) => {
    expect(await sweep(['{"name":"x"}'], type)).toEqual([]);
  });

  it('answers ingest hazards with the documented status', async () => {
    const cases: [string, () => Promise<Response>, number, string][] = [
      ['an empty body', () => postEvent(''), 400, 'invalid_json'],
      ['10,000 nested arrays', () => postEvent(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), 400, 'invalid_input'],
      [
        'a number JSON cannot hold',
        () => postEvent(`{"s":"${project.siteKey}","n":"pageview","u":"https://example.com/","w":1e999}`),
        400,
        'invalid_input',
      ],
      [
        'a revenue of 1e308',
        () => postEvent(pageview(project.siteKey, { $: { a: 1e308, c: 'EUR' } })),
        400,
        'invalid_input',
      ],
      ['a timestamp of 1e308', () => postEvent(pageview(project.siteKey, { t: 1e308 })), 202, ''],
      [
        'a 99,999,999-byte Content-Length on a small body',
        () => postEvent('{}', { headers: { 'content-length': '99999999' } }),
        413,
        'payload_too_large',
      ],
      [
        'a 10-byte Content-Length on a 70 KB stream',
        () => postEvent(new Blob([new Uint8Array(70_000).fill(32)]).stream(), { headers: { 'content-length': '10' } }),
        413,
        'payload_too_large',
      ],
      ['a chunked body of 1 KB chunks past the cap', () => postEvent(chunked(70, 1024)), 413, 'payload_too_large'],
      [
        'an XML body',
        () => postEvent('<event/>', { headers: { 'content-type': 'application/xml' } }),
        415,
        'unsupported_media_type',
      ],
      [
        'no content type', // Bytes, so that the runtime adds no text/plain of its own.
        () => postEvent(new TextEncoder().encode('{}'), { headers: { 'content-type': null } }),
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [name, sendCase, status, code] of cases) {
      const res = await sendCase();
      if (status === 202) expect(res.status, name).toBe(202);
      else await expectError(res, status, code);
    }
  });

  it('stores events with 8 KB user agents, NUL, lone surrogates and RTL overrides as clean text, and never the agent', async () => {
    const own = await createProject();
    const agent = `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 ${'A'.repeat(8_192)}`;
    const res = await postEvent(
      pageview(own.siteKey, {
        n: 'sign\u0000up',
        u: 'https://example.com/\u202Eevil',
        p: { note: 'a\uD800b', dir: '\u202Egnp.exe' },
      }),
      { headers: { 'user-agent': agent } },
    );
    expect(res.status, await res.clone().text()).toBe(202);
    const [row] = await waitForEvents(own.id, 1);
    expect(row?.name).toBe('signup');
    expect(JSON.parse(row?.props ?? '{}')).toEqual({ note: 'a\uFFFDb', dir: '\u202Egnp.exe' });
    expect(JSON.stringify(row)).not.toContain('AAAAAAAA');
  });

  it('stores the rest of a batch around a dropped event and around a poison one', async () => {
    const own = await createProject();
    const batch = [
      pageview(own.siteKey, { u: 'https://example.com/1' }),
      pageview(own.siteKey, { u: 'https://example.com/2', r: 'https://semalt.com/' }),
      pageview(own.siteKey, { u: 'https://evil.example/3' }),
      pageview(own.siteKey, { u: 'https://example.com/4' }),
    ];
    const res = await postEvent(batch);
    expect(await res.json()).toMatchObject({ accepted: 2 });
    expect((await waitForEvents(own.id, 2)).map((row) => row.path)).toEqual(['/1', '/4']);

    const poisoned = [
      pageview(own.siteKey, { u: 'https://example.com/5' }),
      { ...batch[3], n: 42 },
      pageview(own.siteKey, { u: 'https://example.com/6' }),
    ] as unknown[];
    const answer = await postEvent(poisoned);
    expect(answer.status).toBe(202);
    const body = (await answer.json()) as AcceptedResponse;
    expect(body).toMatchObject({ accepted: 2, rejected: [{ index: 1, error: { code: 'invalid_input' } }] });
    expect(body.rejected?.[0]?.error.details).toEqual([{ path: [1, 'n'], message: expect.any(String) }]);
    expect((await waitForEvents(own.id, 4)).map((row) => row.path)).toEqual(['/1', '/4', '/5', '/6']);

    // With nothing valid left, the batch is refused whole, naming every event's field.
    const error = await expectError(
      await postEvent([
        { ...batch[0], n: 42 },
        { ...batch[0], u: 'x' },
      ]),
      400,
      'invalid_input',
    );
    expect(error.details?.map((issue) => issue.path)).toEqual([
      [0, 'n'],
      [1, 'u'],
    ]);
  });
});

/** A body that arrives as `count` chunks of `size` bytes, with no Content-Length. */
function chunked(count: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ === count) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(32));
    },
  });
}
