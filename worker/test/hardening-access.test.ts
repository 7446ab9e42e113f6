/**
 * Attacks on access, on every route the OpenAPI document lists (so a route added later is covered
 * without editing this file): forged access tokens, a refresh-token race, API-key brute force,
 * cross-site request forgery, and one project's ids used through another's access. Extends
 * auth-attacks.test.ts, which holds the single-route versions.
 */
import { env } from 'cloudflare:workers';
import { decodeJwt, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_KEY_LOCK_MS, API_KEY_MAX_FAILURES } from '../src/auth/api-key-throttle.ts';
import { generateApiKey } from '../src/auth/index.ts';
import { api, expectJson, PASSWORD, signUp } from './accounts.ts';
import { createApiKey, expectError, ORIGIN, pageview, postEvent } from './helpers.ts';
import { handshake, liveTicket, livePath } from './live-helpers.ts';
import {
  changesState,
  documentedRoutes,
  isProjectRoute,
  makeWorld,
  pathFor,
  type Route,
  validBody,
  type World,
} from './hardening-world.ts';

const EVIL = 'https://evil.example';
/**
 * Routes that take no credentials at all: WebSockets (their tickets: the live socket case below and
 * live-tickets tests) and public ingest.
 */
const WEBSOCKETS = new Set(['/api/projects/{id}/live', '/api/live/public/{siteKey}', '/api/share/{slug}/live']);

const randomIp = () => `10.9.${[...crypto.getRandomValues(new Uint8Array(2))].join('.')}`;

let world: World;
let routes: Route[];
beforeAll(async () => {
  world = await makeWorld();
  routes = (await documentedRoutes()).filter((route) => !WEBSOCKETS.has(route.template));
});
afterEach(() => {
  vi.useRealTimers();
});

/** A route called with a project's ids, its valid body, and the given headers (from an address of its own). */
function call(
  route: Route,
  headers: Record<string, string>,
  project = world.project,
  body = validBody(route, project),
) {
  return api(pathFor(route.template, project), {
    method: route.method,
    ...(body === undefined || route.method === 'GET' ? {} : { body }),
    headers: { 'cf-connecting-ip': randomIp(), ...headers },
  });
}

