/**
 * The query benchmark's project: `events` over the last 30 days — 29 closed days, rolled up by the
 * real cron and cached (bench/query-cache.ts), and the day in progress, written afresh on every
 * run with a day's events up to now, its current hour holding an hour's share (`todaySpecs`) —
 * plus an empty project with the same goals and funnel, whose answers are the floor of the API
 * path (the reference of each query's time). The project's timezone is UTC.
 *
 * Closed days of one size hold the same visits (`writeDays`): the cron rolls up one weekday and one
 * weekend day (~50 s each at 10M here), and every other day takes their rows moved to its date.
 * A cached dataset follows the calendar: a run on a later day adds the days closed since, and days
 * older than 30 stay behind, outside every range the bench asks. After a week of that it is built
 * afresh, so it stays near its size.
 */
import { createBenchProject, createFunnel, createGoals, signUp } from './api.ts';
import { type CronWork, cronUntilIdle, localCron } from './cron.ts';
import { copyRolledDay, type DaySpec, markEventHours, openSqlite, sameDay, sqliteBytes, writeDays } from './dataset.ts';
import { log } from './progress.ts';
import {
  type CacheEntry,
  cached,
  cacheKey,
  copyEntry,
  discard,
  EVENT_SOURCES,
  updateMeta,
  WRITER_SOURCES,
} from './query-cache.ts';
import { formatSize } from './report.ts';
import { DAY_MS } from './rows.ts';
import { d1File, newSecrets, type Secrets, startStack } from './stack.ts';

const DAYS = 30;
const HOUR_MS = 3_600_000;
/** Days a cached dataset is carried forward before it is built afresh. */
const CARRIED_DAYS = 7;

