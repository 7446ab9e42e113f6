/**
 * The dashboard's security headers, in the three places they come from: the hook (rendered pages),
 * `_headers` (the files Cloudflare Pages serves itself, which skip the hook), and the CSP that
 * SvelteKit writes from svelte.config.js. The two header sets must agree.
 */
import { readFileSync } from 'node:fs';
import type { Config, Handle } from '@sveltejs/kit';
import { describe, expect, it } from 'vitest';
// @ts-expect-error svelte.config.js is plain JavaScript (typed by JSDoc only), outside the typecheck.
import svelteConfig from '../svelte.config.js';
import { handle } from './hooks.server.ts';
import { shareSlug } from './lib/server/frame-ancestors.ts';

const config = svelteConfig as Config;

/** The rules of a Cloudflare Pages `_headers` file: path pattern → header name (lower case) → value. */
function parseHeadersFile(text: string): Map<string, Map<string, string>> {
  const rules = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const line of text.split('\n')) {
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      current = new Map();
      rules.set(line.trim(), current);
      continue;
    }
    const match = /^\s+([!A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (!current || !match?.[1]) throw new Error(`not a header line of a rule: ${JSON.stringify(line)}`);
    current.set(match[1].toLowerCase(), (match[2] ?? '').trim());
  }
  return rules;
}

/** The headers the hook puts on a rendered page. */
async function pageHeaders(): Promise<Headers> {
  const event = { url: new URL('https://dash.example/projects/demo'), request: new Request('https://dash.example/') };
  const resolve = async () =>
    new Response('<!doctype html><title>Tally</title>', { headers: { 'content-type': 'text/html' } });
  const response = await handle({ event, resolve } as unknown as Parameters<Handle>[0]);
  return response.headers;
}

const staticRules = parseHeadersFile(readFileSync(new URL('../_headers', import.meta.url), 'utf8'));
const everyPath = staticRules.get('/*') ?? new Map<string, string>();

describe('_headers (files Pages serves without the hook)', () => {
  it('gives every path the baseline: no sniffing, a referrer policy, no framing, HSTS', () => {
    expect(staticRules.has('/*')).toBe(true);
    expect(everyPath.get('x-content-type-options')).toBe('nosniff');
    expect(everyPath.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(everyPath.get('x-frame-options')).toBe('DENY');
    expect(everyPath.get('content-security-policy')).toBe("frame-ancestors 'none'");
    const hsts = /^max-age=(\d+); includeSubDomains$/.exec(everyPath.get('strict-transport-security') ?? '');
    expect(Number(hsts?.[1])).toBeGreaterThanOrEqual(31_536_000);
  });

  it('sets every header the hook sets, with the same value', async () => {
    const headers = await pageHeaders();
    const fromHook = [...headers].filter(([name]) => name !== 'content-type');
    expect(fromHook.length).toBeGreaterThanOrEqual(5);
    for (const [name, value] of fromHook) expect(everyPath.get(name), name).toBe(value);
  });

  it('lies in the project root, where adapter-cloudflare looks for it (it refuses one in static/)', () => {
    expect(() => readFileSync(new URL('../static/_headers', import.meta.url))).toThrow();
  });
});

describe('rendered pages', () => {
  it('get the security headers from the hook', async () => {
    const headers = await pageHeaders();
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('strict-transport-security')).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
    expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
  });

  it('get a CSP that runs only our own scripts, loads nothing foreign and cannot be framed', () => {
    const csp = config.kit?.csp;
    expect(csp?.mode).toBe('auto');
    const directives = csp?.directives ?? {};
    expect(directives['default-src']).toEqual(['self']);
    expect(directives['script-src']).toEqual(['self']);
    expect(directives['connect-src']).toEqual(['self']);
    expect(directives['object-src']).toEqual(['none']);
    expect(directives['base-uri']).toEqual(['self']);
    expect(directives['form-action']).toEqual(['self']);
    expect(directives['frame-ancestors']).toEqual(['none']);
    // The CSP of the static files says the same about framing.
    expect(everyPath.get('content-security-policy')).toBe("frame-ancestors 'none'");
  });
});

describe("a share link's view", () => {
  const SVELTEKIT_CSP = "default-src 'self'; script-src 'self' 'nonce-abc'; frame-ancestors 'none'; object-src 'none'";

  /** The headers of a page rendered with SvelteKit's CSP, the API answering the embed question with `answer`. */
  async function headersOf(pathname: string, answer: () => Response): Promise<Headers> {
    const asked: string[] = [];
    const API = {
      fetch: async (request: Request) => {
        asked.push(new URL(request.url).pathname);
        return answer();
      },
    };
    const event = {
      url: new URL(`https://dash.example${pathname}`),
      request: new Request(`https://dash.example${pathname}`),
      platform: { env: { API } },
    };
    const resolve = async () =>
      new Response('<!doctype html>', {
        headers: { 'content-type': 'text/html', 'content-security-policy': SVELTEKIT_CSP },
      });
    const response = await handle({ event, resolve } as unknown as Parameters<Handle>[0]);
    if (!shareSlug(pathname)) expect(asked).toEqual([]);
    return response.headers;
  }

  const origins = (frameAncestors: unknown) => () => Response.json({ frameAncestors });

  it('may be framed by the origins its link lists, and only the frame-ancestors directive changes', async () => {
    const headers = await headersOf('/share/abc', origins(['https://blog.example', 'http://localhost:5173']));
    expect(headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self' 'nonce-abc'; frame-ancestors https://blog.example http://localhost:5173; object-src 'none'",
    );
    expect(headers.get('x-frame-options')).toBeNull();
    expect(headers.get('x-content-type-options')).toBe('nosniff');
  });

  it("keeps 'none' when the link lists no origin, is unknown, or the API fails", async () => {
    for (const answer of [
      origins([]),
      () => Response.json({ error: { code: 'not_found', message: 'No such share link' } }, { status: 404 }),
      () => new Response('not json', { status: 200 }),
      () => {
        throw new Error('binding down');
      },
    ]) {
      const headers = await headersOf('/share/abc', answer);
      expect(headers.get('content-security-policy')).toBe(SVELTEKIT_CSP);
      expect(headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('never writes what is not a bare origin into the header', async () => {
    const headers = await headersOf(
      '/share/abc',
      origins(["https://ok.example; script-src 'unsafe-inline'", 'https://*.example', 'https://fine.example']),
    );
    expect(headers.get('content-security-policy')).toContain('frame-ancestors https://fine.example;');
    expect(headers.get('content-security-policy')).not.toContain('unsafe-inline');
  });

  it('changes nothing on other pages, whatever the API would say', async () => {
    for (const pathname of ['/projects/demo', '/share/abc/more', '/signin']) {
      const headers = await headersOf(pathname, origins(['https://blog.example']));
      expect(headers.get('content-security-policy')).toBe(SVELTEKIT_CSP);
      expect(headers.get('x-frame-options')).toBe('DENY');
    }
  });
});
