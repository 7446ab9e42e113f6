/**
 * The dashboard's query set and how the benchmark runs it: one pass over every query (timed through
 * the API, rows read through the meter Worker), and the cron run until every closed day is rolled up.
 */
import { type BenchProject, postQuery } from './api.ts';
import { type Budget, log, status } from './progress.ts';
import { percentile } from './report.ts';
import { DAY_MS } from './rows.ts';
import type { Stack } from './stack.ts';

/** The dashboard's queries, as its first screen asks them (`date_range` is added per run). */
export const DASHBOARD_QUERIES: readonly { name: string; query: Record<string, unknown> }[] = [
  {
    name: 'cards + chart',
    query: {
      metrics: ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'],
      dimensions: ['time:day'],
      include: { totals: true, time_labels: true },
    },
  },
  { name: 'sources', query: { metrics: ['visitors'], dimensions: ['source'], limit: 10 } },
  { name: 'pages', query: { metrics: ['visitors', 'pageviews'], dimensions: ['page'], limit: 10 } },
  { name: 'entry pages', query: { metrics: ['visitors', 'visits'], dimensions: ['entry_page'], limit: 10 } },
  { name: 'exit pages', query: { metrics: ['visitors', 'visits'], dimensions: ['exit_page'], limit: 10 } },
  { name: 'countries', query: { metrics: ['visitors'], dimensions: ['country'], limit: 10 } },
  { name: 'browsers', query: { metrics: ['visitors'], dimensions: ['browser'], limit: 10 } },
  { name: 'operating systems', query: { metrics: ['visitors'], dimensions: ['os'], limit: 10 } },
  { name: 'devices', query: { metrics: ['visitors'], dimensions: ['device'], limit: 10 } },
  { name: 'custom events', query: { metrics: ['visitors', 'events'], dimensions: ['event:name'], limit: 10 } },
  { name: 'regions', query: { metrics: ['visitors'], dimensions: ['region'], limit: 10 } },
  { name: 'utm campaigns', query: { metrics: ['visitors'], dimensions: ['utm_campaign'], limit: 10 } },
  {
    name: 'goals',
    query: {
      metrics: ['visitors', 'events', 'conversion_rate', 'revenue'],
      dimensions: ['event:goal'],
      limit: 10,
    },
  },
];

