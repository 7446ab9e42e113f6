/**
 * The per-event caps of the wire protocol (LIMITS), each just under and just over, with the failing
 * field named in `details`; and what the worker makes of hostile text before storing it.
 */
import { type AcceptedResponse, LIMITS, type WireEvent } from '@tally/sdk/protocol';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { cleanText } from '../src/ingest/schema.ts';
import {
  createProject,
  expectError,
  type FieldIssue,
  pageview,
  postEvent,
  type TestProject,
  waitForEvents,
} from './helpers.ts';

let project: TestProject;
beforeEach(async () => {
  project = await createProject();
});

const URL_HEAD = 'https://example.com/';
const urlOf = (chars: number) => URL_HEAD + 'a'.repeat(chars - URL_HEAD.length);
const propsOf = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));

/**
 * Assert that `details` names the field at `path` inside an event. A batch addresses its events by
 * index; a single-event body may be addressed either as itself or as event 0 — both name the field.
 */
function expectFieldIssue(details: FieldIssue[] | undefined, path: (string | number)[], index?: number): void {
  const paths = (details ?? []).map((issue) => JSON.stringify(issue.path));
  const expected = index === undefined ? [path, [0, ...path]] : [[index, ...path]];
  expect(
    expected.some((candidate) => paths.includes(JSON.stringify(candidate))),
    `details ${JSON.stringify(details)} should name ${JSON.stringify(expected[0])}`,
  ).toBe(true);
}

/** Each cap: a field that is just within it and one that is just over, and where the failure is reported. */
const CAPS: { cap: string; path: (string | number)[]; under: Partial<WireEvent>; over: Partial<WireEvent> }[] = [
  {
    cap: `URL of ${LIMITS.urlChars} chars`,
    path: ['u'],
    under: { u: urlOf(LIMITS.urlChars) },
    over: { u: urlOf(LIMITS.urlChars + 1) },
  },
  {
    cap: `name of ${LIMITS.nameChars} chars`,
    path: ['n'],
    under: { n: 'n'.repeat(LIMITS.nameChars) },
    over: { n: 'n'.repeat(LIMITS.nameChars + 1) },
  },
  {
    cap: `${LIMITS.props} props`,
    path: ['p'],
    under: { p: propsOf(LIMITS.props) },
    over: { p: propsOf(LIMITS.props + 1) },
  },
  {
    cap: `prop key of ${LIMITS.propKeyChars} chars`,
    path: ['p', 'k'.repeat(LIMITS.propKeyChars + 1)],
    under: { p: { ['k'.repeat(LIMITS.propKeyChars)]: 1 } },
    over: { p: { ['k'.repeat(LIMITS.propKeyChars + 1)]: 1 } },
  },
  {
    cap: `prop value of ${LIMITS.propValueChars} chars`,
    path: ['p', 'plan'],
    under: { p: { plan: 'v'.repeat(LIMITS.propValueChars) } },
    over: { p: { plan: 'v'.repeat(LIMITS.propValueChars + 1) } },
  },
];

describe.each(CAPS)('$cap', ({ path, under, over }) => {
  it('is accepted just under the cap', async () => {
    const res = await postEvent(pageview(project.siteKey, under));
    expect(res.status, await res.clone().text()).toBe(202);
  });

  it('is refused just over it in a batch, naming the field, while the rest is stored', async () => {
    const body = [pageview(project.siteKey), pageview(project.siteKey, over)];
    const res = await postEvent(body);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as AcceptedResponse;
    expect(answer).toMatchObject({ accepted: 1, rejected: [{ index: 1, error: { code: 'invalid_input' } }] });
    expectFieldIssue(answer.rejected?.[0]?.error.details as FieldIssue[], path, 1);
    await waitForEvents(project.id, 1);
  });

  it('is refused just over it, naming the field in a single-event body', async () => {
    const error = await expectError(await postEvent(pageview(project.siteKey, over)), 400, 'invalid_input');
    expectFieldIssue(error.details, path);
  });
});

describe(`batches of ${LIMITS.batchEvents}`, () => {
  it(`stores a batch of ${LIMITS.batchEvents}`, async () => {
    const body = Array.from({ length: LIMITS.batchEvents }, (_, i) =>
      pageview(project.siteKey, { u: `${URL_HEAD}${i}` }),
    );
    const res = await postEvent(body);
    expect(await res.json()).toMatchObject({ accepted: LIMITS.batchEvents });
    await waitForEvents(project.id, LIMITS.batchEvents);
  });

  it(`refuses a batch of ${LIMITS.batchEvents + 1}`, async () => {
    const body = Array.from({ length: LIMITS.batchEvents + 1 }, () => pageview(project.siteKey));
    const error = await expectError(await postEvent(body), 400, 'invalid_input');
    expect(error.details).toEqual([{ path: [], message: expect.stringContaining(String(LIMITS.batchEvents)) }]);
  });
});

