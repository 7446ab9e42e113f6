/**
 * Privacy after a load run through the real pipeline (browsers, servers with API keys, the pixel,
 * bots, failed sign-ins and bad API keys, each from its own address): no IP address in any textual
 * form in any D1 cell, any ProjectDO's storage, any console line or any API answer. Then salts
 * (only today's and yesterday's; the same visitor hashes apart per day and per project), and what
 * deletion and the retention purge leave: nothing of a visitor. Extends privacy.test.ts.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '../src/app.ts';
import worker from '../src/index.ts';
import { DAY, DAY_D, HOUR, MINUTE, outboxEvents, projectStub, utcDayOf } from './fixtures.ts';
import { api, createProjectAs, signUp } from './accounts.ts';
import {
  createApiKey,
  createProject,
  pageview,
  postEvent,
  storedEvents,
  type TestProject,
  USER_AGENTS,
  waitForEvents,
} from './helpers.ts';
import {
  captureConsole,
  d1Cells,
  durableObjectCells,
  findIn,
  ipv4Forms,
  ipv6Forms,
  sha256Hex,
} from './hardening-scan.ts';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** POST an event through the app with a ProjectDO, then a D1, that fail (as when overloaded): both log. */
async function withFaults(body: unknown, ip: string, agent: string): Promise<Response> {
  const failing = () => Promise.reject(new Error('Durable Object is overloaded. Too many requests queued.'));
  const namespace = { idFromName: (name: string) => env.PROJECT.idFromName(name), get: () => ({ admit: failing }) };
  const request = () =>
    new Request(`http://tally.test${EVENT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'cf-connecting-ip': ip, 'user-agent': agent },
      body: JSON.stringify(body),
    });
  const overloadedDb = new Proxy(env.DB, {
    get(target, property) {
      if (property === 'prepare') {
        return () => {
          throw new Error('D1_ERROR: D1 DB is overloaded. Too many requests queued.');
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const ctx = createExecutionContext();
  const unreachable = await app.fetch(request(), { ...env, PROJECT: namespace as unknown as Env['PROJECT'] }, ctx);
  expect(unreachable.status).toBe(503);
  // A site key no isolate has cached, so that its lookup reaches the overloaded database.
  const uncached = new Request(request(), {
    body: JSON.stringify({ ...(body as object), s: `uncached-${ip.length}` }),
  });
  const overloaded = await app.fetch(uncached, { ...env, DB: overloadedDb }, ctx);
  await waitOnExecutionContext(ctx);
  expect(overloaded.status).toBe(503);
  return overloaded;
}

describe('after a load run', () => {
  it('no IP address, in any textual form, is in D1, in Durable Object storage, in a log line or an answer', async () => {
    const logs = captureConsole();
    const v4 = fc.sample(fc.ipV4(), { numRuns: 70, seed: 4 }).filter((ip) => ip.length >= 9);
    const v6 = fc.sample(fc.ipV6(), { numRuns: 50, seed: 6 }).filter((ip) => (ipv6Forms(ip)[3]?.length ?? 0) >= 10);
    const server = '198.51.100.200';
    const needles = [
      ...v4.flatMap((ip, i) => ipv4Forms(ip, i < 5)),
      ...v6.flatMap(ipv6Forms),
      ...ipv4Forms(server, true),
    ];
    const agents = [USER_AGENTS.chromeWindows, USER_AGENTS.firefoxWindows, USER_AGENTS.safariIphone];
    // Unsalted hashes can be reversed by trying every address: the fingerprint the Worker hands the
    // ProjectDO (SHA-256 of address and agent) and a bare SHA-256 of the address must not be kept either.
    for (const [i, ip] of [...v4, ...v6].entries()) {
      needles.push(await sha256Hex(`${ip}\n${agents[i % agents.length]}`), await sha256Hex(ip));
    }
    const projects: TestProject[] = [await createProject(), await createProject(), await createProject()];
    const { key } = await createApiKey(projects[0]?.id ?? '', { scopes: ['ingest', 'read'] });
    const user = await signUp();
    const expected = new Map<string, number>();
    const count = (project: TestProject) => expected.set(project.id, (expected.get(project.id) ?? 0) + 1);
    let requests = 0;

    for (const [i, ip] of [...v4, ...v6].entries()) {
      const project = projects[i % projects.length] as TestProject;
      const agent = agents[i % agents.length] as string;
      const send = async (res: Promise<Response>, stored: TestProject | null) => {
        const answer = await res;
        requests++;
        expect(answer.status, await answer.clone().text()).toBeLessThan(500);
        if (stored && answer.status === 202) count(stored);
        if (stored && answer.status === 200 && answer.headers.get('content-type') === 'image/gif') count(stored);
      };
      const browser = { headers: { 'cf-connecting-ip': ip, 'user-agent': agent } };
      await send(postEvent(pageview(project.siteKey, { u: `https://example.com/p/${i}` }), browser), project);
      if (i % 3 === 0) {
        // A server sending for this visitor: the visitor's address in the body, the server's in the header.
        const body = pageview(undefined, { u: `https://example.com/s/${i}`, ip, ua: agent });
        const headers = { authorization: `Bearer ${key}`, 'cf-connecting-ip': server };
        await send(postEvent(body, { headers }), projects[0] as TestProject);
      }
      if (i % 4 === 1) {
        const pixel = `/api/event?s=${project.siteKey}&u=${encodeURIComponent(`https://example.com/px/${i}`)}`;
        await send(api(pixel, { headers: { 'cf-connecting-ip': ip, 'user-agent': agent } }), project);
      }
      if (i % 5 === 2)
        await send(
          postEvent(pageview(project.siteKey), {
            headers: { 'cf-connecting-ip': ip, 'user-agent': USER_AGENTS.googlebot },
          }),
          null,
        );
      if (i % 6 === 3) {
        const signin = { email: user.email, password: 'wrong password', mode: 'token' };
        await send(
          api('/api/auth/signin', { method: 'POST', body: signin, headers: { 'cf-connecting-ip': ip } }),
          null,
        );
      }
      if (i % 7 === 4)
        await send(api('/api/projects', { token: 'tly_aaaaaaaa_bad', headers: { 'cf-connecting-ip': ip } }), null);
      // The paths that log: a Durable Object that cannot be reached, a D1 that is overloaded.
      if (i % 8 === 5) {
        await withFaults(pageview(project.siteKey), ip, agent);
        requests += 2;
      }
    }
    for (const project of projects) {
      await runDurableObjectAlarm(projectStub(project.id));
      await waitForEvents(project.id, expected.get(project.id) ?? 0);
    }
    // What the API gives back: live views, and a breakdown by every place-like dimension.
    const answers: string[] = [];
    for (const project of projects) answers.push(JSON.stringify(await projectStub(project.id).live()));
    const query = await api('/api/v1/query', {
      method: 'POST',
      token: key,
      body: {
        project: projects[0]?.id,
        metrics: ['visitors'],
        date_range: 'all',
        dimensions: ['country', 'city', 'referrer'],
      },
    });
    answers.push(await query.text());
    expect(query.status).toBe(200);

    const [d1, objects] = [await d1Cells(), await durableObjectCells()];
    const consoleCells = logs.cells();
    const apiCells = answers.map((text, i) => ({ where: `answer[${i}]`, text: text.toLowerCase() }));
    const found = findIn([...d1, ...objects, ...consoleCells, ...apiCells], needles);
    // The search does find an address when one is there, in whatever form.
    const planted = [ipv6Forms(v6[0] ?? '')[4], ipv4Forms(v4[0] ?? '', true)[5]].map((text) => ({
      where: 'control',
      text: `x${text}x`,
    }));
    expect(findIn(planted, needles).length).toBeGreaterThanOrEqual(2);
    const stored = [...expected.values()].reduce((a, b) => a + b, 0);
    vi.restoreAllMocks();
    console.log(
      `privacy: ${v4.length + 1} IPv4 and ${v6.length} IPv6 addresses in ${needles.length} textual forms and hashes, ` +
        `${requests} requests, ${stored} events stored; searched ${d1.length} D1 cells, ${objects.length} Durable Object cells, ` +
        `${consoleCells.length} console lines and ${answers.length} answers: ${found.length} found`,
    );
    expect(found).toEqual([]);
    // The run did reach every place that was searched.
    expect(stored).toBeGreaterThan(150);
    expect(d1.some((cell) => cell.where.startsWith('d1.sign_in_throttle'))).toBe(true);
    expect(consoleCells.length).toBeGreaterThan(20);
    // Visitor state is in the ProjectDO's admission log (live/log.ts).
    expect(objects.some((cell) => cell.where.includes('.log_'))).toBe(true);
  }, 120_000);
});

