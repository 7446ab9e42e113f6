/**
 * Password lockout without lockout denial of service (OWASP): failures lock the address that makes
 * them on the account (or share link) it makes them against, an address spraying many accounts,
 * and slow down the addresses that keep failing on an account under attack — never the owner
 * signing in from an address that has not failed. Through the real Worker, with the clock pinned.
 */
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, createProjectAs, expectJson, PASSWORD, signUp, uniqueEmail } from './accounts.ts';
import { expectError } from './helpers.ts';

/** The policy under test (auth/throttle.ts), written out: a test states it rather than imports it. */
const PAIR_LIMIT = 5;
const ADDRESS_LIMIT = 20;
const LOCK_S = 15 * 60;
const SLOWDOWN_AFTER = 5;
const SLOWDOWN_BASE_S = 30;

const START = Date.UTC(2030, 4, 1, 9);

/** An address no other test uses: IPv4 or IPv6, so that both forms are exercised. */
const randomIp = () => {
  const [a = 0, b = 0, c = 0, d = 0] = crypto.getRandomValues(new Uint8Array(4));
  return a % 2
    ? `10.${b}.${c}.${d}`
    : `2001:db8::${a.toString(16)}:${b.toString(16)}:${c.toString(16)}:${d.toString(16)}`;
};

const signIn = (email: string, password: string, ip: string) =>
  api('/api/auth/signin', {
    method: 'POST',
    body: { email, password, mode: 'token' },
    headers: { 'cf-connecting-ip': ip },
  });

/** Assert a 429 and return its Retry-After, in seconds. */
async function expectRefused(res: Response): Promise<number> {
  await expectError(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  return retryAfter;
}

/** `count` wrong passwords on an account, each from an address of its own (an attacker rotating addresses). */
async function failFromFreshAddresses(email: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++)
    await expectError(await signIn(email, `rotating ${i}`, randomIp()), 401, 'unauthorized');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('an account under attack', () => {
  it.each([5, 12])('still lets its owner in after %i wrong passwords from other addresses', async (count) => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    await failFromFreshAddresses(email, count);
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
  });

  it('locks the address that failed 5 times, for 15 minutes, right password included; not the owner', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    const attacker = randomIp();
    for (let i = 0; i < PAIR_LIMIT; i++) {
      await expectError(await signIn(email, `guess ${i}`, attacker), 401, 'unauthorized');
    }
    const retryAfter = await expectRefused(await signIn(email, PASSWORD, attacker));
    expect(retryAfter).toBeGreaterThanOrEqual(LOCK_S - 2);
    expect(retryAfter).toBeLessThanOrEqual(LOCK_S);
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);

    vi.setSystemTime(START + (LOCK_S - 60) * 1000);
    await expectRefused(await signIn(email, PASSWORD, attacker));
    vi.setSystemTime(START + (LOCK_S + 1) * 1000);
    expect((await signIn(email, PASSWORD, attacker)).status).toBe(200);
  });

  it('lets at most 5 of 20 simultaneous guesses from one address reach the password check', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    const attacker = randomIp();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => signIn(email, `guess ${i}`, attacker)));
    const statuses = burst.map((res) => res.status);
    expect(statuses.filter((status) => status === 401).length, statuses.join(' ')).toBeLessThanOrEqual(PAIR_LIMIT);
    expect(
      statuses.every((status) => status === 401 || status === 429),
      statuses.join(' '),
    ).toBe(true);
    await expectRefused(await signIn(email, PASSWORD, attacker));
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
  });

  it('makes each address that fails on it wait longer, up to 15 minutes; a fresh address is never kept out', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    // The first four failures cost nothing: someone mistyping is not slowed down.
    const typist = randomIp();
    await expectError(await signIn(email, 'typo', typist), 401, 'unauthorized');
    await expectError(await signIn(email, 'typo again', typist), 401, 'unauthorized');
    await failFromFreshAddresses(email, SLOWDOWN_AFTER - 3);
    // From the 5th failure on, the address that failed waits 30 s, doubling with each failure after.
    const waits: number[] = [];
    for (let failures = SLOWDOWN_AFTER; failures <= SLOWDOWN_AFTER + 7; failures++) {
      const ip = randomIp();
      await expectError(await signIn(email, `rotating ${failures}`, ip), 401, 'unauthorized');
      waits.push(await expectRefused(await signIn(email, PASSWORD, ip)));
    }
    expect(waits).toEqual([30, 60, 120, 240, 480, LOCK_S, LOCK_S, LOCK_S]);
    // The owner, from an address with no failures, gets in at once.
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
  });

  it('gives a waiting address one check when its wait is over, then a longer wait', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    await failFromFreshAddresses(email, SLOWDOWN_AFTER - 1);
    const attacker = randomIp();
    await expectError(await signIn(email, 'guess', attacker), 401, 'unauthorized');
    expect(await expectRefused(await signIn(email, 'again', attacker))).toBe(SLOWDOWN_BASE_S);
    await failFromFreshAddresses(email, 2);
    vi.setSystemTime(START + SLOWDOWN_BASE_S * 1000);
    // The account has failed 8 times: this check waits 30 s × 2³ after it.
    await expectError(await signIn(email, 'guess again', attacker), 401, 'unauthorized');
    expect(await expectRefused(await signIn(email, PASSWORD, attacker))).toBe(SLOWDOWN_BASE_S * 8);
  });

  it('checks one attempt per address at a time once slowed down, however many arrive at once', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    await failFromFreshAddresses(email, SLOWDOWN_AFTER);
    const attacker = randomIp();
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => signIn(email, `burst ${i}`, attacker)));
    const statuses = burst.map((res) => res.status);
    expect(
      statuses.filter((status) => status === 401),
      statuses.join(' '),
    ).toEqual([401]);
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
  });

  it('starts afresh after a success: the address, and the account', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    const home = randomIp();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < PAIR_LIMIT - 1; i++) {
        await expectError(await signIn(email, `typo ${i}`, home), 401, 'unauthorized');
      }
      expect((await signIn(email, PASSWORD, home)).status).toBe(200);
    }
    await failFromFreshAddresses(email, SLOWDOWN_AFTER + 3);
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
    // The account's count was reset: a new failure is the first, and waits for nothing.
    const ip = randomIp();
    await expectError(await signIn(email, 'typo', ip), 401, 'unauthorized');
    expect((await signIn(email, PASSWORD, ip)).status).toBe(200);
  });
});

