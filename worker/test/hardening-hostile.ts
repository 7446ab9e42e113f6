/**
 * The pieces hostile requests are made of (fast-check arbitraries and hand-picked hazards): text
 * that has broken parsers, SQL and renderers, bodies no schema would draw, mis-encoded paths and
 * query strings, forged and stolen-looking credentials, and headers a client controls.
 */
import fc from 'fast-check';
import { ORIGIN, USER_AGENTS } from './helpers.ts';
import type { World } from './hardening-world.ts';

/** Printable ASCII up to `maxLength` characters: what a header value may hold. */
export const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode), maxLength });

/** Text that has broken parsers, SQL, templates and renderers before. */
export const HOSTILE_TEXT = [
  "' OR '1'='1",
  '1; DROP TABLE events; --',
  '" UNION SELECT * FROM users --',
  "') OR 1=1 --",
  '%',
  '\\',
  '*',
  '?',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, meant literally.
  '${7*7}{{7*7}}',
  '__proto__',
  'constructor',
  '\u0000',
  'a\u0000b',
  '\u202Egnp.exe',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFF',
  '🦄'.repeat(50),
  'x'.repeat(5_000),
  '',
  ' ',
];

/** A path segment: a real id, another project's, or something hostile, sometimes mis-encoded. */
export function segment(real: string, foreign: string): fc.Arbitrary<string> {
  const encode = (text: string) => encodeURIComponent(text.toWellFormed());
  return fc.oneof(
    { weight: 16, arbitrary: fc.constant(encodeURIComponent(real)) },
    { weight: 2, arbitrary: fc.constant(encodeURIComponent(foreign)) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_TEXT).map(encode) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map(encode) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%c0%af', '%ff%fe', '%00', '%2e%2e', '%2F', '..', '.', '~') },
  );
}

/** A query string: none, random pairs, hostile pairs, or raw mis-encoded text. */
export const queryString = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(printable(20), fc.oneof(printable(40), fc.constantFrom(...HOSTILE_TEXT))), { maxLength: 5 })
      .map(
        (pairs) =>
          `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.toWellFormed())}`).join('&')}`,
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom('?%', '?a=%zz&b', '?&&&==', `?q=${'a'.repeat(8_000)}`, '?__proto__[x]=1') },
);

/** A JSON value, sometimes with numbers JSON cannot hold exactly. */
export const jsonValue = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0.1 + 0.2, 2 ** 53) },
);

/** Every path to a value inside a JSON document. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item, i) => pathsOf(item, [...prefix, i]))];
  if (value && typeof value === 'object') {
    return [prefix, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...prefix, key]))];
  }
  return [prefix];
}

function setAt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): unknown {
  if (!path.length) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (remove) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

/** A valid body with one thing wrong: a value replaced or removed, an unknown key, or deep nesting. */
export function mutated(valid: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(valid);
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...paths), jsonValue, fc.boolean())
      .map(([path, value, remove]) => setAt(valid, path, value, remove && path.length > 0)),
    fc
      .tuple(printable(12), jsonValue)
      .map(([key, value]) =>
        valid && typeof valid === 'object' && !Array.isArray(valid) ? { ...valid, [key]: value } : [valid, value],
      ),
    fc.integer({ min: 2, max: 400 }).map((depth) => {
      let nested: unknown = valid;
      for (let i = 0; i < depth; i++) nested = [nested];
      return nested;
    }),
    fc.constant(valid),
  );
}

/** Bodies no schema would draw: hand-picked JSON-parser and text hazards. */
export const HOSTILE_BODIES = [
  '',
  ' ',
  'null',
  'true',
  '[]',
  '{}',
  '"text"',
  '1e999',
  '-1e999',
  '123456789012345678901234567890',
  '{"a":1,"a":2}',
  '\uFEFF{}',
  '{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}',
  '{"name":"\\ud800","email":"\\u0000@example.com"}',
  '{"name":"\u202Egnp.exe"}',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  `[${'{},'.repeat(30_000)}{}]`,
  `{"name":"${'x'.repeat(70_000)}"}`,
  '{"s":',
  '\u0000\u0000\u0000',
];

/** Mostly the types the API reads (JSON; text/plain for beacons), else types it must refuse. */
export const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom('text/plain', 'text/plain;charset=UTF-8', 'APPLICATION/JSON') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-16',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/html',
      'application/xml',
      'application/json, text/plain',
      '*/*',
      '',
    ),
  },
);

/** Credentials, valid and not, as headers. */
export function credentials(world: World): fc.Arbitrary<Record<string, string>> {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const forged = `${btoa('{"alg":"none","typ":"JWT"}')}.${btoa(`{"sub":"${world.owner.userId}"}`)}.`;
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(bearer(world.owner.token)) },
    { weight: 2, arbitrary: fc.constant(bearer(world.viewer.token)) },
    { weight: 1, arbitrary: fc.constant(bearer(world.stranger.token)) },
    { weight: 2, arbitrary: fc.constant(bearer(world.project.apiKey)) },
    { weight: 1, arbitrary: fc.constant({ 'x-tally-key': world.project.apiKey }) },
    { weight: 1, arbitrary: fc.constant({ 'x-tally-share': world.project.shareSlug }) },
    { weight: 1, arbitrary: fc.constant({ cookie: `tally_access=${world.owner.token}`, origin: ORIGIN }) },
    { weight: 2, arbitrary: fc.constant({}) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        printable(200).map((junk) => ({ authorization: `Bearer ${junk}` })),
        printable(60).map((junk) => ({ authorization: `Bearer tly_${junk}` })),
        printable(60).map((junk) => ({ 'x-tally-key': junk })),
        printable(60).map((junk) => ({ 'x-tally-share': junk, 'x-tally-share-token': junk })),
        printable(300).map((junk) => ({ cookie: `tally_access=${junk}; tally_refresh=${junk}` })),
        fc.constant({ authorization: `Bearer ${forged}` }),
        fc.constant({ authorization: 'Basic dXNlcjpwYXNz' }),
        fc.constant({ authorization: `Bearer ${world.owner.token}x` }),
      ),
    },
  );
}

/** `arbitrary` one time in `every`, else absent. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, every: number) =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

/** Other headers a client controls: origin, user agent, client address, fetch metadata. */
export const clientHeaders = fc
  .record({
    origin: sometimes(
      fc.constantFrom(ORIGIN, ORIGIN, 'https://evil.example', 'null', 'http://tally.test.evil.example'),
      3,
    ),
    'user-agent': fc.oneof(
      fc.constantFrom(...Object.values(USER_AGENTS)),
      printable(300),
      fc.constant(`Mozilla/5.0 ${'A'.repeat(8_192)}`),
    ),
    'cf-connecting-ip': fc.oneof(fc.ipV4(), fc.ipV6(), printable(40)),
    'x-forwarded-for': sometimes(fc.oneof(fc.ipV4(), printable(40)), 2),
    'sec-fetch-site': sometimes(fc.constantFrom('same-origin', 'cross-site', 'none'), 6),
    'content-length': sometimes(fc.constantFrom('0', '1', '-1', 'abc', '99999999999'), 6),
  })
  .map(
    (headers) =>
      Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== null)) as Record<string, string>,
  );

/** Methods to try; workerd itself refuses to build a request with a method outside its list. */
export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'patch', 'PROPFIND', 'REPORT'];