/** The benchmark project's goals, matching the generated traffic (`events.ts`): two of each kind. */
const BENCH_GOALS: readonly Record<string, string>[] = [
  { name: 'Checkout', kind: 'pageview', path: '/checkout' },
  { name: 'Read the blog', kind: 'pageview', path: '/blog/**' },
  { name: 'Signup (pro)', kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
  { name: 'Purchase', kind: 'event', eventName: 'purchase' },
];

/** A funnel through the shop, as a site would define one (the dashboard shows the first). */
const BENCH_FUNNEL: { name: string; steps: readonly Record<string, string>[] } = {
  name: 'Pricing to purchase',
  steps: [
    { kind: 'pageview', path: '/pricing' },
    { kind: 'pageview', path: '/checkout' },
    { kind: 'event', eventName: 'purchase' },
  ],
};

/** A project the benchmark asks questions of. */
export interface QueryProject {
  id: string;
  readKey: string;
  funnelId: string;
}

/** What a cached dataset holds, as its meta.json records it. */
export interface DatasetMeta {
  /** Events of an average day (a 30th of the dataset); weekdays have more, weekends fewer. */
  dayEvents: number;
  /** The UTC day (ms) its closed days end before; a run of that day adds today. */
  until: number;
  /** The UTC day it was built on. */
  builtOn: number;
  project: QueryProject;
  empty: QueryProject;
  secrets: Secrets;
  bytesPerEvent: number;
  rollup: { ms: number; runs: number; rowsPerDay: number; kbPerDay: number };
  buildMs: number;
}

/** A closed day of the dataset: weekdays busier than weekends (the shares average 1 over a week). */
function closedDay(start: number, dayEvents: number): DaySpec {
  const weekend = [0, 6].includes(new Date(start).getUTCDay());
  return { start, events: Math.round(dayEvents * (weekend ? 0.8 : 1.08)) };
}

async function createProject(origin: string, token: string, name: string): Promise<QueryProject> {
  const project = await createBenchProject(origin, token, name);
  await createGoals(origin, token, project.id, BENCH_GOALS);
  const funnelId = await createFunnel(origin, token, project.id, BENCH_FUNNEL);
  return { id: project.id, readKey: project.readKey, funnelId };
}

/**
 * Write `days`, and roll them up: each day of a size not rolled up yet (in `rolled`, the closed days
 * the file already holds, or earlier in `days`) with the cron's code (in Node: twice as fast as
 * workerd for the same statements), its hours marked as the consumer would; each other day holds
 * the same visits as a rolled day (`sameDay`), whose rows are moved to its date. Fails when the
 * cron leaves any day marked (a dataset with closed days read raw would measure raw reads as if
 * they were rollups').
 */
async function addClosedDays(
  dir: string,
  projectId: string,
  days: readonly DaySpec[],
  rolled: readonly DaySpec[] = [],
): Promise<{ events: number; work: CronWork; rollupRows: number; eventBytes: number; rollupBytes: number }> {
  const file = d1File(dir);
  const first = days[0]?.start ?? 0;
  const end = (days.at(-1)?.start ?? 0) + DAY_MS;
  const before = sqliteBytes(file);
  const written = writeDays(file, projectId, days, first / DAY_MS);
  const sources: DaySpec[] = [...rolled];
  const copies = new Map<DaySpec, DaySpec[]>();
  for (const day of days) {
    const source = sources.find((other) => sameDay(other, day));
    if (source) copies.set(source, [...(copies.get(source) ?? []), day]);
    else {
      sources.push(day);
      markEventHours(file, projectId, day.start, day.start + DAY_MS);
    }
  }
  const eventBytes = sqliteBytes(file) - before;
  log(
    'queries',
    `${formatSize(written.events)} events of ${days.length} closed days written in ${(written.ms / 1000).toFixed(1)} s`,
  );
  const cron = localCron(file);
  let work: CronWork;
  let marked: number;
  try {
    const rolledUp = days.length - [...copies.values()].flat().length;
    work = await cronUntilIdle(cron, `rolling up ${rolledUp} of ${days.length} days`);
    const { results } = await cron.d1
      .prepare('SELECT COUNT(*) AS n FROM rollup_dirty WHERE project_id = ? AND hour < ?')
      .bind(projectId, end / HOUR_MS)
      .all<{ n: number }>();
    marked = Number(results[0]?.n ?? 0);
  } finally {
    cron.close();
  }
  if (marked) {
    throw new Error(
      `the cron left ${marked} hours of closed days marked: ${work.failure ?? work.unfinished ?? 'stalled'}`,
    );
  }
  let copied = 0;
  for (const [source, targets] of copies) {
    copied += copyRolledDay(
      file,
      projectId,
      source.start,
      targets.map((day) => day.start),
    );
  }
  if (copies.size)
    log('queries', `${copied.toLocaleString('en-US')} rolled-up rows moved to the days of the same visits`);
  const rollupRows = countRollups(file, projectId, new Date(first).toISOString().slice(0, 10));
  const rollupBytes = sqliteBytes(file) - before - eventBytes;
  return { events: written.events, work, rollupRows, eventBytes, rollupBytes };
}

/** The project's daily rollup rows from `day` (YYYY-MM-DD) on. */
function countRollups(file: string, projectId: string, day: string): number {
  const db = openSqlite(file);
  try {
    const row = db.prepare('SELECT COUNT(*) AS n FROM rollups WHERE project_id = ? AND day >= ?').get(projectId, day);
    return Number((row as { n: number } | undefined)?.n ?? 0);
  } finally {
    db.close();
  }
}

async function build(dir: string, bundle: string, events: number, today: number): Promise<DatasetMeta> {
  const started = performance.now();
  const secrets = newSecrets();
  const stack = await startStack({ bundle, persistDir: dir, migrate: true, secrets });
  let project: QueryProject;
  let empty: QueryProject;
  try {
    const { token } = await signUp(stack.tallyUrl);
    project = await createProject(stack.tallyUrl, token, 'queries');
    empty = await createProject(stack.tallyUrl, token, 'empty (reference)');
  } finally {
    await stack.stop();
  }
  const dayEvents = Math.round(events / DAYS);
  const days = Array.from({ length: DAYS - 1 }, (_, i) => closedDay(today - (DAYS - 1 - i) * DAY_MS, dayEvents));
  const added = await addClosedDays(dir, project.id, days);
  return {
    dayEvents,
    until: today,
    builtOn: today,
    project,
    empty,
    secrets,
    bytesPerEvent: added.eventBytes / added.events,
    rollup: {
      ms: added.work.ms,
      runs: added.work.runs,
      rowsPerDay: added.rollupRows / days.length,
      kbPerDay: added.rollupBytes / days.length / 1024,
    },
    buildMs: performance.now() - started,
  };
}

/**
 * The day in progress, `now`: a day's events, as the view of today asks (~330k at 10M),
 * however early the run — but its current hour holds what an hour of such a day holds by now, and
 * the hours before it the rest. Were the whole day's events spread up to now, a run at 01:20 would
 * put 250k events in its current hour, a site whose day's traffic came in 80 minutes: what a view
 * of today reads raw is its current hour, so that would measure a traffic no site has. At 00:xx
 * there are no hours before it, and today holds the current hour's share alone.
 */
function todaySpecs(today: number, now: number, dayEvents: number): DaySpec[] {
  const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const current = Math.max(1, Math.round((dayEvents / 24) * ((now - hour) / HOUR_MS)));
  const earlier: DaySpec[] = hour > today ? [{ start: today, events: dayEvents - current, span: hour - today }] : [];
  return [...earlier, { start: hour, events: current, span: now - hour }];
}

/**
 * This run's copy of the cached dataset of `events` (built when missing: minutes at 10M, reported
 * by `buildMs`; carried forward to today when older), with today's events added up to now and
 * marked for the cron as the consumer marks what it writes. `setupMs` is the one-time work: the
 * build or the catch-up.
 */
export async function prepareDataset(
  bundle: string,
  events: number,
  persistDir: string,
): Promise<{ entry: CacheEntry<DatasetMeta>; todayEvents: number; setupMs: number }> {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const key = cacheKey([...EVENT_SOURCES, ...WRITER_SOURCES, 'bench/query-data.ts'], [events]);
  const entry = await cached(
    `queries-${formatSize(events)}`,
    key,
    (dir) => {
      log('queries', `building the ${formatSize(events)}-event dataset once (later runs reuse it)`);
      return build(dir, bundle, events, today);
    },
    (meta) => meta.until <= today && today - meta.builtOn <= CARRIED_DAYS * DAY_MS,
  );
  let setupMs = entry.built ? entry.meta.buildMs : 0;
  if (entry.meta.until < today) {
    const started = performance.now();
    const days = Array.from({ length: (today - entry.meta.until) / DAY_MS }, (_, i) =>
      closedDay(entry.meta.until + i * DAY_MS, entry.meta.dayEvents),
    );
    try {
      // The closed days the file holds, rolled up: a new day of one of their sizes takes its rows.
      const held = Array.from({ length: DAYS - 1 }, (_, i) =>
        closedDay(entry.meta.until - (DAYS - 1 - i) * DAY_MS, entry.meta.dayEvents),
      );
      await addClosedDays(entry.dir, entry.meta.project.id, days, held);
    } catch (error) {
      discard(entry);
      throw error;
    }
    updateMeta(entry, { ...entry.meta, until: today });
    setupMs += performance.now() - started;
  }
  const copyStarted = performance.now();
  copyEntry(entry, persistDir);
  const copyMs = performance.now() - copyStarted;
  const now = Date.now();
  const file = d1File(persistDir);
  const written = writeDays(file, entry.meta.project.id, todaySpecs(today, now, entry.meta.dayEvents), today / DAY_MS);
  markEventHours(file, entry.meta.project.id, today, now + 1);
  log(
    'queries',
    `copied the cached dataset in ${(copyMs / 1000).toFixed(1)} s; ` +
      `today: ${formatSize(written.events)} events up to ${new Date(now).toISOString().slice(11, 16)} UTC (the current hour's share of a day) in ${(written.ms / 1000).toFixed(1)} s`,
  );
  return { entry, todayEvents: written.events, setupMs };
}
