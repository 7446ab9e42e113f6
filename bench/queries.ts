/**
 * Phase 3, queries: the dashboard's first screen for 30 days (cards and chart, sources, pages,
 * entry and exit pages, countries, browsers, operating systems, devices, custom events) at growing
 * data sizes, first over raw events (every hour marked dirty, as after an outage), then after the
 * real cron has rolled every closed day up. Timed through the API with the Cache API off, so each
 * answer is computed; rows read are D1's own count (the meter Worker).
 */
import { type BenchProject, createBenchProject, createGoals, signUp } from './api.ts';
import { type Dataset, generateDataset, multiplyDataset } from './dataset.ts';
import { type Budget, log, status } from './progress.ts';
import { formatSize, sizeFigures } from './query-figures.ts';
import { BENCH_GOALS, DASHBOARD_QUERIES, type Pass, passDetails, rollUpEverything, runPass } from './query-passes.ts';
import { type Figure, percentile } from './report.ts';
import { MARK_SPAN_HOURS_SQL } from '../worker/src/store/freshness.ts';
import { DAY_MS } from './rows.ts';
import { d1File, type Stack, startStack } from './stack.ts';

export { DASHBOARD_QUERIES } from './query-passes.ts';

/** Sizes and repetitions. */
export interface QueryPlan {
  /** Event counts, ascending; each after the first is a multiple of the first. */
  sizes: number[];
  /** Timed repetitions of each query with rollups. */
  repeats: number;
}

const DAYS = 30;
/** Events rolled up per second, assumed until a run has measured it (a loaded 2-core machine). */
const DEFAULT_ROLLUP_RATE = 10_000;
/** Events written into D1's file per second, likewise. */
const DEFAULT_WRITE_RATE = 50_000;
/** Rolling up a larger dataset was up to this much slower per event than a smaller one. */
const ROLLUP_MARGIN = 1.3;

export interface QueriesContext {
  bundle: string;
  persistDir: string;
  budget: Budget;
  plan: QueryPlan;
  /** Collects what the Workers logged at warn or error level. */
  problems: string[];
}

/** Per size and pass, each query's times and rows read (for results.json). */
export type QueryDetails = Record<string, Record<string, unknown>>;

export async function benchQueries(context: QueriesContext): Promise<{ figures: Figure[]; details: QueryDetails }> {
  const details: QueryDetails = {};
  const { bundle, persistDir, budget, plan, problems } = context;
  let stack = await startStack({ bundle, persistDir, migrate: true });
  const { token } = await signUp(stack.tallyUrl);
  const project = await createBenchProject(stack.tallyUrl, token, 'queries');
  await createGoals(stack.tallyUrl, token, project.id, BENCH_GOALS);
  await stack.stop();
  problems.push(...stack.problems);

  const lastDay = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
  const figures: Figure[] = [];
  let dataset: Dataset | null = null;
  let previous: {
    size: number;
    rawPass: Pass;
    rollupMs: number;
    rollupRate: number;
    /** Events written into D1's file per second (generating or multiplying). */
    writeRate: number;
  } | null = null;
  let writeRate = DEFAULT_WRITE_RATE;
  for (const [index, size] of plan.sizes.entries()) {
    const label = `Queries ${formatSize(size)}`;
    const largest = index === plan.sizes.length - 1;
    if (previous) {
      // Will the next size fit? Writing its events, rolling them up (with a margin: days grow
      // heavier) and the rollup pass; a raw pass only runs on what is left after that.
      const grow = ((size - previous.size) / previous.writeRate) * 1000;
      const rollUp = (size / previous.rollupRate) * 1000 * ROLLUP_MARGIN;
      if (!budget.allows(grow + rollUp, 20_000)) {
        const minutes = (ms: number) => `${Math.ceil(ms / 60_000)} min`;
        const why =
          `not run: writing and rolling up ${formatSize(size)} needs ~${minutes(grow + rollUp)} ` +
          `(${formatSize(previous.size)} rolled up in ${Math.round(previous.rollupMs / 1000)} s), ` +
          `${minutes(Math.max(0, budget.remaining()))} left; run with --minutes 30`;
        log('queries', `${label}: ${why}`);
        figures.push(...sizeFigures(label, size, null, null, null, largest, why));
        continue;
      }
    }
    const stopGen = status('queries', () => `${label}: writing events into D1's SQLite…`);
    try {
      if (!dataset) {
        dataset = generateDataset(d1File(persistDir), project.id, size, DAYS, lastDay, () => undefined);
        writeRate = (dataset.events / dataset.ms) * 1000;
        log(
          'queries',
          `${formatSize(dataset.events)} events generated in ${(dataset.ms / 1000).toFixed(1)} s (${dataset.from} … ${dataset.to}), ` +
            `${Math.round(dataset.bytesPerEvent)} bytes per event in D1's file`,
        );
        figures.push({
          id: 'storage.bytesPerEvent',
          group: 'Storage',
          label: 'D1 bytes per stored event (row + indexes)',
          value: dataset.bytesPerEvent,
          unit: 'B',
          note: `${formatSize(dataset.events)} generated events`,
        });
      } else {
        const grown = multiplyDataset(
          d1File(persistDir),
          project.id,
          Math.round(size / dataset.events),
          () => undefined,
        );
        log('queries', `grown to ${formatSize(grown.events)} events in ${(grown.ms / 1000).toFixed(1)} s`);
        dataset.events = grown.events;
      }
    } finally {
      stopGen();
    }
    stack = await startStack({ bundle, persistDir, migrate: false, cacheApi: false });
    try {
      const range = [dataset.from, dataset.to];
      const smaller = previous ? { pass: previous.rawPass, factor: dataset.events / previous.size } : null;
      // Keep time for rolling up (at the rate seen so far) and the rollup pass.
      const rollupEstimate = (dataset.events / (previous?.rollupRate ?? DEFAULT_ROLLUP_RATE)) * 1000 * ROLLUP_MARGIN;
      const rawPass = await runPass(stack, project, range, {
        repeats: 1,
        via: 'meter',
        label: `${label} raw`,
        budget,
        reserveMs: rollupEstimate + 15_000,
        smaller,
      });
      const sizeBefore = await databaseBytes(stack);
      const rollup = await rollUpEverything(stack, project.id, dataset.events, label, budget);
      if (!previous && !rollup.left) figures.push(...(await rollupStorage(stack, project.id, sizeBefore)));
      // Unrolled days would be read raw: a pass then measures raw scans again, and takes minutes.
      const rollupPass = rollup.left
        ? null
        : await runPass(stack, project, range, {
            repeats: plan.repeats,
            via: 'tally',
            label: `${label} rollups`,
            budget,
            reserveMs: 5_000,
            smaller: null,
          });
      figures.push(...sizeFigures(label, dataset.events, rawPass, rollupPass, rollup, largest, undefined, previous));
      if (rollupPass) figures.push(...(await openDayFigures(stack, project, dataset, label, budget)));
      details[formatSize(dataset.events)] = {
        rollup,
        raw: passDetails(rawPass),
        rollups: rollupPass ? passDetails(rollupPass) : null,
      };
      previous = {
        size: dataset.events,
        rawPass,
        rollupMs: rollup.ms,
        rollupRate: (dataset.events / rollup.ms) * 1000,
        writeRate,
      };
    } finally {
      await stack.stop();
      problems.push(...stack.problems);
    }
  }
  return { figures, details };
}