describe('an address spraying accounts', () => {
  it('is locked for 15 minutes after 20 failures in a row, on every account; others are not', async () => {
    vi.setSystemTime(START);
    const { email } = await signUp();
    const sprayer = randomIp();
    for (let i = 0; i < ADDRESS_LIMIT; i++) {
      await expectError(await signIn(uniqueEmail(`spray${i}`), PASSWORD, sprayer), 401, 'unauthorized');
    }
    const retryAfter = await expectRefused(await signIn(email, PASSWORD, sprayer));
    expect(retryAfter).toBeGreaterThanOrEqual(LOCK_S - 2);
    expect(retryAfter).toBeLessThanOrEqual(LOCK_S);
    expect((await signIn(email, PASSWORD, randomIp())).status).toBe(200);
    vi.setSystemTime(START + (LOCK_S + 1) * 1000);
    expect((await signIn(email, PASSWORD, sprayer)).status).toBe(200);
  });

  it('keeps throttle keys free of addresses and emails', async () => {
    const { email } = await signUp(uniqueEmail('private'));
    const ip = randomIp();
    await expectError(await signIn(email, 'wrong', ip), 401, 'unauthorized');
    const { results } = await env.DB.prepare('SELECT key FROM sign_in_throttle').all<{ key: string }>();
    const keys = results.map((row) => row.key);
    expect(keys.some((key) => key.includes(ip))).toBe(false);
    // The account is named as before (`email:`); the address and the pair only by keyed hashes.
    expect(keys.filter((key) => key.includes(email))).toEqual([`email:${email}`]);
    expect(keys.filter((key) => key.startsWith('pair:')).every((key) => /^pair:[0-9a-f]{32}$/.test(key))).toBe(true);
  });
});

describe('a password-protected share link under attack', () => {
  async function guardedLink() {
    const owner = await signUp();
    const { id } = await createProjectAs(owner.token, { name: 'Guarded' });
    const res = await api(`/api/projects/${id}/shares`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'Board', password: 'the-right-one' },
    });
    return (await expectJson<{ slug: string }>(res, 201)).slug;
  }
  const enter = (slug: string, password: string, ip: string) =>
    api(`/api/share/${slug}/auth`, { method: 'POST', body: { password }, headers: { 'cf-connecting-ip': ip } });

  it.each([5, 12])('still opens with the right password after %i wrong ones from other addresses', async (count) => {
    vi.setSystemTime(START);
    const slug = await guardedLink();
    for (let i = 0; i < count; i++) {
      await expectError(await enter(slug, `wrong-guess-${i}`, randomIp()), 401, 'unauthorized');
    }
    expect((await enter(slug, 'the-right-one', randomIp())).status).toBe(200);
  });

  it('locks the address that failed 5 times on it, not the link', async () => {
    vi.setSystemTime(START);
    const slug = await guardedLink();
    const attacker = randomIp();
    for (let i = 0; i < PAIR_LIMIT; i++) {
      await expectError(await enter(slug, `wrong-guess-${i}`, attacker), 401, 'unauthorized');
    }
    expect(await expectRefused(await enter(slug, 'the-right-one', attacker))).toBeGreaterThanOrEqual(LOCK_S - 2);
    expect((await enter(slug, 'the-right-one', randomIp())).status).toBe(200);
  });
});
