/**
 * The cron on a big day: one day of a project with `events` (3M in a full run: nine times a day of
 * the query dataset), rolled up by the real cron, both ways it happens:
 * - hour by hour, as the cron rolls a day while it is open (each closed hour into `rollup_hours`,
 *   then the day as their sum once it has closed): the day is replayed by scheduling the cron at
 *   ten past each hour of it (a run's schedule decides which hours are closed), then after it;
 * - whole, as a closed day is rolled again after a goal or currency change marks it, or an outage.
 * D1 refuses a statement that runs past 30 s; a local run has no such limit, so the meter times
 * every D1 call and each figure is the longest, beside the day's total.
 *
 * The day's events are cached in a database of their own and used in place: rolling a day up
 * replaces its rows, so marking it again and rolling it up again gives the same database.
 */
import { createBenchProject, signUp } from './api.ts';
import { addWork, type CronWork, cronUntilIdle, logWork, noWork, stackCron } from './cron.ts';
import { writeDays } from './dataset.ts';
import { type Budget, log } from './progress.ts';
import { type CacheEntry, cached, cacheKey, EVENT_SOURCES, updateMeta } from './query-cache.ts';
import { type Figure, formatNumber, formatSize } from './report.ts';
import { DAY_MS } from './rows.ts';
import { MARK_SPAN_HOURS_SQL } from '../worker/src/store/freshness.ts';
import { d1File, type Stack, startStack } from './stack.ts';

/** D1's limit on one statement's time. */
const D1_STATEMENT_LIMIT_MS = 30_000;
const TARGET = `≤ ${D1_STATEMENT_LIMIT_MS / 1000} s (D1's limit per statement)`;
/**
 * Events rolled up per second each way, assumed until a run has measured it: a 3M-event day rolled
 * whole took 468 s in Node (2026-12-08, its filtered rows most of it), and workerd is about half
 * as fast.
 */
const ASSUMED_RATE = 3_000;
const HOUR_MS = 3_600_000;
/** Past the hour, so that the hour before is closed and its grace (hours.ts) over. */
const PAST_THE_HOUR_MS = 10 * 60_000;

type Way = 'hourly' | 'whole';

export interface CronDayMeta {
  projectId: string;
  dayStart: number;
  events: number;
  /** The last run's time for the day each way (ms), for the next run's estimate. */
  lastMs: Record<Way, number | null>;
  buildMs: number;
}

async function build(dir: string, bundle: string, events: number): Promise<CronDayMeta> {
  const started = performance.now();
  const stack = await startStack({ bundle, persistDir: dir, migrate: true });
  let projectId: string;
  try {
    const { token } = await signUp(stack.tallyUrl);
    projectId = (await createBenchProject(stack.tallyUrl, token, 'big day')).id;
  } finally {
    await stack.stop();
  }
  // A closed day that stays within the default retention (a year) of every later run.
  const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
  const written = writeDays(d1File(dir), projectId, [{ start: dayStart, events }], 11);
  log('cron', `${formatSize(written.events)} events of one day written in ${(written.ms / 1000).toFixed(1)} s`);
  const lastMs = { hourly: null, whole: null };
  return { projectId, dayStart, events: written.events, lastMs, buildMs: performance.now() - started };
}

/** The big day's database: built when missing (a minute at 3M events), then used in place. */
export function prepareCronDay(bundle: string, events: number): Promise<CacheEntry<CronDayMeta>> {
  const key = cacheKey([...EVENT_SOURCES, 'bench/cron-day.ts'], [events]);
  return cached(`cron-day-${formatSize(events)}`, key, (dir) => build(dir, bundle, events));
}

function estimateMs(meta: CronDayMeta, way: Way): number {
  return meta.lastMs[way] ?? (meta.events / ASSUMED_RATE) * 1000;
}

/** How long rolling the day up both ways will take: the last run's times, else an assumed rate. */
export function cronDayEstimateMs(entry: CacheEntry<CronDayMeta>): number {
  return estimateMs(entry.meta, 'hourly') + estimateMs(entry.meta, 'whole');
}

