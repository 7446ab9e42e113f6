/**
 * `exit_rate` (docs/STATS.md, "Metrics"): an exit page's visits over the pageviews of that page in
 * the same group, raw, from rollups and from a mix, with or without filters and comparisons, equal
 * the oracle; and the API refuses it where it has no meaning.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { runOracle } from './query-oracle.ts';
import { materialize, queryShape, scenario } from './query-oracle-data.ts';
import { ask, post, seed, signInBeforeAll } from './query-oracle-harness.ts';

signInBeforeAll();

/** An exit page breakdown, alone or beside a time or another visit dimension, asking exit_rate. */
const exitShape = fc
  .tuple(queryShape, fc.constantFrom<string[]>([], ['time:day'], ['time:month'], ['source'], ['country']), fc.boolean())
  .map(([shape, others, first]) => ({
    ...shape,
    dimensions: first ? ['exit_page', ...others] : [...others, 'exit_page'],
    goal: { dimension: null, filter: null, conversionRate: null },
    totals: false,
    exitRate: true,
  }));

describe('exit_rate', () => {
  it('equals the oracle raw, rolled up and mixed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, exitShape, async (data, shape) => {
        const query = materialize(shape, data.anchor);
        expect(query.metrics).toContain('exit_rate');
        const expected = runOracle(data.events, query, data);
        const projectId = await seed(data.timezone, data.events);
        expect(await ask(projectId, query), `raw ${JSON.stringify(query)}`).toEqual(expected);
        await rollUpAll(env.DB, Date.now());
        expect(await ask(projectId, query), `rolled up ${JSON.stringify(query)}`).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  }, 180_000);

  it('is refused without an exit_page breakdown, beside page or a goal, and with totals', async () => {
    const projectId = await seed('UTC', []);
    const bodies = [
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['page'] },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page', 'page'] },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page'], include: { totals: true } },
      { metrics: ['exit_rate'], date_range: '7d', dimensions: ['exit_page', 'event:goal'] },
    ];
    for (const body of bodies) {
      const res = await post(projectId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (await res.json()) as { error: { code: string; details: { path: unknown[] }[] } };
      expect(error.error.code).toBe('invalid_input');
      expect(error.error.details[0]?.path).toEqual(['metrics']);
    }
  });
});