/**
 * The open day: whatever the range, today is read raw (its numbers change with every event). Its
 * cost is that of any day read raw, so the range's last day is marked as the consumer would mark
 * today, the query set asks for that one day, and the marks are cleared again (the day's rollups
 * are still exact: nothing was written).
 */
async function openDayFigures(
  stack: Stack,
  project: BenchProject,
  dataset: Dataset,
  label: string,
  budget: Budget,
): Promise<Figure[]> {
  const db = await stack.d1();
  const start = Date.parse(`${dataset.to}T00:00:00Z`);
  const { results } = await db
    .prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND ts >= ? AND ts < ?')
    .bind(project.id, start, start + DAY_MS)
    .all<{ n: number }>();
  const events = Number(results[0]?.n ?? 0);
  await db
    .prepare(MARK_SPAN_HOURS_SQL)
    .bind(project.id, start, start + DAY_MS)
    .run();
  let pass: Pass;
  try {
    pass = await runPass(stack, project, [dataset.to, dataset.to], {
      repeats: 2,
      via: 'tally',
      label: `${label} open day`,
      budget,
      reserveMs: 5_000,
      smaller: null,
    });
  } finally {
    await db.prepare('DELETE FROM rollup_dirty WHERE project_id = ?').bind(project.id).run();
  }
  const times = [...pass.times.values()].flat().sort((a, b) => a - b);
  const note = pass.skipped.length ? `${pass.times.size} of ${DASHBOARD_QUERIES.length} queries run (out of time)` : '';
  return [
    {
      id: `${label}.openDay.p95`,
      group: label,
      label: 'dashboard queries over today (read raw, as the open day always is), p95',
      value: times.length ? percentile(times, 95) : null,
      unit: 'ms',
      reference: { label: 'events that day', value: events, unit: '' },
      note: note || `one day of ${formatSize(dataset.events)} over ${DAYS} days, read raw`,
    },
  ];
}

/** D1's own figure for the database's size (`meta.size_after` of any statement). */
async function databaseBytes(stack: Stack): Promise<number | null> {
  const { meta } = await (await stack.d1()).prepare('SELECT 1').all();
  return typeof meta.size_after === 'number' ? meta.size_after : null;
}

/** What rollups cost in storage per project and day (for docs/SCALING.md's arithmetic). */
async function rollupStorage(stack: Stack, projectId: string, sizeBefore: number | null): Promise<Figure[]> {
  const db = await stack.d1();
  const { results } = await db
    .prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT day) AS days FROM rollups WHERE project_id = ?')
    .bind(projectId)
    .all<{ n: number; days: number }>();
  const rows = Number(results[0]?.n ?? 0);
  const days = Number(results[0]?.days ?? 0) || 1;
  const sizeAfter = await databaseBytes(stack);
  const bytes = sizeBefore === null || sizeAfter === null ? null : (sizeAfter - sizeBefore) / days;
  return [
    {
      id: 'storage.rollupsPerDay',
      group: 'Storage',
      label: 'rollups per project-day (D1 growth when rolled up)',
      value: bytes === null ? null : bytes / 1024,
      unit: 'KB',
      note: `${Math.round(rows / days).toLocaleString('en-US')} rows a day for this site's distinct values`,
    },
  ];
}
