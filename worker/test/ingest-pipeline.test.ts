/**
 * What reaches D1, and what does not: drops (answered 202, never stored, counted per reason),
 * timestamps, client event ids, visits within a batch, and rate limits.
 */
import { LIMITS } from '@tally/sdk/protocol';
import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dropCounts, getDb } from '../src/db/index.ts';
import { clampTimestamp } from '../src/ingest/ingest.ts';
import { utcDay } from '../src/shared/time.ts';
import {
  createProject,
  expectError,
  type HostnameEntry,
  pageview,
  postEvent,
  storedEvents,
  USER_AGENTS,
  waitForDrops,
  waitForEvents,
} from './helpers.ts';

// Pinned a little in the past: the ProjectDO's alarms run on the real clock, so they fire at once.
const NOW = Math.floor(Date.now() / 1000) * 1000 - 120_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

beforeEach(() => {
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

async function expectAcceptedNone(res: Response): Promise<void> {
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ accepted: 0, ids: [] });
}

describe('drops answer 202, store nothing, and are counted', () => {
  it.each([
    ['Googlebot', USER_AGENTS.googlebot],
    ['HeadlessChrome', USER_AGENTS.headlessChrome],
    ['an empty user agent', ''],
    ['no user agent', null],
  ])('bot: %s', async (_name, userAgent) => {
    const project = await createProject();
    await expectAcceptedNone(await postEvent(pageview(project.siteKey), { headers: { 'user-agent': userAgent } }));
    expect(await waitForDrops(project.id, 'bot', 1)).toBe(1);
    const rows = await getDb(env.DB).select().from(dropCounts).where(eq(dropCounts.projectId, project.id)).all();
    expect(rows).toEqual([{ projectId: project.id, day: utcDay(NOW), reason: 'bot', count: 1 }]);
    expect(await storedEvents(project.id)).toEqual([]);
  });

  it('spam referrers, including their subdomains', async () => {
    const project = await createProject();
    const res = await postEvent([
      pageview(project.siteKey, { r: 'https://semalt.com/' }),
      pageview(project.siteKey, { r: 'https://crawler.semalt.com/page?x=1' }),
      pageview(project.siteKey, { r: 'https://notsemalt.com/', u: 'https://example.com/kept' }),
    ]);
    expect(await res.json()).toMatchObject({ accepted: 1 });
    expect(await waitForDrops(project.id, 'spam', 2)).toBe(2);
    const [row] = await waitForEvents(project.id, 1);
    expect(row).toMatchObject({ path: '/kept', referrerHost: 'notsemalt.com' });
  });

  it.each<[string, HostnameEntry[], string[], string[]]>([
    [
      'an exact hostname, `www.` ignored',
      ['example.com'],
      ['example.com', 'www.example.com', 'EXAMPLE.com'],
      ['blog.example.com', 'evil.com', 'notexample.com', 'example.com.evil.net'],
    ],
    [
      'a hostname with its subdomains',
      [{ hostname: 'example.com', includeSubdomains: true }],
      ['example.com', 'www.example.com', 'blog.example.com', 'a.b.example.com'],
      ['badexample.com', 'evil.com', 'example.com.evil.net'],
    ],
    ['a `www.` hostname', ['www.shop.test'], ['shop.test', 'www.shop.test'], ['blog.shop.test', 'example.com']],
  ])('foreign hostnames, for a project listing %s', async (_name, hostnames, allowed, foreign) => {
    const project = await createProject({ hostnames });
    const hosts = [...allowed, ...foreign];
    const res = await postEvent(hosts.map((host) => pageview(project.siteKey, { u: `https://${host}/` })));
    expect(await res.json()).toMatchObject({ accepted: allowed.length });
    expect(await waitForDrops(project.id, 'invalid_host', foreign.length)).toBe(foreign.length);
    const rows = await waitForEvents(project.id, allowed.length);
    expect(rows.map((row) => row.hostname).sort()).toEqual(allowed.map((host) => host.toLowerCase()).sort());
  });
});