describe('forged access tokens', () => {
  const secret = new TextEncoder().encode(env.AUTH_SECRET);
  const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const sign = (payload: JWTPayload, alg = 'HS256', key: CryptoKey | Uint8Array = secret) =>
    new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);

  async function forgeries(): Promise<[string, string][]> {
    const now = Math.floor(Date.now() / 1000);
    const { sub, sid } = decodeJwt(world.owner.token);
    const claims = { sub, sid, iss: 'tally', aud: 'tally-api', iat: now, exp: now + 900 };
    const rsa = await generateKeyPair('RS256', { extractable: true });
    // HS/RS confusion: an RSA public key (as a server that verifies RS256 would hold) used as the HMAC secret.
    const publicPem = new TextEncoder().encode(JSON.stringify(await crypto.subtle.exportKey('jwk', rsa.publicKey)));
    const [header, payload, signature] = world.owner.token.split('.');
    return [
      ['alg none', new UnsecuredJWT(claims).encode()],
      ['alg none, signature kept', `${b64url('{"alg":"none","typ":"JWT"}')}.${payload}.${signature}`],
      ['HS512', await sign(claims, 'HS512')],
      ['RS256', await sign(claims, 'RS256', rsa.privateKey)],
      ['HS256 keyed with an RSA public key', await sign(claims, 'HS256', publicPem)],
      ['a wrong key', await sign(claims, 'HS256', new TextEncoder().encode('another-secret-0123456789abcdef'))],
      [
        'a tampered payload',
        `${header}.${b64url(JSON.stringify({ ...decodeJwt(world.owner.token), sub: world.stranger.userId }))}.${signature}`,
      ],
      ['expired', await sign({ ...claims, iat: now - 7200, exp: now - 60 })],
      ['not yet valid', await sign({ ...claims, nbf: now + 3600 })],
      ['a wrong issuer', await sign({ ...claims, iss: 'evil' })],
      ['a wrong audience', await sign({ ...claims, aud: 'other' })],
      ['truncated', world.owner.token.slice(0, -5)],
    ];
  }

  it('never get more than no credentials: 401 on every route that reads credentials', async () => {
    const control = await sign({ ...decodeJwt(world.owner.token) });
    expect((await api('/api/auth/me', { token: control })).status).toBe(200);
    // What each route answers a caller without credentials; a forgery may get that, or 401, nothing else.
    const anonymous = new Map<Route, number>();
    for (const route of routes) anonymous.set(route, (await call(route, {})).status);
    expect([...anonymous.values()].filter((status) => status === 401).length).toBeGreaterThan(25);
    const wrong: string[] = [];
    for (const [name, token] of await forgeries()) {
      for (const route of routes) {
        const res = await call(route, { authorization: `Bearer ${token}` });
        const body = await res.text();
        const refused = res.status === 401 && body.includes('"unauthorized"');
        if (!refused && (anonymous.get(route) === 401 || res.status !== anonymous.get(route))) {
          wrong.push(`${name} → ${route.method} ${route.template}: ${res.status} ${body.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('refresh tokens', () => {
  it('let at most one of 20 concurrent refreshes through, and the race revokes the family', async () => {
    const { email } = await signUp();
    const signin = await api('/api/auth/signin', {
      method: 'POST',
      body: { email, password: PASSWORD, mode: 'token' },
    });
    const session = await expectJson<{ accessToken: string; refreshToken: string }>(signin, 200);
    const race = await Promise.all(
      Array.from({ length: 20 }, () =>
        api('/api/auth/refresh', { method: 'POST', body: { refreshToken: session.refreshToken } }),
      ),
    );
    const winners = race.filter((res) => res.status === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const res of race.filter((r) => r.status !== 200)) await expectError(res, 401, 'unauthorized');
    // Reuse was detected, so nothing of this session works any more — the winner's tokens included.
    const next = winners[0] ? await expectJson<{ accessToken: string; refreshToken: string }>(winners[0], 200) : null;
    for (const token of [session.accessToken, next?.accessToken].filter(Boolean) as string[]) {
      await expectError(await api('/api/auth/me', { token }), 401, 'unauthorized');
    }
    if (next) {
      const again = await api('/api/auth/refresh', { method: 'POST', body: { refreshToken: next.refreshToken } });
      await expectError(again, 401, 'unauthorized');
    }
  });
});

describe('API-key brute force', () => {
  /** Keys an attacker might try: random, malformed, a real prefix with a wrong secret, revoked, expired. */
  async function guesses(n: number): Promise<string[]> {
    const realPrefix = world.project.apiKey.split('_')[1];
    const revoked = (await createApiKey(world.project.id, { revokedAt: Date.now() - 1000 })).key;
    const expired = (await createApiKey(world.project.id, { expiresAt: Date.now() - 1000 })).key;
    const kinds = [
      () => generateApiKey().key,
      () => `tly_${realPrefix}_${generateApiKey().key.slice(-32)}`,
      () => 'tly_short',
      () => `${world.project.apiKey}x`,
      () => revoked,
      () => expired,
    ];
    return Array.from({ length: n }, (_, i) => (kinds[i % kinds.length] as () => string)());
  }

  const attempts = {
    ingest: (key: string, ip: string) =>
      postEvent(pageview(undefined), { headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': ip } }),
    management: (key: string, ip: string) =>
      api(`/api/projects/${world.project.id}`, { headers: { 'x-tally-key': key, 'cf-connecting-ip': ip } }),
  };

  it.each(Object.keys(attempts) as (keyof typeof attempts)[])(
    'on %s: identical 401s, then 429 for every key from that address, good ones too, until the lock ends',
    async (where) => {
      const attempt = attempts[where];
      const start = Date.now();
      vi.setSystemTime(start);
      const ip = randomIp();
      const bodies = new Set<string>();
      for (const key of await guesses(API_KEY_MAX_FAILURES)) {
        const res = await attempt(key, ip);
        expect(res.status).toBe(401);
        bodies.add(`${res.headers.get('content-type')} ${await res.text()}`);
      }
      // Malformed, unknown, wrong-secret, revoked and expired keys cannot be told apart.
      expect(bodies.size).toBe(1);

      for (const key of [generateApiKey().key, world.project.apiKey]) {
        const locked = await attempt(key, ip);
        await expectError(locked, 429, 'rate_limited');
        expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(API_KEY_LOCK_MS / 1000 - 60);
      }
      // Other addresses are not affected.
      expect((await attempt(world.project.apiKey, randomIp())).status).toBeLessThan(300);

      vi.setSystemTime(start + API_KEY_LOCK_MS + 1000);
      expect((await attempt(world.project.apiKey, ip)).status).toBeLessThan(300);
    },
  );

  it('locks an address after a burst of concurrent guesses', async () => {
    const ip = randomIp();
    const burst = await Promise.all((await guesses(40)).map((key) => attempts.management(key, ip)));
    expect(burst.every((res) => res.status === 401 || res.status === 429)).toBe(true);
    await expectError(await attempts.management(world.project.apiKey, ip), 429, 'rate_limited');
  });
});

/** Whether a route names a thing inside the project (a goal, a key, a member, a funnel…). */
function hasSubResource(route: Route): boolean {
  return /\{id\}.*\{\w+\}/.test(route.template) || route.template === '/api/v1/funnel';
}

describe("another project's ids", () => {
  /** The route with the foreign project's ids; `mixed`: our project's id with the foreign sub-resource's. */
  function foreignCall(route: Route, headers: Record<string, string>, mixed = false) {
    const { project, foreign } = world;
    const ids = mixed ? { ...foreign, id: project.id, shareSlug: project.shareSlug } : foreign;
    const body = validBody(route, mixed ? { ...foreign, id: project.id } : foreign);
    return call(route, headers, ids, body);
  }

  it('answer 404 on every project route, exactly as an id that does not exist', async () => {
    const projectRoutes = routes.filter(isProjectRoute);
    expect(projectRoutes.length).toBeGreaterThan(20);
    const callers: [string, Record<string, string>][] = [
      ['the owner of another project', world.owner.headers],
      ['a viewer of another project', world.viewer.headers],
      ["another project's API key", { authorization: `Bearer ${world.project.apiKey}` }],
      ["another project's share link", { 'x-tally-share': world.project.shareSlug }],
    ];
    const missing = { ...world.foreign, id: 'no-such-project' };
    const wrong: string[] = [];
    for (const route of projectRoutes) {
      for (const [who, headers] of callers) {
        // Mixed ids (ours, with the other project's goal, key…) only for callers who may act on ours.
        const full = who.startsWith('the owner') || who.includes('API key');
        const variants = full && hasSubResource(route) ? [false, true] : [false];
        for (const mixed of variants) {
          const res = await foreignCall(route, headers, mixed);
          const text = await res.text();
          if (res.status !== 404)
            wrong.push(
              `${who}, ${route.method} ${route.template} (mixed ${mixed}): ${res.status} ${text.slice(0, 100)}`,
            );
        }
      }
      // No oracle: another project's id reads exactly like one that does not exist.
      const foreign = await (await foreignCall(route, world.owner.headers)).text();
      const none = await (await call(route, world.owner.headers, missing, validBody(route, missing))).text();
      if (foreign !== none) wrong.push(`${route.method} ${route.template}: ${foreign} ≠ ${none}`);
    }
    expect(wrong).toEqual([]);
  });

  // The live socket's only credential is its ticket, so it answers as every project route does
  // without credentials: 401. A ticket lives in the store of the project it was issued for, so
  // another project cannot tell a real ticket from a made-up one; all of these read the same.
  it('answer the live socket with the 401 of a bad ticket, identical for every way a ticket is wrong', async () => {
    const { project, foreign, owner } = world;
    const used = (await liveTicket(project.id, owner.token)).ticket;
    const opened = await handshake(livePath(project.id, used));
    expect(opened.status).toBe(101);
    opened.webSocket?.accept();
    opened.webSocket?.close(1000);
    const valid = (await liveTicket(project.id, owner.token)).ticket;
    const cases: [string, string][] = [
      ["a valid ticket, on another project's id", livePath(foreign.id, valid)],
      ['a valid ticket, on an id that does not exist', livePath('no-such-project', valid)],
      ['a made-up ticket on its own project', livePath(project.id, 'made-up')],
      ['a used ticket on its own project', livePath(project.id, used)],
      ['no ticket', `/api/projects/${project.id}/live`],
    ];
    const answers = new Set<string>();
    for (const [what, path] of cases) {
      const res = await handshake(path);
      answers.add(`${res.status} ${res.headers.get('content-type')} ${await res.text()}`);
      expect(res.status, what).toBe(401);
    }
    expect([...answers]).toHaveLength(1);
    // The attempt on the other project did not spend the ticket.
    const mine = await handshake(livePath(project.id, valid));
    expect(mine.status).toBe(101);
    mine.webSocket?.accept();
    mine.webSocket?.close(1000);
  });
});

describe('cross-site request forgery', () => {
  let cookie: string;
  beforeAll(async () => {
    // A world of its own: the control below really deletes the project and ends the session.
    world = await makeWorld();
    const res = await api('/api/auth/signin', {
      method: 'POST',
      body: { email: world.owner.email, password: PASSWORD },
      headers: { origin: ORIGIN },
    });
    expect(res.status).toBe(200);
    cookie = res.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
  });

  /** Every row of every table, as text: a forged request must change none of it. */
  async function snapshot(): Promise<string> {
    const { results: tables } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
    ).all<{ name: string }>();
    const parts: string[] = [];
    for (const { name } of tables) {
      // Sorted here, not by rowid: WITHOUT ROWID tables (`pair_rollups`) have none.
      const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      parts.push(`${name}:${results.map((row) => JSON.stringify(row)).sort()}`);
    }
    return parts.join('\n');
  }

  it('refuses every state-changing route carrying the session cookie from a foreign page, and changes nothing', async () => {
    const writes = routes.filter((route) => changesState(route) && !route.template.startsWith('/api/event'));
    expect(writes.length).toBeGreaterThan(20);
    const before = await snapshot();
    const wrong: string[] = [];
    const attacks: Record<string, string>[] = [
      { origin: EVIL },
      { origin: 'null' },
      {},
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const route of writes) {
      for (const headers of attacks) {
        const res = await call(route, { cookie, ...headers });
        const body = await res.text();
        if (res.status !== 403 || !body.includes('"forbidden"')) {
          wrong.push(
            `${route.method} ${route.template} ${JSON.stringify(headers)}: ${res.status} ${body.slice(0, 100)}`,
          );
        }
      }
    }
    console.log(
      `csrf: ${writes.length} state-changing routes × ${attacks.length} forgeries: ${writes.length * attacks.length - wrong.length} refused`,
    );
    expect(wrong).toEqual([]);
    expect(await snapshot()).toBe(before);

    // The same requests from the dashboard's own origin pass the check (the session ending ones last).
    const last = (route: Route) => (/signout|\/me$|^\/api\/projects\/\{id\}$/.test(route.template) ? 1 : 0);
    for (const route of [...writes].sort((a, b) => last(a) - last(b))) {
      const res = await call(route, { cookie, origin: ORIGIN });
      const text = await res.text();
      expect(res.status === 403 && /origin/i.test(text), `${route.method} ${route.template}: ${text}`).toBe(false);
    }
  });
});
