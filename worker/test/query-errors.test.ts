/**
 * Invalid questions to the stats API: each answers 400 with the standard error body, and its
 * `details` name the failing field by its path in the request body, so a client can tell which
 * part of its query to fix. A body that is not JSON, or does not parse, gets the same status and
 * code on the stats, management and ingest routes alike.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { expectError, ORIGIN, postEvent } from './helpers.ts';
import { event, post, seed, signInBeforeAll, signUp } from './query-oracle-harness.ts';

signInBeforeAll();

const valid = { metrics: ['visitors'], date_range: '7d' };

/** Each invalid body (merged over a valid query) and the path its 400 must name. */
const CASES: [name: string, body: Record<string, unknown>, path: (string | number)[]][] = [
  ['unknown metric', { metrics: ['visitors', 'sessions'] }, ['metrics', 1]],
  ['no metric', { metrics: [] }, ['metrics']],
  ['unknown dimension', { dimensions: ['visit:page'] }, ['dimensions', 0]],
  ['two time dimensions', { dimensions: ['time:day', 'time:hour'] }, ['dimensions']],
  ['repeated dimension', { dimensions: ['page', 'page'] }, ['dimensions']],
  ['unknown filter operator', { filters: [['like', 'page', ['/']]] }, ['filters', 0, 0]],
  ['unknown filter dimension', { filters: [['is', 'page; DROP TABLE events', ['/']]] }, ['filters', 0, 1]],
  ['filter values not a list', { filters: [['is', 'page', '/']] }, ['filters', 0, 2]],
  ['unknown date range', { date_range: 'fortnight' }, ['date_range']],
  ['custom range backwards', { date_range: ['2026-05-02', '2026-05-01'] }, ['date_range']],
  ['custom range not dates', { date_range: ['2026-5-1', 'today'] }, ['date_range']],
  ['order by a metric not asked for', { order_by: [['pageviews', 'desc']] }, ['order_by', 0, 0]],
  ['order direction', { order_by: [['visitors', 'up']] }, ['order_by', 0, 1]],
  ['limit out of range', { limit: 0 }, ['limit']],
  ['page not a number', { page: 'two' }, ['page']],
  ['unknown compare', { include: { compare: 'last_week' } }, ['include', 'compare']],
  ['unknown field', { dimension: ['page'] }, ['dimension']],
  ['conversion rate without a goal', { metrics: ['conversion_rate'] }, ['metrics']],
];

describe('an invalid query', () => {
  it.each(CASES)('%s: 400 naming the field', async (_name, change, path) => {
    const projectId = await seed('UTC', [event('2026-05-01T10:00:00Z')]);
    const error = await expectError(await post(projectId, { ...valid, ...change }), 400, 'invalid_input');
    const paths = (error.details ?? []).map((issue) => JSON.stringify(issue.path));
    expect(paths, JSON.stringify(error)).toContain(JSON.stringify(path));
  });
});

describe('a body the API cannot read', () => {
  /** The same body, as one content type, to a management route, a stats route and ingest. */
  async function everywhere(contentType: string, body: string): Promise<Response[]> {
    const owner = await signUp();
    const headers = { authorization: `Bearer ${owner.token}`, 'content-type': contentType };
    return [
      await exports.default.fetch(`${ORIGIN}/api/projects`, { method: 'POST', headers, body }),
      await exports.default.fetch(`${ORIGIN}/api/v1/query`, { method: 'POST', headers, body }),
      await postEvent(body, { headers: { 'content-type': contentType } }),
    ];
  }

  it('is 415 unsupported_media_type when it is not JSON', async () => {
    for (const res of await everywhere('text/xml', '<query metrics="visitors"/>')) {
      await expectError(res, 415, 'unsupported_media_type');
    }
  });

  it('is 400 invalid_json when it does not parse', async () => {
    for (const res of await everywhere('application/json', '{"metrics": [')) {
      await expectError(res, 400, 'invalid_json');
    }
  });
});