describe('shapes that are refused', () => {
  it.each([
    ['an object', { plan: { tier: 'pro' } }],
    ['an array', { plan: ['pro'] }],
    ['null', { plan: null }],
  ])('a prop value that is %s', async (_shape, p) => {
    const body = [{ ...pageview(project.siteKey), p }];
    const error = await expectError(await postEvent(body), 400, 'invalid_input');
    expectFieldIssue(error.details, ['p', 'plan'], 0);
  });

  it.each(['ftp://example.com/', 'javascript:alert(1)', 'data:text/html,hi', '/relative/path', 'example.com', ''])(
    'a page URL %j',
    async (u) => {
      const error = await expectError(await postEvent([pageview(project.siteKey, { u })]), 400, 'invalid_input');
      expectFieldIssue(error.details, ['u'], 0);
    },
  );

  it('an unknown field, so that a typo is not lost silently', async () => {
    const body = { ...pageview(project.siteKey), url: 'https://example.com/' };
    const error = await expectError(await postEvent(body), 400, 'invalid_input');
    expect(error.details).toEqual([{ path: ['url'], message: 'unknown field' }]);
  });

  it('names of any length up to the cap pass unless blank; longer ones fail on `n`', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 0, maxLength: LIMITS.nameChars + 20 }), async (n) => {
        const res = await postEvent([pageview(project.siteKey, { n })]);
        if (n.length <= LIMITS.nameChars && cleanText(n).trim().length > 0) {
          expect(res.status).toBe(202);
        } else {
          const error = await expectError(res, 400, 'invalid_input');
          expectFieldIssue(error.details, ['n'], 0);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('hostile text is stored clean', () => {
  it('removes NUL and turns lone surrogates into U+FFFD in the name and props', async () => {
    const res = await postEvent(
      pageview(project.siteKey, {
        n: 'sign\u0000up\uD800',
        p: { 'pl\u0000an': 'pro\uDC00', ok: 'caf\u00e9 \u{1F600}' },
      }),
    );
    expect(res.status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row?.name).toBe('signup\uFFFD');
    expect(JSON.parse(row?.props ?? 'null')).toEqual({ plan: 'pro\uFFFD', ok: 'caf\u00e9 \u{1F600}' });
  });

  it('stores any generated text as well-formed, control-free strings', async () => {
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
    const samples = fc.sample(fc.tuple(text, text), { numRuns: 30, seed: 42 });
    const body = samples.map(([key, value], i) =>
      pageview(project.siteKey, { n: `event ${i}`, p: { [`k${key}`]: value } }),
    );
    const res = await postEvent(body);
    expect(await res.json()).toMatchObject({ accepted: samples.length });

    const rows = await waitForEvents(project.id, samples.length);
    for (const row of rows) {
      const [key, value] = samples[Number(row.name.slice('event '.length))] ?? [];
      const stored = JSON.parse(row.props ?? '{}') as Record<string, string>;
      expect(stored).toEqual({ [cleanText(`k${key}`)]: cleanText(value ?? '') });
      for (const part of [...Object.keys(stored), ...Object.values(stored)]) {
        expect(part.isWellFormed()).toBe(true);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting that none survive is the point.
        expect(part).not.toMatch(/[\u0000-\u001f\u007f]/);
      }
    }
  });

  it('stores `__proto__` and `constructor` as plain prop keys', async () => {
    // Written as JSON text: an object literal's `__proto__` would set the prototype instead.
    const props = '{"__proto__":"x","constructor":"y","toString":"z"}';
    const res = await postEvent(`{"s":"${project.siteKey}","n":"pageview","u":"https://example.com/","p":${props}}`);
    expect(res.status).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    const stored = JSON.parse(row?.props ?? '{}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(Object.entries(stored)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
      ['toString', 'z'],
    ]);
  });

  it.each(['{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}'])(
    'lets no prop pollute Object.prototype: %s',
    async (props) => {
      const res = await postEvent(
        `[{"s":"${project.siteKey}","n":"pageview","u":"https://example.com/","p":${props}}]`,
      );
      // The worker runs in this isolate, so pollution would show here.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // A nested value is refused under any key.
      await expectError(res, 400, 'invalid_input');
    },
  );
});
