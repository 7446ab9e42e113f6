/**
 * Filtered views read their marked days (the open day among them) by `pairRowsSql` over `dayHead`:
 * they equal the oracle on DST days and in zones off the hour, with out-of-order late events, an
 * event past `now` and one in the day's last millisecond. And a funnel rematch deletes only the old
 * definition's rows, so a cron run between its batches keeps the new one's.
 */
import { env, exports } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getDb } from '../src/db/index.ts';
import { updateFunnel } from '../src/projects/funnels.ts';
import { rollUpAll } from '../src/rollup/index.ts';
import { dayBounds, formatDate, type LocalDate, parseDate } from '../src/shared/calendar.ts';
import { type OracleQuery, type RawEvent, runOracle } from './query-oracle.ts';
import { ask, event, seed, signInBeforeAll, signUp, writeLate } from './query-oracle-harness.ts';
import { runFunnelOracle } from './query-oracle-funnels.ts';
import { api } from './accounts.ts';

signInBeforeAll();
afterEach(() => {
  vi.useRealTimers();
});

const MIN = 60_000;

describe('filtered views of the open day (pairRowsSql over dayHead) equal the oracle', () => {
  const zones: [string, string][] = [
    ['America/New_York', '2026-11-01'], // 25 hours
    ['Europe/Berlin', '2026-03-29'], // 23 hours
    ['Asia/Kathmandu', '2026-03-29'], // +05:45
    ['Australia/Lord_Howe', '2026-04-05'], // 30-minute DST
  ];
  for (const [timezone, label] of zones) {
    it(`in ${timezone} on ${label}: out-of-order late events, a future event, the last minute`, async () => {
      const day = parseDate(label) as LocalDate;
      const { start, end } = dayBounds(day, timezone);
      const now = end - 3 * MIN;
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(now);
      const at = (ms: number) => new Date(ms).toISOString();
      const g = { source: 'Google', referrer: 'https://www.google.com/' };
      const early: RawEvent[] = [
        event(at(start + 60 * MIN), { ...g, session_id: 'a', visitor_id: 'a', seq: 1, path: '/a' }),
        event(at(start + 70 * MIN), { ...g, session_id: 'a', visitor_id: 'a', seq: 2, path: '/b', name: 'click' }),
        event(at(start + 3 * 3_600_000), { session_id: 'b', visitor_id: 'b', seq: 1, path: '/a', country: 'US' }),
        event(at(end - 10 * MIN), { ...g, session_id: 'c', visitor_id: 'c', seq: 1, path: '/c', device: 'mobile' }),
        // Just before midnight, and one the clock clamp lets in after `now` (still today).
        event(at(end - 1), { ...g, session_id: 'd', visitor_id: 'd', seq: 1, path: '/d', country: 'US' }),
        event(at(now + 2 * MIN), { ...g, session_id: 'c', visitor_id: 'c', seq: 2, path: '/c2' }),
      ];
      // Arrived late, with earlier times and higher seq: the entry of `a` changes, `c` stops bouncing.
      const late: RawEvent[] = [
        event(at(start + 50 * MIN), {
          source: 'news',
          referrer: 'https://news.example.org/story?id=7',
          session_id: 'a',
          visitor_id: 'a',
          seq: 3,
          path: '/z',
        }),
        event(at(end - 20 * MIN), { ...g, session_id: 'c', visitor_id: 'c', seq: 3, path: '/c0', name: 'click' }),
      ];
      const projectId = await seed(timezone, early, []);
      await rollUpAll(env, now);
      const all = [...early, ...late];
      await writeLate(projectId, late);
      const queries: OracleQuery[] = [];
      for (const dimensions of [['page'], ['country'], ['time:hour'], ['event:name'], ['time:day', 'device']]) {
        for (const filter of [
          ['is', 'source', ['Google']],
          ['is', 'source', [null]],
          ['is', 'country', ['DE']],
          ['is', 'device', ['desktop']],
        ] as OracleQuery['filters'] & object) {
          const own = dimensions.includes('page')
            ? ([['contains', 'page', ['/c']]] as const)
            : dimensions.includes('event:name')
              ? ([['is_not', 'event:name', ['pageview']]] as const)
              : [];
          if (filter[1] === dimensions[dimensions.length - 1]) continue;
          for (const keep of [[], own]) {
            queries.push({
              metrics: [
                'visitors',
                'visits',
                'pageviews',
                'views_per_visit',
                'bounce_rate',
                'visit_duration',
                'events',
              ],
              date_range: [formatDate(day), formatDate(day)],
              dimensions,
              filters: [filter, ...(keep as never[])],
              include: { totals: true, compare: 'previous_period' },
            });
          }
        }
      }
      for (const [index, query] of queries.entries()) {
        const q = { ...query, limit: 50 + index };
        expect(await ask(projectId, q), JSON.stringify(q)).toEqual(runOracle(all, q, { timezone, now }));
      }
    }, 120_000);
  }
});

describe('a funnel rematch', () => {
  it('keeps the new rows of a day a cron run rolls between its marks and its delete', async () => {
    const owner = await signUp();
    const events = [
      event('2026-05-01T10:00:00Z', { session_id: 'a', visitor_id: 'a', path: '/' }),
      event('2026-05-01T10:01:00Z', { session_id: 'a', visitor_id: 'a', seq: 2, name: 'signup' }),
      event('2026-05-01T11:00:00Z', { session_id: 'b', visitor_id: 'b', path: '/' }),
    ];
    const projectId = await seed('UTC', events, [], owner);
    const made = await api(`/api/projects/${projectId}/funnels`, {
      method: 'POST',
      token: owner.token,
      body: {
        name: 'F',
        steps: [
          { kind: 'pageview', path: '/' },
          { kind: 'event', eventName: 'signup' },
        ],
      },
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { id } = (await made.json()) as { id: string };
    const now = Date.UTC(2026, 4, 10);
    await rollUpAll(env, now);

    // The data database, with a cron run landing before each of the rematch's batches after the update.
    const data = getDb(env.DB);
    let batches = 0;
    const racing = new Proxy(data, {
      get(target, key, receiver) {
        if (key !== 'batch') return Reflect.get(target, key, receiver);
        return async (statements: Parameters<typeof data.batch>[0]) => {
          batches += 1;
          // A cron run before each batch after the definition is written.
          if (batches >= 2) await rollUpAll(env, now);
          return target.batch(statements);
        };
      },
    }) as typeof data;
    const control = getDb(env.DB);
    const project = await control.query.projects.findFirst({ where: (p, { eq }) => eq(p.id, projectId) });
    const steps = [
      { kind: 'pageview', path: '/' },
      { kind: 'event', eventName: 'click' },
    ] as const;
    await updateFunnel(
      control,
      racing,
      { project: project as never, role: 'owner' },
      id,
      { steps: steps as never },
      now,
    );

    const request = { funnel: id, date_range: ['2026-05-01', '2026-05-01'] };
    const res = await exports.default.fetch('http://tally.test/api/v1/funnel', {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project: projectId, ...request }),
    });
    const answer = await res.json();
    const expected = runFunnelOracle(events, steps as never, { date_range: ['2026-05-01', '2026-05-01'] }, 'UTC');
    expect(answer).toEqual(expected);
  });
});
