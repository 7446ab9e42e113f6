/**
 * Phase 3, queries: every stats request the dashboard sends for each view of issue 15 (today,
 * yesterday, 7 and 30 days, this month, the comparison, 30 days with filters) on a project with
 * `events` over the last 30 days and a day in progress, timed through the API with the Cache API
 * off and D1's rows read counted by the meter Worker; rows read per dashboard load; what a tab
 * left open on today costs; and the cron's longest D1 call on a big day.
 *
 * The closed days come rolled up from a cache (bench/query-data.ts); a run that finds none builds
 * it, and a run on a later day adds the days closed since. The budget is extended by that one-time
 * work, so that a first run measures what later runs measure.
 */
import { postQuery } from './api.ts';
import { benchCronDay, cronDayEstimateMs, prepareCronDay } from './cron-day.ts';
import { cronUntilIdle, stackCron } from './cron.ts';
import { type Budget, log } from './progress.ts';
import { type DatasetMeta, prepareDataset } from './query-data.ts';
import { loadFigure, openTabFigure, requestFigure } from './query-figures.ts';
import { type Measured, measureViews } from './query-passes.ts';
import { dashboardRequests, VIEWS, viewSpans } from './query-views.ts';
import { type Figure, formatSize } from './report.ts';
import { type Stack, startStack } from './stack.ts';

/** What the phase measures. */
export interface QueryPlan {
  /** Events over the last 30 days, today's share (a 30th) included. */
  events: number;
  /** Timed repetitions of each request. */
  repeats: number;
  /** Events of the day the cron's figure rolls up. */
  cronDayEvents: number;
  /** Time left for the phases that run after this one (they do not watch the budget). */
  laterPhasesMs: number;
}

export interface QueriesContext {
  bundle: string;
  /** Where this run's copy of the dataset goes. */
  persistDir: string;
  budget: Budget;
  plan: QueryPlan;
  /** Collects what the Workers logged at warn or error level. */
  problems: string[];
}

/** What results.json keeps of the phase. */
export type QueryDetails = Record<string, unknown>;

/** Events of a project in [start, end) spans, counted through the `(project_id, ts)` index. */
async function eventsIn(stack: Stack, projectId: string, spans: readonly [number, number][]): Promise<number> {
  const db = await stack.d1();
  let total = 0;
  for (const [start, end] of spans) {
    const { results } = await db
      .prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND ts >= ? AND ts < ?')
      .bind(projectId, start, end)
      .all<{ n: number }>();
    total += Number(results[0]?.n ?? 0);
  }
  return total;
}

/** The dataset's storage figures, measured when the cache was built. */
function storageFigures(meta: DatasetMeta): Figure[] {
  const note = `measured when the cached dataset was built`;
  return [
    {
      id: 'storage.bytesPerEvent',
      group: 'Storage',
      label: 'D1 bytes per stored event (row + indexes)',
      value: meta.bytesPerEvent,
      unit: 'B',
      note,
    },
    {
      id: 'storage.rollupsPerDay',
      group: 'Storage',
      label: 'rollups per project-day (D1 growth when rolled up)',
      value: meta.rollup.kbPerDay,
      unit: 'KB',
      note: `${Math.round(meta.rollup.rowsPerDay).toLocaleString('en-US')} rows a day for this site's distinct values`,
    },
  ];
}

/**
 * Run the phase: the dataset (from the cache, with today added), the day in progress rolled as far
 * as the cron rolls it, every view's requests, then the big day's rollup.
 */
export async function benchQueries(context: QueriesContext): Promise<{ figures: Figure[]; details: QueryDetails }> {
  const { bundle, persistDir, budget, plan, problems } = context;
  const size = formatSize(plan.events);
  const dataset = await prepareDataset(bundle, plan.events, persistDir);
  const cronDay = await prepareCronDay(bundle, plan.cronDayEvents);
  const setupMs = dataset.setupMs + (cronDay.built ? cronDay.meta.buildMs : 0);
  if (setupMs) {
    budget.extend(setupMs);
    log('queries', `budget extended by the one-time build of cached data (${Math.round(setupMs / 1000)} s)`);
  }
  const meta = dataset.entry.meta;
  const figures: Figure[] = [...storageFigures(meta)];
  const details: QueryDetails = {
    dataset: { dayEvents: meta.dayEvents, today: dataset.todayEvents, rollup: meta.rollup, setupMs },
  };

  const stack = await startStack({ bundle, persistDir, migrate: false, cacheApi: false, secrets: meta.secrets });
  // The views first: the big day keeps its time only when it leaves them at least half of what is left.
  const cronDayMs = cronDayEstimateMs(cronDay) + 10_000;
  const views = budget.remaining() - plan.laterPhasesMs - cronDayMs;
  const reserveMs = (views >= cronDayMs ? cronDayMs : 0) + plan.laterPhasesMs;
  const byView: Record<string, Measured[]> = {};
  try {
    // The day in progress, as the cron every five minutes keeps it: whatever it rolls up of it.
    details.todayCron = await cronUntilIdle(stackCron(stack), `today (${formatSize(dataset.todayEvents)} events)`, {
      budget,
    });
    const now = Date.now();
    const first = dashboardRequests(VIEWS[0] as (typeof VIEWS)[number], meta.project, now)[0];
    // Warm both isolates: the first request of a Worker pays for its start.
    for (const url of [stack.tallyUrl, stack.meterUrl])
      await postQuery(url, meta.project.readKey, first?.body, first?.path).catch(() => undefined);
    const measured = await measureViews(stack, VIEWS, meta, { repeats: plan.repeats, budget, reserveMs, now });
    for (const [index, view] of VIEWS.entries()) {
      const requests = measured[index] as Measured[];
      byView[view.name] = requests;
      const group = `Queries ${size} · ${view.name}`;
      const id = `queries.${size}.${view.name}`;
      const rangeEvents = await eventsIn(stack, meta.project.id, viewSpans(view, now));
      figures.push(loadFigure(group, id, requests, rangeEvents, plan.events));
      figures.push(...requests.map((m) => requestFigure(group, id, m, plan.repeats)));
      const answered = requests.filter((m) => m.times.length);
      log(
        'queries',
        `${size} · ${view.name}: ${answered.length}/${requests.length} answered, ` +
          `${requests.filter((m) => m.error).length} refused, ${requests.filter((m) => m.skipped).length} not run for time`,
      );
    }
  } finally {
    await stack.stop();
    problems.push(...stack.problems);
  }
  figures.push(openTabFigure(`Queries ${size}`, byView.today ?? [], dataset.todayEvents, plan.events));
  figures.push(...(await benchCronDay(bundle, cronDay, { budget, reserveMs: plan.laterPhasesMs }, problems)));
  details.views = byView;
  return { figures, details };
}
