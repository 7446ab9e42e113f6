/**
 * Security headers on every response the Worker gives: every documented route (answered as it
 * succeeds and as it fails), the undocumented pages, the public scripts, errors and preflights.
 * API answers must not be framed or sniffed; the scripts other sites load must stay loadable; the
 * docs page's policy must allow exactly what the page loads.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api } from './accounts.ts';
import { ORIGIN } from './helpers.ts';
import {
  documentedRoutes,
  makeWorld,
  pathFor,
  type Route,
  UNDOCUMENTED_ROUTES,
  validBody,
  type World,
} from './hardening-world.ts';

const SCRIPTS = ['/t.js', '/live.js'];

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string | null): Map<string, string[]> {
  return new Map(
    (csp ?? '')
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name as string, sources]),
  );
}

/** Problems with the headers every response must carry. */
function commonProblems(res: Response): string[] {
  const h = res.headers;
  const problems: string[] = [];
  if (h.get('x-content-type-options') !== 'nosniff') problems.push('no nosniff');
  if (!/^(no-referrer|strict-origin-when-cross-origin)$/.test(h.get('referrer-policy') ?? '')) {
    problems.push(`referrer-policy ${h.get('referrer-policy')}`);
  }
  const maxAge = Number(/max-age=(\d+)/.exec(h.get('strict-transport-security') ?? '')?.[1] ?? 0);
  if (maxAge < 31_536_000) problems.push(`HSTS ${h.get('strict-transport-security')}`);
  return problems;
}

/** Problems with the headers of an API answer: never framed, never a page that loads or runs anything. */
function apiProblems(res: Response): string[] {
  const csp = directives(res.headers.get('content-security-policy'));
  const problems = commonProblems(res);
  if (res.headers.get('x-frame-options') !== 'DENY')
    problems.push(`x-frame-options ${res.headers.get('x-frame-options')}`);
  if (csp.get('frame-ancestors')?.join(' ') !== "'none'") problems.push('no frame-ancestors none');
  return problems;
}

let world: World;
let routes: Route[];
beforeAll(async () => {
  world = await makeWorld();
  routes = [...(await documentedRoutes()), ...UNDOCUMENTED_ROUTES];
});

describe('API answers', () => {
  it('carry nosniff, a referrer policy, HSTS, DENY framing and a locked-down CSP on every route, ok or not', async () => {
    const wrong: string[] = [];
    for (const route of routes) {
      if (route.template === '/api/docs') continue;
      const path = pathFor(route.template, world.project);
      const body = validBody(route, world.project);
      const variants: [string, Record<string, string>][] = [
        ['as the owner', world.owner.headers],
        ['without credentials', {}],
        ['with a bad token', { authorization: 'Bearer nope' }],
      ];
      for (const [who, headers] of variants) {
        const res = await api(path, {
          method: route.method,
          headers: { ...headers, 'cf-connecting-ip': '192.0.2.1' },
          ...(body === undefined || route.method === 'GET' ? {} : { body }),
        });
        await res.arrayBuffer();
        if (res.status === 101) continue;
        const problems = apiProblems(res);
        const csp = directives(res.headers.get('content-security-policy'));
        if (csp.get('default-src')?.join(' ') !== "'none'")
          problems.push(`CSP ${res.headers.get('content-security-policy')}`);
        if (problems.length)
          wrong.push(`${route.method} ${route.template} ${who} (${res.status}): ${problems.join(', ')}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    ['a 404', () => exports.default.fetch(`${ORIGIN}/no/such/route`)],
    ['a 405', () => exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, { method: 'PUT' })],
    [
      'a 400',
      () =>
        exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, {
          method: 'POST',
          body: '{',
          headers: { 'content-type': 'text/plain' },
        }),
    ],
    [
      'a CORS preflight',
      () =>
        exports.default.fetch(`${ORIGIN}${EVENT_PATH}`, {
          method: 'OPTIONS',
          headers: { origin: 'https://site.example', 'access-control-request-method': 'POST' },
        }),
    ],
    ['a HEAD', () => exports.default.fetch(`${ORIGIN}/api/health`, { method: 'HEAD' })],
  ])('are on %s', async (_name, send) => {
    expect(apiProblems(await send())).toEqual([]);
  });

  it('let other sites embed the ingest pixel and send beacons (cross-origin resource policy)', async () => {
    const res = await exports.default.fetch(`${ORIGIN}${EVENT_PATH}?s=${world.project.siteKey}`, {
      headers: { referer: 'https://example.com/page', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' },
    });
    await res.arrayBuffer();
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const json = await api('/api/projects', { token: world.owner.token });
    expect(json.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });
});

describe('public scripts', () => {
  it.each(SCRIPTS)(
    '%s stays loadable from any site: JavaScript, nosniff, HSTS, cross-origin resource policy',
    async (path) => {
      const res = await exports.default.fetch(`${ORIGIN}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^(application|text)\/javascript/);
      expect(commonProblems(res)).toEqual([]);
      expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      // Nothing that would stop another origin's page from running it.
      expect(res.headers.get('cross-origin-embedder-policy')).toBeNull();
      expect(res.headers.get('content-security-policy')).toBeNull();
      expect((await res.text()).length).toBeGreaterThan(100);
    },
  );
});

describe('the docs page', () => {
  it('may load its script, styles, fonts and the OpenAPI document, and nothing else, and is never framed', async () => {
    const res = await exports.default.fetch(`${ORIGIN}/api/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(apiProblems(res)).toEqual([]);
    const csp = directives(res.headers.get('content-security-policy'));
    expect(csp.get('default-src')).toEqual(["'none'"]);
    // Every script the page references is allowed by script-src (a host and path prefix).
    const scripts = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1] as string);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      expect(
        csp.get('script-src')?.some((source) => src.startsWith(source)),
        `${src} under ${csp.get('script-src')}`,
      ).toBe(true);
    }
    // No inline script with code in it (which script-src would block): only the empty config element.
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]?.trim());
    expect(inline.every((code) => code === '')).toBe(true);
    // The document it reads is same-origin, which connect-src allows.
    expect(html).toMatch(/data-url="\/api\/openapi\.json"/);
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
    expect(csp.get('script-src')).not.toContain("'unsafe-eval'");
  });
});