/** The benchmark project's goals, matching the generated traffic (`events.ts`): two of each kind. */
export const BENCH_GOALS: readonly Record<string, string>[] = [
  { name: 'Checkout', kind: 'pageview', path: '/checkout' },
  { name: 'Read the blog', kind: 'pageview', path: '/blog/**' },
  { name: 'Signup (pro)', kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
  { name: 'Purchase', kind: 'event', eventName: 'purchase' },
];

/** One pass over the query set. */
export interface Pass {
  /** Per query: wall times (ms). */
  times: Map<string, number[]>;
  /** Per query: D1 rows read. */
  rows: Map<string, number>;
  /** Queries not run (out of time). */
  skipped: string[];
  /** Queries the API refused, with the first error (and what the Worker logged). */
  errors: Map<string, string>;
}

/** A pass as results.json lists it: per query, its times and rows read. */
export function passDetails(pass: Pass): Record<string, unknown> {
  return Object.fromEntries(
    DASHBOARD_QUERIES.map(({ name }) => [
      name,
      {
        ms: pass.times.get(name)?.map((t) => Math.round(t * 10) / 10) ?? null,
        rowsRead: pass.rows.get(name) ?? null,
        ...(pass.errors.has(name) ? { error: pass.errors.get(name) } : {}),
        ...(pass.skipped.includes(name) ? { skipped: true } : {}),
      },
    ]),
  );
}

/**
 * Run every dashboard query `repeats` times. Through `tally` the time is the client's; through
 * `meter` (raw passes, once each) it is the Worker's own time, since the meter may re-run small
 * statements afterwards to count their rows. Each query's rows read come from one meter run.
 * A pass is cut short, query by query, when the time left (less `reserveMs` for what follows)
 * cannot cover the next query: estimated from the same query at the smaller size, else from the
 * slowest query so far.
 */
export async function runPass(
  stack: Stack,
  project: BenchProject,
  range: string[],
  options: {
    repeats: number;
    via: 'tally' | 'meter';
    label: string;
    budget: Budget;
    reserveMs: number;
    smaller: { pass: Pass; factor: number } | null;
  },
): Promise<Pass> {
  const { repeats, via, label, budget, reserveMs, smaller } = options;
  const pass: Pass = { times: new Map(), rows: new Map(), skipped: [], errors: new Map() };
  let done = 0;
  const stop = status('queries', () => `${label}: ${done}/${DASHBOARD_QUERIES.length} queries`);
  try {
    for (const { name, query } of DASHBOARD_QUERIES) {
      const body = { project: project.id, date_range: range, ...query };
      const atSmaller = smaller?.pass.times.get(name)?.[0];
      const slowest = Math.max(0, ...[...pass.times.values()].flat());
      const estimate = smaller && atSmaller !== undefined ? atSmaller * smaller.factor * 1.2 : slowest * (repeats + 1);
      if (!budget.allows(estimate, reserveMs)) {
        pass.skipped.push(name);
        done++;
        continue;
      }
      const logged = stack.problems.length;
      try {
        const metered = await postQuery(stack.meterUrl, project.readKey, body);
        pass.rows.set(name, metered.rowsRead ?? 0);
        const times: number[] = [];
        if (via === 'meter') times.push(metered.handlerMs ?? metered.ms);
        else for (let i = 0; i < repeats; i++) times.push((await postQuery(stack.tallyUrl, project.readKey, body)).ms);
        pass.times.set(name, times);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const why = stack.problems.slice(logged).join(' | ');
        pass.errors.set(name, `${message}${why ? ` — ${why}` : ''}`.slice(0, 500));
      }
      done++;
    }
  } finally {
    stop();
  }
  const all = [...pass.times.values()].flat().sort((a, b) => a - b);
  const worst = [...pass.rows].sort(([, a], [, b]) => b - a)[0];
  log(
    'queries',
    `${label}: p50 ${percentile(all, 50)?.toFixed(1)} ms, p95 ${percentile(all, 95)?.toFixed(1)} ms, most rows read ${worst ? `${worst[1].toLocaleString('en-US')} (${worst[0]})` : 'n/a'}` +
      (pass.skipped.length ? ` (${pass.skipped.length} queries skipped for time)` : '') +
      (pass.errors.size ? ` (${pass.errors.size} failed: ${[...pass.errors.values()][0]})` : ''),
  );
  return pass;
}

/** What rolling up did: marked hours before and after, cron runs, wall time. */
export interface Rollup {
  ms: number;
  runs: number;
  total: number;
  left: number;
  failure?: string;
}

/** Run the cron until no closed day is marked, or it stops making progress, or time runs out. */
export async function rollUpEverything(
  stack: Stack,
  projectId: string,
  events: number,
  label: string,
  budget: Budget,
): Promise<Rollup> {
  const db = await stack.d1();
  const todayHour = Math.floor(Date.now() / DAY_MS) * 24;
  const marked = async () =>
    Number(
      (
        await db
          .prepare('SELECT COUNT(*) AS n FROM rollup_dirty WHERE project_id = ? AND hour < ?')
          .bind(projectId, todayHour)
          .all<{ n: number }>()
      ).results[0]?.n ?? 0,
    );
  const started = performance.now();
  let left = await marked();
  const total = left;
  let runs = 0;
  let stalled = 0;
  let failure: string | undefined;
  const stop = status(
    'queries',
    () => `${label}: cron run ${runs + 1}, ${total - left}/${total} marked hours rolled up`,
  );
  try {
    // At least one run, however late: without it the rollup pass would scan raw events again.
    while (left > 0 && stalled < 3 && (runs === 0 || budget.remaining() > 5_000)) {
      const problems = stack.problems.length;
      let outcome: string;
      try {
        outcome = await stack.scheduled(Date.now());
      } catch (error) {
        // The run may have done its work even so: the marks left decide, and the loop tries again.
        const why = error instanceof Error ? `${error.message} (${String(error.cause ?? '')})` : String(error);
        log('queries', `${label}: dispatching the cron failed: ${why}; workerd CPU ${stack.workerdCpuMs()} ms`);
        outcome = `dispatch failed: ${why}`;
      }
      runs++;
      // The last failure is kept; it is reported only if marks are left in the end.
      if (outcome !== 'ok') failure = stack.problems.slice(problems).join(' | ') || `cron outcome ${outcome}`;
      const now = await marked();
      stalled = now < left ? 0 : stalled + 1;
      left = now;
    }
  } finally {
    stop();
  }
  const ms = performance.now() - started;
  log(
    'queries',
    `${label}: cron rolled up ${total - left}/${total} marked hours in ${runs} runs, ${(ms / 1000).toFixed(1)} s` +
      ` (${Math.round((events / ms) * 1000).toLocaleString('en-US')} events/s)${left && failure ? `; failed: ${failure}` : ''}`,
  );
  return { ms, runs, left, total, ...(left && failure ? { failure } : {}) };
}
