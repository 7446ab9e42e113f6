/**
 * Share links are metered per link and per (link, client address), at the production defaults:
 * past either burst a caller gets 429 with `Retry-After`, while other addresses, other links and
 * members keep theirs. In the ProjectDO, a bucket is a row until it has refilled, then the alarm
 * drops it. The clock is pinned, so no bucket refills (and no alarm fires) unless a test moves it.
 */
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProjectDO } from '../src/live/index.ts';
import { DEFAULT_SHARE_LIMITS } from '../src/live/rate-limit.ts';
import { api, createProjectAs, expectJson, signUp, type TestUser } from './accounts.ts';
import { expectError } from './helpers.ts';

const { addressBurst, linkBurst } = DEFAULT_SHARE_LIMITS;

/** A project with its owner and two share links of it. */
async function sharedProject() {
  const owner = await signUp();
  const { id: projectId } = await createProjectAs(owner.token, { name: 'Shared' });
  const share = async () =>
    (
      await expectJson<{ slug: string }>(
        await api(`/api/projects/${projectId}/shares`, { method: 'POST', token: owner.token, body: { name: 'Link' } }),
        201,
      )
    ).slug;
  return { owner, projectId, link: await share(), otherLink: await share() };
}

/** Who asks: a share link from a client address, or a member. */
type Caller = { slug: string; address: string } | { member: TestUser; address: string };

/** The dashboard's main question, as `caller`. */
function query(projectId: string, caller: Caller): Promise<Response> {
  const headers: Record<string, string> = { 'cf-connecting-ip': caller.address };
  if ('slug' in caller) headers['x-tally-share'] = caller.slug;
  return api('/api/v1/query', {
    method: 'POST',
    ...('member' in caller ? { token: caller.member.token } : {}),
    body: { project: projectId, metrics: ['visitors'], date_range: '7d' },
    headers,
  });
}

/** `count` questions at once as `caller`; the statuses answered, sorted. */
async function ask(projectId: string, caller: Caller, count: number): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: count }, () => query(projectId, caller)));
  for (const answer of answers) await answer.body?.cancel();
  return answers.map((answer) => answer.status).sort();
}

/** Assert a 429 in the error shape with a `Retry-After` of whole seconds; returns the seconds. */
async function expectRateLimited(response: Response): Promise<number> {
  const retryAfter = Number(response.headers.get('retry-after'));
  await expectError(response, 429, 'rate_limited');
  expect(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`).toBe(true);
  return retryAfter;
}

const ok = (count: number) => Array.from({ length: count }, () => 200);

beforeEach(() => {
  // Pinned at the real time, so that the tokens signed up with stay valid.
  vi.setSystemTime(Date.now());
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a share link', () => {
  it('holds one address to its burst, with Retry-After, while another address keeps its own', async () => {
    const { projectId, link } = await sharedProject();
    const a = { slug: link, address: '203.0.113.1' };
    expect(await ask(projectId, a, addressBurst)).toEqual(ok(addressBurst));

    const retryAfter = await expectRateLimited(await query(projectId, a));
    for (const address of ['203.0.113.2', '2001:db8::1']) {
      expect((await query(projectId, { slug: link, address })).status).toBe(200);
    }
    // Waiting as long as Retry-After says is enough.
    vi.setSystemTime(Date.now() + retryAfter * 1000);
    expect((await query(projectId, a)).status).toBe(200);
  });

  it('holds all its addresses together to the link burst, and leaves other links and members alone', async () => {
    const { owner, projectId, link, otherLink } = await sharedProject();
    // Spread over addresses that each stay under their own burst.
    const addresses = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    const shares = [70, 70, linkBurst - 140];
    for (const [i, address] of addresses.entries()) {
      const count = shares[i] ?? 0;
      expect(count).toBeLessThanOrEqual(addressBurst);
      expect(await ask(projectId, { slug: link, address }, count)).toEqual(ok(count));
    }

    // Spent for everyone: addresses that used a little of it and one never seen.
    for (const address of [...addresses, '198.51.100.99']) {
      await expectRateLimited(await query(projectId, { slug: link, address }));
    }
    // Another link of the same project, from the same address, has its own budgets.
    expect(await ask(projectId, { slug: otherLink, address: addresses[0] as string }, 3)).toEqual(ok(3));
    // A member is not metered by share limits at all: more than either burst, from one address.
    const member = { member: owner, address: addresses[0] as string };
    expect(await ask(projectId, member, linkBurst + 1)).toEqual(ok(linkBurst + 1));
  });

  it('meters every route it reaches, and refuses nothing once the buckets refill', async () => {
    const { projectId, link } = await sharedProject();
    const headers = { 'x-tally-share': link, 'cf-connecting-ip': '192.0.2.7' };
    const reads = await Promise.all(
      Array.from({ length: addressBurst }, () => api(`/api/projects/${projectId}`, { headers })),
    );
    expect(reads.map((read) => read.status)).toEqual(ok(addressBurst));
    await expectRateLimited(await api(`/api/projects/${projectId}`, { headers }));
    await expectRateLimited(await query(projectId, { slug: link, address: '192.0.2.7' }));

    // A full minute later both buckets are full again.
    vi.setSystemTime(Date.now() + 60_000);
    expect(await ask(projectId, { slug: link, address: '192.0.2.7' }, addressBurst)).toEqual(ok(addressBurst));
  });
});

describe("the project DO's share buckets", () => {
  const rows = (sql: SqlStorage) =>
    sql
      .exec<{ address: string; tokens: number }>('SELECT address, tokens FROM share_buckets ORDER BY address')
      .toArray();

  it('write nothing for a refused request, and are dropped by the alarm once refilled', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName(`share-buckets-${crypto.randomUUID()}`));
    const start = Date.now();
    await runInDurableObject(stub, async (project: ProjectDO, state) => {
      const busy = 'a'.repeat(32);
      for (let i = 0; i < addressBurst; i++) {
        expect(await project.takeShareTokens('link', busy, start)).toEqual({ ok: true });
      }
      // Forty addresses seen once, as a caller rotating through addresses leaves them.
      for (let i = 0; i < 40; i++) await project.takeShareTokens('link', `${i}`.padStart(32, 'b'), start);
      const before = rows(state.storage.sql);
      expect(before).toHaveLength(1 + 1 + 40);

      const refused = await project.takeShareTokens('link', busy, start);
      expect(refused).toEqual({ ok: false, scope: 'address', retryAfter: 1 });
      expect(rows(state.storage.sql)).toEqual(before);
    });

    // Not refilled yet: every row is kept.
    vi.setSystemTime(start + 15_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, (_project, state) => expect(rows(state.storage.sql)).toHaveLength(42));
    // Refilled: no row is left, and nothing is lost, for a missing bucket is a full one.
    vi.setSystemTime(start + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, (_project, state) => expect(rows(state.storage.sql)).toEqual([]));
  });
});
