/**
 * Privacy guarantees, checked where data rests: after real traffic through the Worker, no table of
 * D1 and no storage of the ProjectDO holds an IP address or a user agent in any textual form; and
 * the cron rotates every project's daily salt, so that visitor ids cannot be recomputed later.
 */
import {
  createScheduledController,
  listDurableObjectIds,
  runDurableObjectAlarm,
  runInDurableObject,
} from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../src/index.ts';
import {
  admitOne,
  DAY_D as D,
  DAY,
  HOUR,
  insertProject,
  MINUTE,
  PINNED_NOW,
  projectStub,
  randomFingerprint,
  utcDayOf as dayOf,
  waitForEvents,
} from './fixtures.ts';

const IPV4 = '203.0.113.77';
const IPV6 = '2001:db8::7';
const AGENTS = {
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};
/** Every way an IP address or a user agent could have been written down. */
const FORBIDDEN = [
  IPV4,
  '::ffff:203.0.113.77',
  'cb00714d', // 203.0.113.77 as packed hex
  IPV6,
  '2001:0db8:0000:0000:0000:0000:0000:0007',
  '2001:db8:0:0:0:0:0:7',
  '20010db8000000000000000000000007',
  ...Object.values(AGENTS),
  'X11; Linux x86_64; rv:133.0',
  'CPU iPhone OS 17_5 like Mac OS X',
].map((text) => text.toLowerCase());

/** Every cell as text (blobs both as hex and as UTF-8), with where it was found. */
function cellsOf(where: string, rows: Record<string, unknown>[]): { where: string; text: string }[] {
  return rows.flatMap((row, i) =>
    Object.entries(row).map(([column, value]) => {
      let text = String(value);
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const bytes =
          value instanceof ArrayBuffer
            ? new Uint8Array(value)
            : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        text = `${new TextDecoder().decode(bytes)} ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
      }
      return { where: `${where}[${i}].${column}`, text: text.toLowerCase() };
    }),
  );
}

async function d1Cells() {
  const { results: tables } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{
    name: string;
  }>();
  const cells = [];
  for (const { name } of tables) {
    if (name.startsWith('_cf_')) continue; // D1's own bookkeeping, which a Worker cannot read
    const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    cells.push(...cellsOf(`d1.${name}`, results));
  }
  return { tables: tables.map((t) => t.name), cells };
}

function doCells(stub: DurableObjectStub) {
  return runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((t) => t.name);
    const cells = tables
      .filter((name) => !name.startsWith('_cf_')) // the storage API's own tables, read below through it
      .flatMap((name) => cellsOf(`do.${name}`, sql.exec(`SELECT * FROM "${name}"`).toArray()));
    const kv = [...(await state.storage.list()).entries()].map(([key, value]) => ({
      key,
      value: JSON.stringify(value),
    }));
    return { tables, cells: [...cells, ...cellsOf('do.kv', kv)] };
  });
}

function leaks(cells: { where: string; text: string }[]) {
  return cells.flatMap(({ where, text }) =>
    FORBIDDEN.filter((needle) => text.includes(needle)).map((needle) => `${needle} in ${where}`),
  );
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('personal data at rest', () => {
  it('no IP address or user agent is stored anywhere after ingest', async () => {
    const project = { id: 'privacy', siteKey: 'privacy-key' };
    await insertProject(project.id, project.siteKey, 'example.com');
    const send = (ip: string, agent: string, body: unknown) =>
      exports.default.fetch('http://tally.test/api/event', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': agent, 'cf-connecting-ip': ip },
        body: JSON.stringify(body),
      });
    const event = (path: string, extra: Record<string, unknown> = {}) => ({
      s: project.siteKey,
      n: 'pageview',
      u: `https://example.com${path}`,
      ...extra,
    });
    const requests: [string, string, unknown][] = [
      [IPV4, AGENTS.linux, event('/', { r: 'https://news.example.org/item?id=1', w: 1280 })],
      [
        IPV4,
        AGENTS.linux,
        [event('/pricing?utm_source=mail'), { ...event('/pricing'), n: 'signup', p: { plan: 'pro' } }],
      ],
      [IPV6, AGENTS.iphone, event('/mobile', { w: 390 })],
      [IPV6, AGENTS.iphone, { ...event('/mobile'), n: 'purchase', $: { a: 12.5, c: 'eur' } }],
    ];
    for (const [ip, agent, body] of requests) {
      const response = await send(ip, agent, body);
      expect(response.status, await response.clone().text()).toBe(202);
    }

    const stub = projectStub(project.id);
    const beforeFlush = await doCells(stub);
    // Events and visitor states wait in the admission log (live/log.ts), beside the salts.
    expect(beforeFlush.tables).toEqual(expect.arrayContaining(['salts']));
    expect(beforeFlush.cells.some((cell) => cell.where.startsWith('do.log_'))).toBe(true);
    expect(leaks(beforeFlush.cells)).toEqual([]);

    await runDurableObjectAlarm(stub);
    const rows = await waitForEvents(project.id, 5);
    // The address did reach the visitor hash: one visitor per address, else this test proves nothing.
    const visitorOf = (path: string) => rows.find((row) => row.path === path)?.visitor_id;
    expect(visitorOf('/pricing')).toBe(visitorOf('/'));
    expect(visitorOf('/mobile')).not.toBe(visitorOf('/'));
    expect(new Set(rows.map((row) => row.visitor_id)).size).toBe(2);

    const d1 = await d1Cells();
    expect(d1.tables).toEqual(expect.arrayContaining(['events', 'projects', 'quarantine', 'drop_counts']));
    expect(d1.cells.some((cell) => cell.where.startsWith('d1.events') && cell.text.includes('{"plan":"pro"}'))).toBe(
      true,
    );
    expect(leaks(d1.cells)).toEqual([]);
    expect(leaks((await doCells(stub)).cells)).toEqual([]);
    expect(leaks(cellsOf('live', [{ live: JSON.stringify(await stub.live(PINNED_NOW)) }]))).toEqual([]);
  });
});

