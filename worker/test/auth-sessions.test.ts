/**
 * Account sessions through the real Worker: sign-up → sign-in → me → refresh → sign-out, with
 * cookies (browsers) and with bearer tokens (API clients); refresh rotation and stolen-token
 * detection; password change and account deletion.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ApiOptions, api as callApi, expectJson, PASSWORD, uniqueEmail } from './accounts.ts';
import { expectError, ORIGIN } from './helpers.ts';

/**
 * A request from a client address of its own, so that the sign-in failures of one test never lock
 * another's IP. A request with cookies comes from the app's own origin, as a browser's would.
 */
function api(path: string, { cookie, headers, ...options }: ApiOptions & { cookie?: string } = {}): Promise<Response> {
  const [a = 0, b = 0] = crypto.getRandomValues(new Uint8Array(2));
  return callApi(path, {
    ...options,
    headers: { 'cf-connecting-ip': `10.1.${a}.${b}`, ...(cookie ? { cookie, origin: ORIGIN } : {}), ...headers },
  });
}

interface TokenSession {
  user: { id: string; email: string };
  accessToken: string;
  refreshToken: string;
}

const expectSession = (res: Response, status: number) => expectJson<TokenSession>(res, status);
const signUp = async (email: string, password = PASSWORD) =>
  expectSession(await api('/api/auth/signup', { method: 'POST', body: { email, password, mode: 'token' } }), 201);
const signIn = async (email: string, password = PASSWORD) =>
  expectSession(await api('/api/auth/signin', { method: 'POST', body: { email, password, mode: 'token' } }), 200);
const me = (token: string) => api('/api/auth/me', { token });
const refresh = (refreshToken: string) => api('/api/auth/refresh', { method: 'POST', body: { refreshToken } });

/** The cookies a response sets, by name: value and attributes. */
function setCookies(res: Response): Map<string, { value: string; attributes: string[] }> {
  const cookies = new Map<string, { value: string; attributes: string[] }>();
  for (const line of res.headers.getSetCookie()) {
    const [pair = '', ...attributes] = line.split(/;\s*/);
    const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq), { value: decodeURIComponent(pair.slice(eq + 1)), attributes });
  }
  return cookies;
}

/** The Cookie header a browser would send back. */
const cookieHeader = (cookies: Map<string, { value: string }>) =>
  [...cookies].map(([name, { value }]) => `${name}=${value}`).join('; ');

afterEach(() => {
  vi.useRealTimers();
});

