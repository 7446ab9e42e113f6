/**
 * Attacks on the account side: forged and tampered access JWTs, telling unknown emails from wrong
 * passwords, cross-site request forgery, and permissive CORS. (Password guessing and its lockout:
 * `auth-lockout.test.ts`.)
 */
import { env } from 'cloudflare:workers';
import { decodeJwt, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ApiOptions,
  api as callApi,
  createProjectAs,
  PASSWORD,
  signUp,
  type TestUser,
  uniqueEmail,
} from './accounts.ts';
import { expectError, ORIGIN } from './helpers.ts';

const EVIL = 'https://evil.example';
const SECRET = new TextEncoder().encode(env.AUTH_SECRET);

const randomIp = () => `10.2.${[...crypto.getRandomValues(new Uint8Array(2))].join('.')}`;

/**
 * A request with exactly the headers given (no implicit Origin), from a client address of its own
 * unless `ip` is given, so that the sign-in failures of one test never lock another's IP.
 */
function api(path: string, { cookie, ip, headers, ...options }: ApiOptions & { cookie?: string; ip?: string } = {}) {
  return callApi(path, {
    ...options,
    headers: { 'cf-connecting-ip': ip ?? randomIp(), ...(cookie ? { cookie } : {}), ...headers },
  });
}

const signIn = (email: string, password: string, ip: string, headers: Record<string, string> = {}) =>
  api('/api/auth/signin', { method: 'POST', body: { email, password, mode: 'token' }, ip, headers });
const me = (token: string) => api('/api/auth/me', { token });

afterEach(() => {
  vi.useRealTimers();
});

describe('access JWTs', () => {
  let ada: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    ada = await signUp();
    bob = await signUp();
  });

  /** The claims the Worker issues, for a session; override any. */
  function claims(session: TestUser, overrides: JWTPayload = {}): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    const { sub, sid } = decodeJwt(session.token);
    return { sub, sid, iss: 'tally', aud: 'tally-api', iat: now, exp: now + 900, ...overrides };
  }

  const sign = (payload: JWTPayload, alg = 'HS256', key: CryptoKey | Uint8Array = SECRET) =>
    new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);

  const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  /** Swap a token's payload for another, keeping its header and signature. */
  function tamper(token: string, payload: JWTPayload): string {
    const [header, , signature] = token.split('.');
    return `${header}.${b64url(JSON.stringify(payload))}.${signature}`;
  }

  it('accepts a token signed as the Worker signs them (control)', async () => {
    expect((await me(ada.token)).status).toBe(200);
    // The forging helper makes tokens the Worker accepts, so each refusal below is about one flaw.
    expect((await me(await sign(claims(ada)))).status).toBe(200);
  });

  it.each([
    ['alg: none (unsigned)', () => new UnsecuredJWT(claims(ada)).encode()],
    [
      'alg: none with the signature stripped',
      async () => `${b64url('{"alg":"none","typ":"JWT"}')}.${(await sign(claims(ada))).split('.')[1]}.`,
    ],
    ['HS384 with the right secret', () => sign(claims(ada), 'HS384')],
    ['HS512 with the right secret', () => sign(claims(ada), 'HS512')],
    ['RS256 with a generated key', async () => sign(claims(ada), 'RS256', (await generateKeyPair('RS256')).privateKey)],
    [
      'HS256 with a wrong key',
      () => sign(claims(ada), 'HS256', new TextEncoder().encode('not-the-secret-0123456789abcdef')),
    ],
    ['a payload tampered to another user', () => tamper(ada.token, { ...decodeJwt(ada.token), sub: bob.userId })],
    [
      'a payload tampered to another user and session',
      () => tamper(ada.token, { ...decodeJwt(ada.token), ...decodeJwt(bob.token) }),
    ],
    [
      'an expired token',
      () => sign(claims(ada, { iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 60 })),
    ],
    ['a wrong audience', () => sign(claims(ada, { aud: 'some-other-api' }))],
    ['a wrong issuer', () => sign(claims(ada, { iss: 'evil' }))],
    ['no session id', () => sign({ ...claims(ada), sid: undefined })],
    ["another user's session id", () => sign(claims(ada, { sid: decodeJwt(bob.token).sid }))],
    ['a session id that does not exist', () => sign(claims(ada, { sid: crypto.randomUUID() }))],
  ])('refuses %s with 401', async (_name, forge) => {
    await expectError(await me(await forge()), 401, 'unauthorized');
  });

  it('refuses a genuine token once its session is revoked', async () => {
    const session = await signUp();
    expect((await me(session.token)).status).toBe(200);
    expect((await api('/api/auth/signout', { method: 'POST', token: session.token })).status).toBe(204);
    await expectError(await me(session.token), 401, 'unauthorized');
  });
});

