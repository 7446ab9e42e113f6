/**
 * Review 3 repro (failing): one day above ARCHIVE_MAX_ROWS (50,000 events, e.g. a launch day or a
 * bot wave) stops its project's archive for good: the day is refused every day, and every later
 * day waits behind it (`raw_from` may only pass archived days). The project's raw events then grow
 * in D1 without bound — the ceiling issue 16 set out to remove.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { dayBounds, formatDate } from '../src/shared/calendar.ts';
import { ARCHIVE_MAX_ROWS, archivedDay } from '../src/store/index.ts';
import { archiveSuite, daysAgo, NOW } from './archive-harness.ts';
import { event, seed } from './query-oracle-harness.ts';

const TZ = 'UTC';
const DAY = 86_400_000;

describe('review 3: a day too big for one object', () => {
  const suite = archiveSuite();

  it('does not keep the later days of its project in D1 for ever', async () => {
    const big = dayBounds(daysAgo(70, TZ), TZ).start;
    const small = dayBounds(daysAgo(65, TZ), TZ).start;
    const events = [
      ...Array.from({ length: ARCHIVE_MAX_ROWS + 1 }, (_, i) =>
        event(new Date(big + Math.floor((i * 86_000_000) / ARCHIVE_MAX_ROWS)).toISOString(), {
          visitor_id: `v${i % 5_000}`,
          session_id: `s${i % 5_000}`,
        }),
      ),
      event(new Date(small + 3_600_000).toISOString(), { visitor_id: 'w', session_id: 'w' }),
    ];
    const projectId = await seed(TZ, events, [], suite.owner());
    await rollUpAll(env, NOW);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    // A day and a week of cron runs later, the small day 65 back is still in D1.
    for (const at of [NOW, NOW + DAY + 1, NOW + 7 * DAY + 1]) await archiveOldDays(env.DB, env.ARCHIVE, at);
    errors.mockRestore();
    expect(await archivedDay(env.DB, projectId, formatDate(daysAgo(65, TZ)))).not.toBeNull();
  }, 180_000);
});
