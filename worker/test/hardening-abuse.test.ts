/**
 * Abuse through the real Worker: a flood of ten times a project's limit over ten (simulated)
 * seconds, beside a second project that must keep its traffic; bots and referrer spam at volume;
 * and who may name a visitor's IP and user agent. Time is the mocked clock each request reads —
 * nothing here measures wall time.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DAY_D, HOUR, outboxEvents, projectStub } from './fixtures.ts';
import {
  createApiKey,
  createProject,
  expectError,
  pageview,
  postEvent,
  storedEvents,
  USER_AGENTS,
  waitForDrops,
  waitForEvents,
} from './helpers.ts';

/** Nine in the morning of a day ahead of the real clock: the ProjectDO's alarms only run when asked. */
const START = DAY_D + 9 * HOUR;

beforeEach(() => {
  vi.setSystemTime(START);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a flood of ten times the limit', () => {
  it('lets through at most rate × time + burst, and a second project keeps its traffic', async () => {
    const limits = { projectRate: 20, projectBurst: 40 };
    const attacked = await createProject({ rateLimits: limits });
    const neighbour = await createProject({ rateLimits: limits });
    const SECONDS = 10;
    const STEP_MS = 10; // 100 requests of 2 events a second: 200 events/s against a rate of 20
    const seen = { flood: { sent: 0, accepted: 0, refused: 0 }, neighbour: { sent: 0, accepted: 0 } };

    for (let t = 0; t < SECONDS * 1000; t += STEP_MS) {
      vi.setSystemTime(START + t);
      const ip = `198.51.100.${(t / STEP_MS) % 250}`;
      const flood = await postEvent(
        [pageview(attacked.siteKey, { u: `https://example.com/${t}` }), pageview(attacked.siteKey)],
        { headers: { 'cf-connecting-ip': ip } },
      );
      seen.flood.sent += 2;
      if (flood.status === 202) seen.flood.accepted += ((await flood.json()) as { accepted: number }).accepted;
      else {
        await expectError(flood, 429, 'rate_limited');
        expect(Number(flood.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        seen.flood.refused += 2;
      }
      // The neighbour: one visitor's pageview every 200 ms, well within the same limits.
      if (t % 200 === 0) {
        const calm = await postEvent(pageview(neighbour.siteKey, { u: `https://example.com/${t}` }), {
          headers: { 'cf-connecting-ip': '203.0.113.9' },
        });
        seen.neighbour.sent += 1;
        if (calm.status === 202) seen.neighbour.accepted += ((await calm.json()) as { accepted: number }).accepted;
      }
    }

    const ceiling = limits.projectRate * SECONDS + limits.projectBurst;
    const kept = seen.neighbour.accepted / seen.neighbour.sent;
    console.log(
      `abuse: flood of ${seen.flood.sent} events in ${SECONDS} s (${seen.flood.sent / (limits.projectRate * SECONDS)}× the rate): ` +
        `${seen.flood.accepted} accepted (ceiling rate × time + burst = ${ceiling}), ${seen.flood.refused} refused with 429; ` +
        `neighbour kept ${seen.neighbour.accepted}/${seen.neighbour.sent} (${(kept * 100).toFixed(1)}%)`,
    );
    expect(seen.flood.sent).toBeGreaterThanOrEqual(10 * limits.projectRate * SECONDS);
    expect(seen.flood.accepted).toBeLessThanOrEqual(ceiling * 1.01);
    // The bucket is not stingier than its rate either.
    expect(seen.flood.accepted).toBeGreaterThanOrEqual(limits.projectRate * SECONDS * 0.99);
    expect(kept).toBeGreaterThanOrEqual(0.99);
    // Refused events are counted, and only admitted ones wait in the outbox.
    const totals = await projectStub(attacked.id).dropTotals();
    expect(totals.find((total) => total.reason === 'rate_limited')?.count).toBe(seen.flood.refused);
    expect(await projectStub(attacked.id).pendingEvents()).toBe(seen.flood.accepted);
  });
});

describe('bots and referrer spam at volume', () => {
  it('are answered 202, stored never, and counted exactly', async () => {
    const project = await createProject({ rateLimits: { visitorRate: 1e6, visitorBurst: 1e6 } });
    const kinds = fc.sample(
      fc.constantFrom('human', 'human', 'googlebot', 'headless', 'no-agent', 'spam', 'spam-subdomain'),
      { numRuns: 300, seed: 42 },
    );
    const expected = { human: 0, bot: 0, spam: 0 };
    for (const [i, kind] of kinds.entries()) {
      const agent =
        kind === 'googlebot' ? USER_AGENTS.googlebot : kind === 'headless' ? USER_AGENTS.headlessChrome : null;
      const referrer =
        kind === 'spam' ? 'https://semalt.com/' : kind === 'spam-subdomain' ? 'https://www.darodar.com/x' : undefined;
      const res = await postEvent(pageview(project.siteKey, { u: `https://example.com/${i}`, r: referrer }), {
        headers: {
          'cf-connecting-ip': `192.0.2.${i % 250}`,
          'user-agent': kind === 'no-agent' ? null : (agent ?? USER_AGENTS.firefoxWindows),
        },
      });
      expect(res.status).toBe(202);
      const { accepted } = (await res.json()) as { accepted: number };
      const reason = kind === 'human' ? 'human' : kind.startsWith('spam') ? 'spam' : 'bot';
      expected[reason] += 1;
      expect(accepted).toBe(reason === 'human' ? 1 : 0);
    }
    await runDurableObjectAlarm(projectStub(project.id));
    expect((await waitForEvents(project.id, expected.human)).length).toBe(expected.human);
    expect(await waitForDrops(project.id, 'bot', expected.bot)).toBe(expected.bot);
    expect(await waitForDrops(project.id, 'spam', expected.spam)).toBe(expected.spam);
    expect(expected.bot).toBeGreaterThan(50);
    expect(expected.spam).toBeGreaterThan(50);
  });
});

describe("a visitor's IP and user agent", () => {
  it('can be set in the body only by a request with an API key', async () => {
    const project = await createProject();
    const ip = fc.oneof(fc.ipV4(), fc.ipV6());
    await fc.assert(
      fc.asyncProperty(
        ip,
        fc.constantFrom(...Object.values(USER_AGENTS)),
        fc.boolean(),
        async (address, agent, both) => {
          const fields = both ? { ip: address, ua: agent } : { ip: address };
          const error = await expectError(await postEvent(pageview(project.siteKey, fields)), 403, 'forbidden');
          expect(error.details?.map((issue) => issue.path.join('.')).sort()).toEqual(both ? ['ip', 'ua'] : ['ip']);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
    expect(await projectStub(project.id).pendingEvents()).toBe(0);
    expect(await storedEvents(project.id)).toEqual([]);

    // With a key, the body's address is the visitor's, whatever address the server calls from.
    const { key } = await createApiKey(project.id);
    const server = (callerIp: string, body: unknown) =>
      postEvent(body, { headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': callerIp } });
    const agent = USER_AGENTS.safariIphone;
    for (const [callerIp, visitorIp, path] of [
      ['10.0.0.1', '203.0.113.10', '/a'],
      ['10.0.0.2', '203.0.113.10', '/b'],
      ['10.0.0.1', '203.0.113.11', '/c'],
    ]) {
      const res = await server(
        callerIp as string,
        pageview(undefined, { u: `https://example.com${path}`, ip: visitorIp, ua: agent }),
      );
      expect(res.status).toBe(202);
    }
    const visitor = Object.fromEntries((await outboxEvents(projectStub(project.id))).map((e) => [e.path, e.visitorId]));
    expect(visitor['/a']).toBe(visitor['/b']);
    expect(visitor['/a']).not.toBe(visitor['/c']);
  });

  it('ignores X-Forwarded-For and every other client-set address header', async () => {
    const project = await createProject();
    const send = (path: string, ip: string, spoofed: Record<string, string>) =>
      postEvent(pageview(project.siteKey, { u: `https://example.com${path}` }), {
        headers: { 'cf-connecting-ip': ip, ...spoofed },
      });
    const spoof = (address: string) => ({
      'x-forwarded-for': address,
      'x-real-ip': address,
      'true-client-ip': address,
      forwarded: `for=${address}`,
    });
    // Same connecting address, different spoofed ones: one visitor.
    expect((await send('/1', '203.0.113.20', spoof('1.1.1.1'))).status).toBe(202);
    expect((await send('/2', '203.0.113.20', spoof('8.8.8.8'))).status).toBe(202);
    // Different connecting addresses, the same spoofed one: two visitors.
    expect((await send('/3', '203.0.113.21', spoof('1.1.1.1'))).status).toBe(202);
    const visitor = Object.fromEntries((await outboxEvents(projectStub(project.id))).map((e) => [e.path, e.visitorId]));
    expect(visitor['/1']).toBe(visitor['/2']);
    expect(visitor['/3']).not.toBe(visitor['/1']);
  });
});