describe('with cookies (browsers)', () => {
  it('signs up, signs in, reads me, refreshes and signs out', async () => {
    const email = uniqueEmail('cookie');
    const signup = await api('/api/auth/signup', {
      method: 'POST',
      body: { email, password: PASSWORD },
      headers: { origin: ORIGIN },
    });
    expect(signup.status).toBe(201);
    // Cookie mode keeps the tokens out of reach of scripts: nothing in the body.
    expect(Object.keys(await signup.json())).not.toContain('accessToken');

    const signin = await api('/api/auth/signin', {
      method: 'POST',
      body: { email, password: PASSWORD, mode: 'cookie' },
      headers: { origin: ORIGIN },
    });
    expect(signin.status).toBe(200);
    const body = (await signin.json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty('accessToken');
    expect(body).not.toHaveProperty('refreshToken');
    const cookies = setCookies(signin);
    const access = cookies.get('tally_access');
    const refreshCookie = cookies.get('tally_refresh');
    for (const cookie of [access, refreshCookie]) {
      expect(cookie?.attributes).toEqual(expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Lax']));
    }
    expect(access?.attributes).toContain('Path=/api');
    expect(refreshCookie?.attributes).toContain('Path=/api/auth');

    const meRes = await api('/api/auth/me', { cookie: cookieHeader(cookies) });
    expect(meRes.status).toBe(200);
    expect(await meRes.json()).toMatchObject({ user: { email }, projects: [] });

    const refreshed = await api('/api/auth/refresh', { method: 'POST', cookie: cookieHeader(cookies) });
    expect(refreshed.status).toBe(200);
    const next = setCookies(refreshed);
    expect(next.get('tally_refresh')?.value).toMatch(/\S/);
    expect(next.get('tally_refresh')?.value).not.toBe(refreshCookie?.value);
    expect((await api('/api/auth/me', { cookie: cookieHeader(next) })).status).toBe(200);

    const signout = await api('/api/auth/signout', { method: 'POST', cookie: cookieHeader(next) });
    expect(signout.status).toBe(204);
    // The browser is told to forget both cookies, on the paths they were set with.
    const cleared = setCookies(signout);
    expect(cleared.get('tally_access')?.attributes).toEqual(expect.arrayContaining(['Max-Age=0', 'Path=/api']));
    expect(cleared.get('tally_refresh')?.attributes).toEqual(expect.arrayContaining(['Max-Age=0', 'Path=/api/auth']));
    // And a client that kept them anyway is refused.
    await expectError(await api('/api/auth/me', { cookie: cookieHeader(next) }), 401, 'unauthorized');
    await expectError(
      await api('/api/auth/refresh', { method: 'POST', cookie: cookieHeader(next) }),
      401,
      'unauthorized',
    );
  });
});

describe('with tokens (API clients)', () => {
  it('signs up, signs in, reads me, refreshes and signs out', async () => {
    const email = uniqueEmail('token');
    const signup = await api('/api/auth/signup', {
      method: 'POST',
      body: { email, password: PASSWORD, mode: 'token' },
    });
    expect(signup.status).toBe(201);
    expect(signup.headers.getSetCookie()).toEqual([]);
    const session = await signIn(email);
    expect(session.accessToken).toMatch(/\S/);

    const meRes = await me(session.accessToken);
    expect(meRes.status).toBe(200);
    expect(await meRes.json()).toMatchObject({ user: { id: session.user.id, email } });

    const next = await expectSession(await refresh(session.refreshToken), 200);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect((await me(next.accessToken)).status).toBe(200);

    expect((await api('/api/auth/signout', { method: 'POST', token: next.accessToken })).status).toBe(204);
    await expectError(await me(next.accessToken), 401, 'unauthorized');
    await expectError(await refresh(next.refreshToken), 401, 'unauthorized');
  });
});

describe('sign-out', () => {
  it('ends the session with the refresh token alone, when the access token has expired', async () => {
    const session = await signUp(uniqueEmail('signout'));
    const out = await api('/api/auth/signout', { method: 'POST', body: { refreshToken: session.refreshToken } });
    expect(out.status).toBe(204);
    await expectError(await refresh(session.refreshToken), 401, 'unauthorized');
    await expectError(await me(session.accessToken), 401, 'unauthorized');
  });

  it('refuses with neither a session nor a known refresh token', async () => {
    await expectError(
      await api('/api/auth/signout', { method: 'POST', body: { refreshToken: 'unknown' } }),
      401,
      'unauthorized',
    );
    await expectError(await api('/api/auth/signout', { method: 'POST' }), 401, 'unauthorized');
  });
});

describe('sign-up', () => {
  it('normalises the email: one person, one account', async () => {
    const local = `ada-${crypto.randomUUID().slice(0, 8)}`;
    const first = await signUp(` ${local.toUpperCase()}@Example.COM `);
    expect(first.user.email).toBe(`${local}@example.com`);
    const again = await api('/api/auth/signup', {
      method: 'POST',
      body: { email: `${local}@example.com`, password: PASSWORD, mode: 'token' },
    });
    const error = await expectError(again, 409, 'conflict');
    expect(error.details).toEqual([expect.objectContaining({ path: ['email'] })]);
    // Signing in is just as indifferent to case and spaces.
    expect((await signIn(`  ${local}@EXAMPLE.com`)).user.id).toBe(first.user.id);
  });

  it('refuses a password that is too short, naming the field', async () => {
    const res = await api('/api/auth/signup', {
      method: 'POST',
      body: { email: uniqueEmail('short'), password: 'short', mode: 'token' },
    });
    const error = await expectError(res, 400, 'invalid_input');
    expect(error.details).toEqual([expect.objectContaining({ path: ['password'] })]);
  });
});

describe('refresh', () => {
  it('rotates both tokens: the new access token outlives the old one', async () => {
    const start = Date.UTC(2030, 4, 1, 9);
    vi.setSystemTime(start);
    const email = uniqueEmail('rotate');
    const first = await signUp(email);
    vi.setSystemTime(start + 10 * 60_000);
    const second = await expectSession(await refresh(first.refreshToken), 200);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    // 16 minutes after sign-up the first access token has expired; the rotated one has not.
    vi.setSystemTime(start + 16 * 60_000);
    await expectError(await me(first.accessToken), 401, 'unauthorized');
    expect((await me(second.accessToken)).status).toBe(200);
  });

  it('reuse of a rotated refresh token revokes the whole family, and only it', async () => {
    const email = uniqueEmail('reuse');
    const victim = await signUp(email);
    const otherDevice = await signIn(email);
    const rotated = await expectSession(await refresh(victim.refreshToken), 200);

    // The used token comes back (an attacker who stole it, or its owner after the attacker).
    await expectError(await refresh(victim.refreshToken), 401, 'unauthorized');
    // Every token of that family is dead, including the newest pair…
    await expectError(await me(rotated.accessToken), 401, 'unauthorized');
    await expectError(await refresh(rotated.refreshToken), 401, 'unauthorized');
    // …while the user's other session is untouched.
    expect((await me(otherDevice.accessToken)).status).toBe(200);
    expect((await refresh(otherDevice.refreshToken)).status).toBe(200);
  });

  it('refuses a refresh token 30 days after it was issued', async () => {
    const start = Date.UTC(2030, 5, 1);
    vi.setSystemTime(start);
    const session = await signUp(uniqueEmail('stale'));
    vi.setSystemTime(start + 30 * 86_400_000 + 1000);
    await expectError(await refresh(session.refreshToken), 401, 'unauthorized');
  });

  it('refuses an unknown refresh token and a request without one', async () => {
    await expectError(await refresh('not-a-token-we-issued'), 401, 'unauthorized');
    await expectError(await api('/api/auth/refresh', { method: 'POST' }), 401, 'unauthorized');
  });
});

describe('change password', () => {
  it('refuses a wrong current password', async () => {
    const session = await signUp(uniqueEmail('wrongpw'));
    const res = await api('/api/auth/password', {
      method: 'POST',
      token: session.accessToken,
      body: { currentPassword: 'not my password', newPassword: 'a brand new password' },
    });
    const error = await expectError(res, 403, 'forbidden');
    expect(error.details).toEqual([expect.objectContaining({ path: ['currentPassword'] })]);
    expect((await me(session.accessToken)).status).toBe(200);
  });

  it('signs out every other session, keeps this one, and retires the old password', async () => {
    const email = uniqueEmail('changepw');
    const here = await signUp(email);
    const elsewhere = await signIn(email);
    const res = await api('/api/auth/password', {
      method: 'POST',
      token: here.accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
    });
    expect(res.status).toBe(204);

    await expectError(await me(elsewhere.accessToken), 401, 'unauthorized');
    await expectError(await refresh(elsewhere.refreshToken), 401, 'unauthorized');
    expect((await me(here.accessToken)).status).toBe(200);
    expect((await refresh(here.refreshToken)).status).toBe(200);

    const old = await api('/api/auth/signin', { method: 'POST', body: { email, password: PASSWORD, mode: 'token' } });
    await expectError(old, 401, 'unauthorized');
    expect((await signIn(email, 'a brand new password')).user.id).toBe(here.user.id);
  });
});

describe('a browser still holding the cookies of a revoked session', () => {
  it('can sign in again (a dead access cookie must not block the door)', async () => {
    const email = uniqueEmail('stale-cookie');
    await signUp(email);
    const browser = await api('/api/auth/signin', {
      method: 'POST',
      body: { email, password: PASSWORD },
      headers: { origin: ORIGIN },
    });
    const cookie = cookieHeader(setCookies(browser));
    // From another device the user changes the password, which signs the browser's session out.
    const laptop = await signIn(email);
    const change = await api('/api/auth/password', {
      method: 'POST',
      token: laptop.accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
    });
    expect(change.status).toBe(204);
    await expectError(await api('/api/auth/me', { cookie }), 401, 'unauthorized');
    // The browser keeps sending its cookies (Path=/api covers the sign-in route) and signs in anew.
    const again = await api('/api/auth/signin', {
      method: 'POST',
      body: { email, password: 'a brand new password' },
      cookie,
    });
    expect(again.status, await again.clone().text()).toBe(200);
    expect(setCookies(again).get('tally_access')?.value).toMatch(/\S/);
  });
});

describe('delete account', () => {
  it('refuses a wrong password and keeps the account', async () => {
    const email = uniqueEmail('keep');
    const session = await signUp(email);
    const res = await api('/api/auth/me', { method: 'DELETE', token: session.accessToken, body: { password: 'nope' } });
    const error = await expectError(res, 403, 'forbidden');
    expect(error.details).toEqual([expect.objectContaining({ path: ['password'] })]);
    expect((await me(session.accessToken)).status).toBe(200);
    expect((await signIn(email)).user.id).toBe(session.user.id);
  });

  it('with the right password, deletes the account and ends its sessions', async () => {
    const email = uniqueEmail('gone');
    const session = await signUp(email);
    const res = await api('/api/auth/me', {
      method: 'DELETE',
      token: session.accessToken,
      body: { password: PASSWORD },
    });
    expect(res.status).toBe(204);
    await expectError(await me(session.accessToken), 401, 'unauthorized');
    await expectError(await refresh(session.refreshToken), 401, 'unauthorized');
    const signin = await api('/api/auth/signin', {
      method: 'POST',
      body: { email, password: PASSWORD, mode: 'token' },
    });
    await expectError(signin, 401, 'unauthorized');
  });
});
