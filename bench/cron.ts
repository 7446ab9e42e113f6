/**
 * Running the real cron (Tally's scheduled handler) until it has nothing left to do: to roll up a
 * dataset's closed days, to catch up on the open day's hours, and to time a big day. It runs in
 * workerd through the meter Worker, which times its D1 calls (what the bench measures), or in Node
 * over the SQLite file (bench/d1-sqlite.ts: twice as fast, for building cached rollups).
 *
 * "Nothing left" is a run that writes no row: read from D1's own counts, not from the rollup
 * tables, so the loop holds whatever the rollup job keeps where (days, hours, marks).
 */
import { runScheduled } from '../worker/src/cron.ts';
import { localD1 } from './d1-sqlite.ts';
import { type Budget, log, status } from './progress.ts';
import type { CronRun, D1Like, Stack } from './stack.ts';

/** A place the cron can run, and a count of the marked hours it works from (to see progress). */
export interface CronRunner {
  run(scheduledTime: number): Promise<CronRun>;
  marked(): Promise<number>;
}

/** What a series of cron runs did. */
export interface CronWork {
  runs: number;
  /** Sum of the runs' wall times. */
  ms: number;
  rowsWritten: number;
  /** The longest single D1 call of any run, and the start of its SQL (in workerd only). */
  longestMs: number;
  longestSql: string;
  /** Why the loop stopped before the cron went idle (out of time, stalled), if it did. */
  unfinished?: string;
  /** The last error a run reported, if any. */
  failure?: string;
}

/**
 * Runs that write the same number of rows while the marked hours stay as many: the cron redoing
 * the same work every tick, not progress (a day rolls up the same rows as the day before it, but
 * clears its marks).
 */
const SAME_WORK_RUNS = 3;
/** Runs failing in a row before the loop gives up (one failure may be a day a later run finishes). */
const FAILED_RUNS = 3;

async function markedHours(db: D1Like): Promise<number> {
  const { results } = await db.prepare('SELECT COUNT(*) AS n FROM rollup_dirty').all<{ n: number }>();
  return Number(results[0]?.n ?? 0);
}

/** The cron of a running stack, through the meter Worker; a failure says what the Worker logged. */
export function stackCron(stack: Stack): CronRunner {
  return {
    async run(scheduledTime) {
      const logged = stack.problems.length;
      const run = await stack.cron(scheduledTime);
      const outcome = run.outcome === 'ok' ? 'ok' : [run.outcome, ...stack.problems.slice(logged)].join(' | ');
      return { ...run, outcome };
    },
    marked: async () => markedHours(await stack.d1()),
  };
}

/**
 * The cron's own code in Node over a stopped stack's D1 file. Its ProjectDO is not there: salts
 * are asked of it in the first hour of a UTC day only, and are not the bench's business. Nor is
 * R2: the archive is opt-in, and the bench's projects do not opt in.
 */
export function localCron(file: string): CronRunner & { d1: D1Like; close(): void } {
  const local = localD1(file);
  const salts = { rotateSalts: async () => 0 };
  // The store-health registry is told of D1 faults and recoveries; here there is none to tell.
  const health = { report: async () => {}, recovered: async () => {}, faults: async () => [] };
  const env = {
    DB: local.d1,
    PROJECT: { idFromName: () => ({}), get: () => salts },
    STORE_HEALTH: { idFromName: () => ({}), get: () => health },
  };
  return {
    async run(scheduledTime) {
      const written = local.written();
      const started = performance.now();
      let outcome = 'ok';
      try {
        await runScheduled(env as unknown as Parameters<typeof runScheduled>[0], scheduledTime);
      } catch (error) {
        outcome = error instanceof Error ? error.message : String(error);
      }
      const rowsWritten = local.written() - written;
      const ms = performance.now() - started;
      return { ms, outcome, rowsRead: 0, rowsWritten, statements: 0, longestMs: 0, longestSql: '' };
    },
    marked: () => markedHours(local.d1),
    d1: local.d1,
    close: local.close,
  };
}

/** No work yet: what {@link cronUntilIdle} starts from, and what {@link addWork} adds to. */
export function noWork(): CronWork {
  return { runs: 0, ms: 0, rowsWritten: 0, longestMs: 0, longestSql: '' };
}

/** Two series of runs as one: summed, with the longer call and the last trouble. */
export function addWork(a: CronWork, b: CronWork): CronWork {
  const longest = b.longestMs > a.longestMs ? b : a;
  const unfinished = b.unfinished ?? a.unfinished;
  const failure = b.failure ?? a.failure;
  return {
    runs: a.runs + b.runs,
    ms: a.ms + b.ms,
    rowsWritten: a.rowsWritten + b.rowsWritten,
    longestMs: longest.longestMs,
    longestSql: longest.longestSql,
    ...(unfinished ? { unfinished } : {}),
    ...(failure ? { failure } : {}),
  };
}

/**
 * Run the cron until a run writes nothing, or repeats the same work, or (with a budget) time runs
 * out after at least one run. Each run is scheduled `at` a moment (one of the past replays what
 * the cron did then), now by default; `quiet` leaves the summary line to the caller.
 *
 * @example
 * ```ts
 * const work = await cronUntilIdle(stackCron(stack), 'today', { budget });
 * ```
 */
export async function cronUntilIdle(
  cron: CronRunner,
  label: string,
  options: { budget?: Budget; at?: number; quiet?: boolean } = {},
): Promise<CronWork> {
  const { budget, at, quiet } = options;
  const work = noWork();
  let same = 0;
  let failed = 0;
  let previous = { rows: -1, marked: await cron.marked() };
  const stop = status(
    'cron',
    () => `${label}: cron run ${work.runs + 1}, ${work.rowsWritten.toLocaleString('en-US')} rows written`,
  );
  try {
    for (;;) {
      if (budget && work.runs > 0 && budget.remaining() < 5_000) {
        work.unfinished = 'out of time';
        break;
      }
      const run = await cron.run(at ?? Date.now());
      work.runs++;
      work.ms += run.ms;
      work.rowsWritten += run.rowsWritten;
      if (run.longestMs > work.longestMs) {
        work.longestMs = run.longestMs;
        work.longestSql = run.longestSql;
      }
      failed = run.outcome === 'ok' ? 0 : failed + 1;
      if (failed) work.failure = run.outcome.slice(0, 500);
      if (failed >= FAILED_RUNS) {
        work.unfinished = `${FAILED_RUNS} runs in a row failed`;
        break;
      }
      if (run.rowsWritten === 0) break;
      const now = { rows: run.rowsWritten, marked: await cron.marked() };
      same = now.rows === previous.rows && now.marked === previous.marked ? same + 1 : 0;
      previous = now;
      if (same >= SAME_WORK_RUNS - 1) {
        work.unfinished = `the same work ${SAME_WORK_RUNS} runs in a row`;
        break;
      }
    }
  } finally {
    stop();
  }
  if (!quiet) logWork(label, work);
  return work;
}

/** One line of what a series of cron runs did. */
export function logWork(label: string, work: CronWork): void {
  log(
    'cron',
    `${label}: ${work.runs} cron runs, ${(work.ms / 1000).toFixed(1)} s, ${work.rowsWritten.toLocaleString('en-US')} rows written` +
      (work.longestMs ? `, longest D1 call ${(work.longestMs / 1000).toFixed(1)} s` : '') +
      (work.unfinished ? ` (${work.unfinished})` : '') +
      (work.failure ? `; failed: ${work.failure}` : ''),
  );
}
