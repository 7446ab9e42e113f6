/**
 * Review 3 repro (failing): an event that reaches D1 after its day was archived (a dead-letter
 * replay, a quarantine replay) is merged into the day's object but never counted: the day is
 * before `raw_from`, so its rollups are never recomputed. The archive and the stats API then
 * disagree about the same day, and nothing reports it. Issue 16 asks that numbers for archived
 * days equal their raw events exactly.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { dayBounds } from '../src/shared/calendar.ts';
import { archivedDay } from '../src/store/index.ts';
import { insertEvents } from './query-oracle-data.ts';
import { archiveSuite, dayOf, daysAgo, HOUR, LABEL, TZ } from './archive-harness.ts';
import { ask, event } from './query-oracle-harness.ts';

describe('review 3: a late event on an archived day', () => {
  const suite = archiveSuite();

  it('is counted by the stats API once it is in the archive', async () => {
    const { projectId } = await dayOf(suite.owner(), 3);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    expect(await archiveOldDays(env.DB, env.ARCHIVE, Date.now())).toMatchObject({ days: 1, deleted: 3 });

    const { start } = dayBounds(daysAgo(70), TZ);
    const late = event(new Date(start + 20 * HOUR).toISOString(), { visitor_id: 'late', session_id: 'late' });
    await insertEvents(projectId, [late]);
    await rollUpAll(env, Date.now());
    await archiveOldDays(env.DB, env.ARCHIVE, Date.now());
    const archived = await archivedDay(env.DB, projectId, LABEL);
    expect(archived?.rows).toBe(4);

    const answer = (await ask(projectId, { metrics: ['pageviews'], date_range: [LABEL, LABEL] }, suite.owner())) as {
      results: { metrics: number[] }[];
    };
    // The day's raw events (in its object) number 4; the API still says 3.
    expect(answer.results[0]?.metrics[0]).toBe(archived?.rows);
  });
});