describe('daily salts', () => {
  it('exist only for today and yesterday, and the same IP and agent hash apart per day and per project', async () => {
    const [a, b] = [await createProject(), await createProject()];
    const visit = async (project: TestProject, at: number, path: string) => {
      vi.setSystemTime(at);
      const res = await postEvent(pageview(project.siteKey, { u: `https://example.com${path}` }), {
        headers: { 'cf-connecting-ip': '203.0.113.99', 'user-agent': USER_AGENTS.firefoxWindows },
      });
      expect(res.status).toBe(202);
    };
    const morning = DAY_D + 9 * HOUR;
    await visit(a, morning, '/a-day1');
    await visit(a, morning + MINUTE, '/a-day1-again');
    await visit(b, morning, '/b-day1');
    await visit(a, morning + DAY, '/a-day2');
    await visit(b, morning + DAY, '/b-day2');
    const ids = async (project: TestProject) =>
      Object.fromEntries((await outboxEvents(projectStub(project.id))).map((event) => [event.path, event.visitorId]));
    const [ofA, ofB] = [await ids(a), await ids(b)];
    expect(ofA['/a-day1-again']).toBe(ofA['/a-day1']);
    const all = [ofA['/a-day1'], ofA['/a-day2'], ofB['/b-day1'], ofB['/b-day2']];
    expect(new Set(all).size).toBe(4);

    // Two days on, each object's alarm keeps only the salts of today and yesterday — even when idle.
    const salts = async (project: TestProject) => projectStub(project.id).rotateSalts(Date.now());
    for (const days of [2, 3]) {
      vi.setSystemTime(DAY_D + days * DAY + 5 * MINUTE);
      for (const project of [a, b]) {
        await runDurableObjectAlarm(projectStub(project.id));
        expect(await salts(project)).toEqual([utcDayOf(DAY_D + (days - 1) * DAY), utcDayOf(DAY_D + days * DAY)]);
      }
    }
  });
});

