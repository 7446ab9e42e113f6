/**
 * Filtered rollups keyed by json_array(F, f, B) on write and json_array(?, ?, ?) on read
 * must agree for every filter value a source can hold (quotes, backslashes, non-ASCII, control
 * characters, null, a NUL that no stored value has), and the answer must come from pair_rollups.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { type OracleQuery, runOracle } from './query-oracle.ts';
import { ask, event, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

const SOURCES = [
  null,
  'a"b',
  'back\\slash',
  'café',
  '👍 like',
  'tab\there',
  'ctl\u0001x',
  'line\u2028sep',
  '[1]',
  '{"k":1}',
  'null',
];

describe('filtered rollups keys', () => {
  it('equal the oracle for JSON-special filter values, read from pair_rollups', async () => {
    const events = SOURCES.flatMap((source, i) => [
      event(`2025-03-0${(i % 3) + 1}T1${i % 10}:00:00Z`, {
        visitor_id: `v${i}`,
        session_id: `s${i}`,
        seq: 1,
        source,
        path: `/p${i % 2}`,
        browser: i % 2 ? 'Chrome' : 'Firefox',
      }),
      event(`2025-03-0${(i % 3) + 1}T1${i % 10}:05:00Z`, {
        visitor_id: `v${i}`,
        session_id: `s${i}`,
        seq: 2,
        source,
        name: i % 3 ? 'signup' : 'pageview',
        path: '/q',
      }),
    ]);
    const projectId = await seed('Europe/Berlin', events, []);
    await rollUpAll(env, Date.parse('2025-03-20T00:00:00Z'));
    const { results } = await env.DB.prepare('SELECT COUNT(*) AS n FROM pair_rollups WHERE project_id = ?')
      .bind(projectId)
      .all<{ n: number }>();
    expect(results[0]?.n).toBeGreaterThan(0);
    const values: (string | null)[] = [...SOURCES, 'a"b\u0000x', 'caf\u00e9 ', 'A"B'];
    for (const source of values) {
      for (const dimensions of [['page'], ['time:hour'], ['browser'], ['event:name'], ['time:day', 'country']]) {
        const query: OracleQuery = {
          metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounce_rate', 'visit_duration'],
          date_range: ['2025-03-01', '2025-03-05'],
          dimensions,
          filters: [['is', 'source', [source]]],
        };
        const expected = runOracle(events, query, { timezone: 'Europe/Berlin' });
        expect(await ask(projectId, query), JSON.stringify(query)).toEqual(expected);
      }
    }
    // The answers above came from pair_rollups: corrupting them changes an answer (a new question, so no cached answer).
    await env.DB.prepare('UPDATE pair_rollups SET visitors = visitors + 1000 WHERE project_id = ?')
      .bind(projectId)
      .run();
    const probe: OracleQuery = {
      metrics: ['visitors'],
      date_range: ['2025-03-01', '2025-03-05'],
      dimensions: ['page'],
      filters: [['is', 'source', ['a"b']]],
      limit: 99,
    };
    expect(await ask(projectId, probe)).not.toEqual(runOracle(events, probe, { timezone: 'Europe/Berlin' }));
  }, 120_000);
});