/** Mark the day as the consumer marks what it writes, and roll it up one way; what is left marked. */
async function rollUp(
  stack: Stack,
  meta: CronDayMeta,
  way: Way,
  budget: Budget,
): Promise<{ work: CronWork; left: number }> {
  const db = await stack.d1();
  // Replayed as it goes, the day is open, so never rolled up yet: the record of the last run's
  // rollup (with the catalog of its time) would have the cron mark it again at every run.
  if (way === 'hourly') await db.prepare('DELETE FROM rolled_days WHERE project_id = ?').bind(meta.projectId).run();
  await db
    .prepare(MARK_SPAN_HOURS_SQL)
    .bind(meta.projectId, meta.dayStart, meta.dayStart + DAY_MS)
    .run();
  const cron = stackCron(stack);
  const label = `a ${formatSize(meta.events)}-event day, ${way === 'hourly' ? 'hour by hour' : 'whole'}`;
  let work = noWork();
  if (way === 'whole') work = await cronUntilIdle(cron, label, { budget });
  else {
    for (let hour = 1; hour <= 24 && !work.unfinished; hour++) {
      const at = meta.dayStart + hour * HOUR_MS + PAST_THE_HOUR_MS;
      work = addWork(work, await cronUntilIdle(cron, `${label} (${hour}/24)`, { budget, at, quiet: true }));
    }
    logWork(label, work);
  }
  const { results } = await db
    .prepare('SELECT COUNT(*) AS n FROM rollup_dirty WHERE project_id = ?')
    .bind(meta.projectId)
    .all<{ n: number }>();
  return { work, left: Number(results[0]?.n ?? 0) };
}

function figure(events: number, way: Way, outcome: { work: CronWork; left: number } | string): Figure {
  const label = `longest D1 call rolling up a ${formatSize(events)}-event day ${way === 'hourly' ? 'hour by hour, as it goes' : 'whole (a re-roll)'}`;
  const base = { id: `cron.bigDay.${way}`, group: 'Cron', label, unit: 's' };
  if (typeof outcome === 'string') return { ...base, value: null, target: { text: TARGET, pass: null }, note: outcome };
  const { work, left } = outcome;
  const total = `${formatNumber(work.ms / 1000)} s in ${work.runs} cron runs`;
  return {
    ...base,
    value: work.longestMs / 1000,
    reference: { label: 'the day in all', value: work.ms / 1000, unit: 's' },
    target: { text: TARGET, pass: left ? false : work.longestMs <= D1_STATEMENT_LIMIT_MS },
    note: left
      ? `${left} hours still marked after ${total}: ${work.failure ?? work.unfinished ?? 'stalled'}`
      : `${total}; longest: ${work.longestSql}`,
  };
}

/** Roll the big day up both ways with the real cron, and say whether each D1 call fits D1's limit. */
export async function benchCronDay(
  bundle: string,
  entry: CacheEntry<CronDayMeta>,
  time: { budget: Budget; reserveMs: number },
  problems: string[],
): Promise<Figure[]> {
  const { budget } = time;
  const { meta } = entry;
  const figures: Figure[] = [];
  const stack = await startStack({ bundle, persistDir: entry.dir, migrate: false });
  try {
    for (const way of ['hourly', 'whole'] as const) {
      const estimate = estimateMs(meta, way);
      if (!budget.allows(estimate, time.reserveMs)) {
        figures.push(figure(meta.events, way, `not measured: ~${Math.ceil(estimate / 1000)} s needed, out of time`));
        continue;
      }
      const outcome = await rollUp(stack, meta, way, budget);
      figures.push(figure(meta.events, way, outcome));
      if (!outcome.left) meta.lastMs[way] = outcome.work.ms;
    }
  } finally {
    await stack.stop();
    problems.push(...stack.problems);
  }
  updateMeta(entry, meta);
  return figures;
}