describe('salt rotation by cron', () => {
  const storedSaltDays = (projectId: string) =>
    runInDurableObject(projectStub(projectId), (_instance, state) =>
      state.storage.sql
        .exec<{ day: string }>('SELECT day FROM salts ORDER BY day')
        .toArray()
        .map((row) => row.day),
    );
  const tick = async (scheduledTime: number) => {
    await worker.scheduled(createScheduledController({ scheduledTime, cron: '*/5 * * * *' }), env);
  };

  it("rotates every project's salts on the first run of a UTC day, and only then", async () => {
    const busy = ['rotate-a', 'rotate-b'];
    for (const id of [...busy, 'rotate-idle']) await insertProject(id, `${id}-key`, `${id}.example.com`);
    for (const id of busy) {
      await admitOne(projectStub(id), id, randomFingerprint(), D - DAY + 12 * HOUR);
      await admitOne(projectStub(id), id, randomFingerprint(), D + 12 * HOUR);
      expect(await storedSaltDays(id)).toEqual([dayOf(D - DAY), dayOf(D)]);
    }

    await tick(D + 12 * HOUR + 5 * MINUTE); // not the day's first run: nothing changes
    for (const id of busy) expect(await storedSaltDays(id)).toEqual([dayOf(D - DAY), dayOf(D)]);

    await tick(D + DAY + MINUTE);
    const { results } = await env.DB.prepare('SELECT id FROM projects').all<{ id: string }>();
    expect(results.map((row) => row.id)).toEqual(expect.arrayContaining([...busy, 'rotate-idle']));
    for (const { id } of results) {
      // Every project keeps at most yesterday's and today's salt; those that had traffic keep both.
      const days = await storedSaltDays(id);
      expect(days, id).toEqual(
        busy.includes(id) ? [dayOf(D), dayOf(D + DAY)] : expect.arrayContaining([dayOf(D + DAY)]),
      );
      expect(
        days.every((day) => day === dayOf(D) || day === dayOf(D + DAY)),
        id,
      ).toBe(true);
    }
    const objects = (await listDurableObjectIds(env.PROJECT)).map((id) => id.toString());
    for (const { id } of results) expect(objects).toContain(env.PROJECT.idFromName(id).toString());
  });
});