describe('timestamps', () => {
  it('clamps client time to now − 1 h … now + 5 min and keeps the receive time', async () => {
    const project = await createProject();
    const cases = [
      { path: '/long-ago', t: NOW - 2 * HOUR, ts: NOW - HOUR },
      { path: '/earlier', t: NOW - 30 * MINUTE, ts: NOW - 30 * MINUTE },
      { path: '/server-time', t: undefined, ts: NOW },
      { path: '/skewed-clock', t: NOW + 4 * MINUTE, ts: NOW + 4 * MINUTE },
      { path: '/far-future', t: NOW + 24 * HOUR, ts: NOW + 5 * MINUTE },
    ];
    const body = cases.map(({ path, t }) => pageview(project.siteKey, { u: `https://example.com${path}`, t }));
    expect((await postEvent(body)).status).toBe(202);
    const rows = await waitForEvents(project.id, cases.length);
    const stored = Object.fromEntries(rows.map((row) => [row.path, [row.ts, row.receivedAt]]));
    expect(stored).toEqual(Object.fromEntries(cases.map(({ path, ts }) => [path, [ts, NOW]])));
  });

  it('clampTimestamp stays in range and leaves in-range times alone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (now, t) => {
          const ts = clampTimestamp(t, now);
          expect(ts).toBeGreaterThanOrEqual(now - LIMITS.pastMs);
          expect(ts).toBeLessThanOrEqual(now + LIMITS.futureMs);
          if (t >= now - LIMITS.pastMs && t <= now + LIMITS.futureMs) expect(ts).toBe(Math.round(t));
        },
      ),
    );
  });
});

describe('client event ids', () => {
  it('stores an event sent twice once', async () => {
    const project = await createProject();
    const id = crypto.randomUUID();
    const first = await postEvent(pageview(project.siteKey, { i: id }));
    expect(await first.json()).toEqual({ accepted: 1, ids: [id] });
    await waitForEvents(project.id, 1);

    // The retry travels with a marker event in one request, so once the marker is stored the
    // retry has been written too (same outbox row, same queue message, same INSERT).
    const marker = pageview(project.siteKey, { u: 'https://example.com/marker' });
    const retry = await postEvent([pageview(project.siteKey, { i: id.toUpperCase() }), marker]);
    expect(await retry.json()).toMatchObject({ accepted: 2, ids: [id, expect.any(String)] });
    const rows = await waitForEvents(project.id, 2);
    expect(rows.filter((row) => row.id === id)).toHaveLength(1);
  });

  it('refuses an id that is not a UUID', async () => {
    const project = await createProject();
    const error = await expectError(
      await postEvent([pageview(project.siteKey, { i: 'event-1' })]),
      400,
      'invalid_input',
    );
    expect(error.details).toEqual([{ path: [0, 'i'], message: expect.any(String) }]);
  });
});

describe('a batch from one visitor', () => {
  it('is stored in order, as one visit numbered 1…10', async () => {
    const project = await createProject();
    const body = Array.from({ length: 10 }, (_, i) => pageview(project.siteKey, { u: `https://example.com/${i + 1}` }));
    const res = await postEvent(body);
    const { ids } = (await res.json()) as { ids: string[] };
    expect(ids).toHaveLength(10);

    const rows = await waitForEvents(project.id, 10);
    expect(rows.map((row) => [row.seq, row.path, row.id, row.isEntry])).toEqual(
      ids.map((id, i) => [i + 1, `/${i + 1}`, id, i === 0]),
    );
    expect(new Set(rows.map((row) => row.sessionId)).size).toBe(1);
    expect(new Set(rows.map((row) => row.visitorId)).size).toBe(1);
  });
});

describe('429 rate_limited', () => {
  it('when a project passes its burst, with Retry-After, and counts the refused events', async () => {
    const project = await createProject({ rateLimits: { projectRate: 1, projectBurst: 3 } });
    for (let i = 0; i < 3; i++) expect((await postEvent(pageview(project.siteKey))).status).toBe(202);

    const limited = await postEvent(pageview(project.siteKey));
    expect(limited.headers.get('retry-after')).toBe('1');
    await expectError(limited, 429, 'rate_limited');

    // A batch larger than the burst can never pass: the client is told to wait a minute.
    const tooBig = await postEvent(Array.from({ length: 4 }, () => pageview(project.siteKey)));
    expect(tooBig.headers.get('retry-after')).toBe('60');
    await expectError(tooBig, 429, 'rate_limited');

    expect(await waitForDrops(project.id, 'rate_limited', 5)).toBe(5);
    expect(await waitForEvents(project.id, 3)).toHaveLength(3);
  });

  it('per visitor, leaving other visitors alone', async () => {
    const project = await createProject({ rateLimits: { visitorRate: 1, visitorBurst: 2 } });
    const from = (ip: string) => ({ headers: { 'cf-connecting-ip': ip } });
    expect((await postEvent([pageview(project.siteKey), pageview(project.siteKey)], from('203.0.113.1'))).status).toBe(
      202,
    );

    const limited = await postEvent(pageview(project.siteKey), from('203.0.113.1'));
    expect(limited.headers.get('retry-after')).toBe('1');
    await expectError(limited, 429, 'rate_limited');
    expect((await postEvent(pageview(project.siteKey), from('203.0.113.2'))).status).toBe(202);
  });
});
