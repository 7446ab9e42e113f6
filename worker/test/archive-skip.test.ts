/**
 * A day too big for one object (`ARCHIVE_MAX_ROWS`): skipped, its raw events left in D1 and
 * counted, `raw_from` past it so that later days are archived; a late event on it is rolled up,
 * since all its raw events are still there.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { dayBounds, formatDate } from '../src/shared/calendar.ts';
import { ARCHIVE_MAX_ROWS, archivedDay } from '../src/store/index.ts';
import { insertEvents } from './query-oracle-data.ts';
import { archiveSuite, daysAgo, NOW } from './archive-harness.ts';
import { ask, event, seed } from './query-oracle-harness.ts';

const TZ = 'UTC';

describe('a day too big for the archive', () => {
  const suite = archiveSuite();

  it('stays in D1, counted, and a late event on it is rolled up', async () => {
    const big = dayBounds(daysAgo(70, TZ), TZ).start;
    const label = formatDate(daysAgo(70, TZ));
    const size = ARCHIVE_MAX_ROWS + 1;
    const events = [
      ...Array.from({ length: size }, (_, i) =>
        event(new Date(big + Math.floor((i * 86_000_000) / size)).toISOString(), {
          visitor_id: `v${i % 2_000}`,
          session_id: `s${i % 2_000}`,
        }),
      ),
      event(new Date(dayBounds(daysAgo(65, TZ), TZ).start + 3_600_000).toISOString(), { visitor_id: 'w' }),
    ];
    const projectId = await seed(TZ, events, [], suite.owner());
    await rollUpAll(env, NOW);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    const pageviews = async () =>
      (
        (await ask(projectId, { metrics: ['pageviews'], date_range: [label, label] }, suite.owner())) as {
          results: { metrics: number[] }[];
        }
      ).results[0]?.metrics[0];
    expect(await pageviews()).toBe(size);

    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, skipped: 1, deleted: 1 });
    warnings.mockRestore();
    expect(await archivedDay(env.DB, projectId, label)).toBeNull();
    expect(
      await env.DB.prepare('SELECT rows FROM archive_skipped WHERE project_id = ? AND day = ?')
        .bind(projectId, label)
        .first('rows'),
    ).toBe(size);
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND ts >= ? AND ts < ?')
      .bind(projectId, big, big + 86_400_000)
      .first('n');
    expect(left).toBe(size);
    expect(await pageviews()).toBe(size);

    // A replay after the day was skipped: the day is before raw_from, but whole, so rolled up again.
    await insertEvents(projectId, [event(new Date(big + 86_300_000).toISOString(), { visitor_id: 'late' })]);
    await rollUpAll(env, NOW);
    expect(await pageviews()).toBe(size + 1);
  }, 180_000);
});