describe('sign-in guessing', () => {
  // How many guesses get through, from where, is auth-lockout.test.ts's subject.
  it('answers an unknown email and a wrong password with byte-identical 401s', async () => {
    const { email } = await signUp();
    const unknown = await signIn(uniqueEmail('nobody'), PASSWORD, randomIp());
    const wrong = await signIn(email, 'not the password', randomIp());
    expect([unknown.status, wrong.status]).toEqual([401, 401]);
    expect(unknown.headers.get('content-type')).toBe(wrong.headers.get('content-type'));
    expect(await unknown.text()).toBe(await wrong.text());
  });
});

describe('CSRF', () => {
  let cookie: string;
  let token: string;
  let projectId: string;
  beforeAll(async () => {
    const user = await signUp();
    token = user.token;
    const res = await api('/api/auth/signin', {
      method: 'POST',
      body: { email: user.email, password: PASSWORD },
      headers: { origin: ORIGIN },
    });
    expect(res.status).toBe(200);
    cookie = res.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    projectId = (await createProjectAs(token, { name: 'Target' })).id;
  });

  const project = () => api(`/api/projects/${projectId}`, { token });
  const writes = () =>
    [
      ['POST', '/api/projects', { name: 'Forged' }],
      ['PATCH', `/api/projects/${projectId}`, { name: 'Forged' }],
      ['DELETE', `/api/projects/${projectId}`, undefined],
      ['POST', '/api/auth/signout', undefined],
    ] as const;

  it.each([
    ['a foreign Origin', { origin: EVIL }],
    ['Origin: null (sandboxed frame)', { origin: 'null' }],
    ['no Origin at all', {}],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  ])('refuses cookie-authenticated writes with %s', async (_name, headers) => {
    for (const [method, path, body] of writes()) {
      await expectError(await api(path, { method, body, cookie, headers }), 403, 'forbidden');
    }
    // Nothing happened: the project is as it was, no other was created, the session still works.
    expect(await (await project()).json()).toMatchObject({ name: 'Target' });
    const list = (await (await api('/api/projects', { token })).json()) as { projects: unknown[] };
    expect(list.projects).toHaveLength(1);
    expect((await api('/api/auth/me', { cookie })).status).toBe(200);
  });

  it('accepts the same writes from the same origin', async () => {
    const headers = { origin: ORIGIN };
    const created = await api('/api/projects', { method: 'POST', body: { name: 'Mine' }, cookie, headers });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(
      (await api(`/api/projects/${id}`, { method: 'PATCH', body: { name: 'Renamed' }, cookie, headers })).status,
    ).toBe(200);
    expect((await api(`/api/projects/${id}`, { method: 'DELETE', cookie, headers })).status).toBe(204);
  });

  it('accepts a bearer-only request without Origin (API clients)', async () => {
    const res = await api(`/api/projects/${projectId}`, { method: 'PATCH', body: { name: 'Target' }, token });
    expect(res.status).toBe(200);
  });

  it('refuses sign-in and sign-up from a foreign origin (login CSRF)', async () => {
    const { email } = await signUp();
    for (const headers of [{ origin: EVIL }, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const res = await api('/api/auth/signin', { method: 'POST', body: { email, password: PASSWORD }, headers });
      await expectError(res, 403, 'forbidden');
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    const fresh = uniqueEmail('forged');
    const signup = await api('/api/auth/signup', {
      method: 'POST',
      body: { email: fresh, password: PASSWORD },
      headers: { origin: EVIL },
    });
    await expectError(signup, 403, 'forbidden');
    await expectError(await signIn(fresh, PASSWORD, randomIp()), 401, 'unauthorized');
  });
});

describe('CORS', () => {
  it('gives the management API no permissive CORS', async () => {
    const { token: accessToken } = await signUp();
    const responses = [
      await api('/api/auth/me', { token: accessToken, headers: { origin: EVIL } }),
      await api('/api/projects', { token: accessToken, headers: { origin: EVIL } }),
      await api('/api/projects', {
        method: 'OPTIONS',
        headers: {
          origin: EVIL,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      }),
      await api('/api/auth/signin', {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'POST' },
      }),
    ];
    for (const res of responses) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('lets any origin send events', async () => {
    const res = await api('/api/event', {
      method: 'OPTIONS',
      headers: {
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