describe('what deletion and the retention purge leave', () => {
  it('nothing of a deleted project, and nothing of a visitor past retention, in any cell anywhere', async () => {
    const start = DAY_D + 10 * HOUR;
    vi.setSystemTime(start);
    const owner = await signUp();
    const doomed = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }] });
    const brief = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }], retentionDays: 1 });
    for (const [i, project] of [doomed, brief, doomed, brief].entries()) {
      const res = await postEvent(pageview(project.siteKey, { u: `https://example.com/${i}`, p: { plan: 'pro' } }), {
        headers: { 'cf-connecting-ip': `192.0.2.${i + 1}` },
      });
      expect(res.status).toBe(202);
    }
    for (const project of [doomed, brief]) {
      await runDurableObjectAlarm(projectStub(project.id));
      await waitForEvents(project.id, 2);
    }
    const traces = async (projectId: string) =>
      (await storedEvents(projectId)).flatMap((event) => [event.id, event.visitorId, event.sessionId]);
    const [doomedTraces, briefTraces] = [await traces(doomed.id), await traces(brief.id)];
    // One of the doomed project's events the database refused for good: it sits in quarantine.
    const [refused] = await storedEvents(doomed.id);
    const poison = { ...refused, id: crypto.randomUUID(), ts: 'not a time' };
    const batch = createMessageBatch('tally-events', [
      {
        id: 'poison',
        timestamp: new Date(),
        attempts: 1,
        body: JSON.stringify({ v: 1, kind: 'events', events: [poison] }),
      },
    ]);
    await worker.queue(batch, env);
    const quarantined = await env.DB.prepare('SELECT COUNT(*) AS n FROM quarantine WHERE instr(body, ?) > 0')
      .bind(doomed.id)
      .first<{ n: number }>();
    expect(quarantined?.n).toBe(1);

    expect((await api(`/api/projects/${doomed.id}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    // Three days on, the hourly cron purges the brief project's events (retention: one day).
    const later = start + 3 * DAY - (start % HOUR) + HOUR;
    vi.setSystemTime(later);
    await worker.scheduled(createScheduledController({ scheduledTime: later, cron: '*/5 * * * *' }), env);
    expect(await storedEvents(brief.id)).toEqual([]);
    // Its object's alarm has run meanwhile too (it wakes while visits are open): ended visits are forgotten.
    await runDurableObjectAlarm(projectStub(brief.id));

    const cells = [...(await d1Cells()), ...(await durableObjectCells())];
    const leftovers = findIn(cells, [doomed.id, doomed.siteKey, ...doomedTraces, ...briefTraces]);
    expect(leftovers).toEqual([]);
    // The brief project itself lives on: only its visitors' data is gone.
    expect(findIn(cells, [brief.id]).length).toBeGreaterThan(0);
  });
});

/**
 * Found by this suite: the retention purge deleted raw events but not quarantined ones, which hold
 * the same visitor ids and paths. Fixed in `worker/src/rollup/retention.ts`; this keeps it fixed.
 */
describe('retention of quarantined events', () => {
  it('a quarantined event past its project retention is purged by the cron', async () => {
    const start = DAY_D + 30 * DAY + 10 * HOUR;
    vi.setSystemTime(start);
    const owner = await signUp();
    const project = await createProjectAs(owner.token, { hostnames: [{ hostname: 'example.com' }], retentionDays: 1 });
    const body = JSON.stringify({
      v: 1,
      kind: 'events',
      events: [{ projectId: project.id, id: crypto.randomUUID(), ts: 'not a time', visitorId: '0123456789abcdef' }],
    });
    await worker.queue(
      createMessageBatch('tally-events', [{ id: 'q', timestamp: new Date(), attempts: 1, body }]),
      env,
    );
    const later = start + 3 * DAY - (start % HOUR) + HOUR;
    vi.setSystemTime(later);
    await worker.scheduled(createScheduledController({ scheduledTime: later, cron: '*/5 * * * *' }), env);
    expect(findIn(await d1Cells(), [project.id])).not.toContainEqual(expect.stringContaining('quarantine'));
  });
});
