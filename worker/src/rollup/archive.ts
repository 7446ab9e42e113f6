/**
 * The archive job (run by `cron.ts`): each project's closed local days that ended more than its
 * hot window (`archive_after_days`, at least {@link MIN_ARCHIVE_AFTER_DAYS}) ago move from D1 to
 * R2, oldest first, through the store's three steps (`store/archive.ts`: write, verify and record,
 * delete), under the project's lease so that overlapping runs never work on one project at once.
 * Bounded per run by rows and wall time; a run that stops anywhere leaves each day either still in
 * D1, or recorded with its rows still in D1 (the next run finishes deleting them), or done. A day
 * too big for one object is skipped: it stays in D1 and the later days go on. A late event on an
 * archived day is merged into its object and the day rolled up again. One project's failure (an
 * R2 error) is logged and the others carry on. Opt-in: only projects with `archive_hot_days` set.
 */
import { MIN_ARCHIVE_AFTER_DAYS } from '../db/schema.ts';
import { addDays, firstInstantAt, formatDate, type LocalDate, localDate, parseDate } from '../shared/calendar.ts';
import {
  type ArchiveLease,
  type ArchivePool,
  type ArchiveProject,
  ArchiveRefused,
  archivedDay,
  bounds,
  bumpVersionsStatement,
  claimArchiveLease,
  CONTROL_DATABASE,
  commitDayArchive,
  DayTooBig,
  dayReady,
  deleteArchivedRows,
  poolDatabase,
  poolNames,
  type ProjectDatabases,
  releaseArchiveLease,
  rememberRefusal,
  skipTooBigDay,
  writeDayArchive,
} from '../store/index.ts';
import { goalsOf } from './goal-rollups.ts';
import { deleteDayHoursStatements } from './hours.ts';
import { replaceDayStatements } from './rollups.ts';

const DAY_MS = 86_400_000;
/** A merge refused as too big is not read again for this long. */
const RETRY_TOO_BIG_MS = DAY_MS;
/** Projects read per page (keyset paging, as the retention purge does). */
const PAGE_SIZE = 500;

/** What one archive run did. */
export interface ArchiveResult {
  /** Days written and recorded (merges of late events included). */
  days: number;
  /** Event rows deleted from D1 after their object was verified. */
  deleted: number;
  /**
   * Days too big for one object (`ARCHIVE_MAX_ROWS`), left in D1 (`archive_skipped`) with
   * `raw_from` moved past them, so that the project's later days are archived: logged.
   */
  skipped: number;
  /** Days the archive refused (a missing or damaged object, a merge too big): logged, kept in D1. */
  refused: number;
  /**
   * Projects whose next day is not ready to go (rolled up with an older catalog, or an hour of it
   * still marked) and whose later days wait behind it: logged.
   */
  waiting: number;
  /** Projects whose run failed otherwise (an R2 or D1 error): logged; the others went on. */
  failed: number;
  /** The budget ran out: more may be waiting for the next run. */
  exhausted: boolean;
}

/** A project with events older than its hot window. */
interface Candidate extends ArchiveProject {
  hotDays: number;
  rawFrom: number | null;
  oldest: number;
  /** Events before this instant are past retention (the purge's); 0 without retention. */
  expiredBefore: number;
  currency: string;
  refusedDay: string | null;
  retryAt: number | null;
}

/**
 * One page of the projects of one pool database that archive (an owner set a hot window: the
 * archive is opt-in), from the control database: their settings. Projects being moved before their
 * switch are left out (their rows hold still while they are copied: `store/move.ts`).
 */
const PAGE_SQL = `SELECT id, COALESCE(zones, timezone) AS calendar, currency,
  MAX(archive_hot_days, ${MIN_ARCHIVE_AFTER_DAYS}) AS hotDays,
  CASE WHEN retention_days > 0 THEN ?1 - retention_days * ${DAY_MS} ELSE 0 END AS expiredBefore
FROM projects
WHERE database = ?3 AND archive_hot_days > 0 AND id > ?2
  AND id NOT IN (SELECT project_id FROM project_moves WHERE step <> 'clean')
ORDER BY id LIMIT ${PAGE_SIZE}`;

/**
 * The same page's archive state, from the pool database (`?1`: `[id, expiredBefore]` pairs): each
 * project's `raw_from`, refusal memory and oldest event not yet past retention (a seek on
 * `events (project_id, ts)` per project). Events past retention are the purge's, not the archive's.
 */
const STATE_SQL = `SELECT p.value ->> 0 AS id, s.raw_from AS rawFrom, r.refused_day AS refusedDay, r.retry_at AS retryAt,
  (SELECT MIN(e.ts) FROM events e WHERE e.project_id = p.value ->> 0 AND e.ts >= p.value ->> 1) AS oldest
FROM json_each(?1) p LEFT JOIN rollup_state s ON s.project_id = p.value ->> 0
  LEFT JOIN archive_runs r ON r.project_id = p.value ->> 0`;

/** One page of candidates: settings from the control database, state from the pool database. */
async function candidates(
  d1: D1Database,
  pool: ArchivePool,
  now: number,
  after: string,
): Promise<{ page: (Candidate & { oldest: number | null })[]; last: string | null; full: boolean }> {
  const { results: settings } = await pool.control
    .prepare(PAGE_SQL)
    .bind(now, after, pool.database)
    .all<Omit<Candidate, 'rawFrom' | 'oldest' | 'refusedDay' | 'retryAt'>>();
  const last = settings[settings.length - 1]?.id ?? null;
  if (!settings.length) return { page: [], last, full: false };
  const { results: states } = await d1
    .prepare(STATE_SQL)
    .bind(JSON.stringify(settings.map((project) => [project.id, project.expiredBefore])))
    .all<{
      id: string;
      rawFrom: number | null;
      refusedDay: string | null;
      retryAt: number | null;
      oldest: number | null;
    }>();
  const stateOf = new Map(states.map((state) => [state.id, state]));
  const page = settings.map((project) => {
    const state = stateOf.get(project.id);
    return {
      ...project,
      rawFrom: state?.rawFrom ?? null,
      refusedDay: state?.refusedDay ?? null,
      retryAt: state?.retryAt ?? null,
      oldest: state?.oldest ?? null,
    };
  });
  return { page: page as (Candidate & { oldest: number | null })[], last, full: settings.length === PAGE_SIZE };
}

/** The first instant of the first local day that starts at or after `rawFrom` (0 without one). */
function firstCompleteInstant(rawFrom: number | null, calendar: string): number {
  if (rawFrom === null) return 0;
  const day = localDate(rawFrom, calendar);
  const start = firstInstantAt(day, calendar);
  return start >= rawFrom ? start : firstInstantAt(addDays(day, 1), calendar);
}

/**
 * Archive the days past every project's hot window, within `budget` (rows written plus rows
 * deleted, and wall time). Idempotent: a day already archived costs a record read, a day whose
 * rows were deleted is no longer found. `d1` is one pool database; `pool` says which and where its
 * projects' settings and goals are (by default, `d1` is the control database and `DB`):
 * the archive's tables are data plane, beside the events and `raw_from` they commit with.
 *
 * @example
 * ```ts
 * const { days, exhausted } = await archiveOldDays(env.DB, env.ARCHIVE, scheduledTime);
 * ```
 */
export async function archiveOldDays(
  d1: D1Database,
  bucket: R2Bucket,
  now: number,
  budget: { rows: number; ms: number } = { rows: 100_000, ms: 15_000 },
  pool: ArchivePool = { control: d1, database: CONTROL_DATABASE },
): Promise<ArchiveResult> {
  const deadline = Date.now() + budget.ms;
  const result: ArchiveResult = {
    days: 0,
    deleted: 0,
    skipped: 0,
    refused: 0,
    waiting: 0,
    failed: 0,
    exhausted: false,
  };
  let spent = 0;
  let after = '';
  for (;;) {
    const { page, last, full } = await candidates(d1, pool, now, after);
    for (const project of page) {
      if (project.oldest === null || project.oldest >= now - project.hotDays * DAY_MS) continue;
      if (spent >= budget.rows || Date.now() >= deadline) {
        result.exhausted = true;
        return result;
      }
      const lease = await claimArchiveLease(d1, project.id, pool.control);
      if (!lease) continue; // another run is archiving it
      try {
        spent += await archiveProject(d1, pool.control, bucket, project, lease, now, result, () =>
          spent >= budget.rows || Date.now() >= deadline ? 0 : budget.rows - spent,
        );
      } catch (error) {
        console.error(`archive: ${project.id} failed, kept in D1: ${error instanceof Error ? error.message : error}`);
        result.failed += 1;
      } finally {
        await releaseArchiveLease(d1, lease).catch(() => {});
      }
    }
    if (!last || !full) return result;
    after = last;
  }
}

/**
 * {@link archiveOldDays} in every database of the pool, each with an equal share of the budget (a
 * backlog in one cannot starve the others): the cron's step.
 */
export async function archivePool(
  env: Env,
  now: number,
  budget: { rows: number; ms: number } = { rows: 100_000, ms: 15_000 },
): Promise<ArchiveResult> {
  const names = poolNames(env);
  const share = { rows: Math.ceil(budget.rows / names.length), ms: budget.ms / names.length };
  const total: ArchiveResult = { days: 0, deleted: 0, skipped: 0, refused: 0, waiting: 0, failed: 0, exhausted: false };
  for (const name of names) {
    const pool = { control: env.DB, database: name };
    const run = await archiveOldDays(poolDatabase(env, name), env.ARCHIVE, now, share, pool);
    total.days += run.days;
    total.deleted += run.deleted;
    total.skipped += run.skipped;
    total.refused += run.refused;
    total.waiting += run.waiting;
    total.failed += run.failed;
    total.exhausted ||= run.exhausted;
  }
  return total;
}

/** Where one project's run is: its first complete instant moves as days are skipped. */
interface ProjectRun {
  project: Candidate;
  /** The control database: the project's goals and funnels, for a merge's roll-up. */
  control: D1Database;
  lease: ArchiveLease;
  now: number;
  completeFrom: number;
  result: ArchiveResult;
  /** Rows written and deleted so far. */
  spent: number;
}

/**
 * One project's days, oldest first, until one cannot be archived yet (so `raw_from` only ever
 * passes archived or skipped days) or the budget is spent. Returns the rows it wrote and deleted.
 */
async function archiveProject(
  d1: D1Database,
  control: D1Database,
  bucket: R2Bucket,
  project: Candidate,
  lease: ArchiveLease,
  now: number,
  result: ArchiveResult,
  left: () => number,
): Promise<number> {
  const run: ProjectRun = {
    project,
    control,
    lease,
    now,
    completeFrom: firstCompleteInstant(project.rawFrom, project.calendar),
    result,
    spent: 0,
  };
  const hotFrom = now - project.hotDays * DAY_MS;
  let at: number | null = project.oldest;
  while (at !== null && left() - run.spent > 0) {
    const date = localDate(at, project.calendar);
    const end = firstInstantAt(addDays(date, 1), project.calendar);
    if (end > hotFrom) break;
    if ((await archiveDay(d1, bucket, run, formatDate(date))) === 'stop') break;
    at = await d1
      .prepare('SELECT MIN(ts) AS ts FROM events WHERE project_id = ? AND ts >= ?')
      .bind(project.id, end)
      .first<number | null>('ts');
  }
  return run.spent;
}

/**
 * One day of a project's run: archive it (a first archive, or a merge of late events, rolled up
 * again before it is recorded), skip it if it is too big for one object, or leave it: 'stop' when
 * the project's later days must wait behind it, 'next' otherwise.
 */
async function archiveDay(d1: D1Database, bucket: R2Bucket, run: ProjectRun, day: string): Promise<'next' | 'stop'> {
  const { project, lease, now, result } = run;
  const { start } = bounds(day, project.calendar);
  const recorded = await archivedDay(d1, project.id, day);
  // A day the retention purge cut into and never archived or skipped: what is left of it is the
  // purge's; so is the day the cutoff falls in, archived or not.
  if ((!recorded && start < run.completeFrom) || start < project.expiredBefore) return 'next';
  // A merge refused as too big waits for its retry, unread.
  if (project.refusedDay === day && (project.retryAt ?? 0) > now) return 'next';
  if (!recorded && !(await dayReady(d1, project, day, run.completeFrom))) {
    console.warn(`archive: ${project.id} ${day} waits (not rolled up at this catalog, or an hour of it is marked)`);
    result.waiting += 1;
    return 'stop';
  }
  try {
    const archive = await writeDayArchive(d1, bucket, project, day, lease);
    if (archive) {
      // A merge put the object's rows back in D1 beside the late ones: the day is rolled up again
      // from all of them, so the stats API counts what the object holds.
      if (archive.base && archive.base.key !== archive.key)
        await rerollDay({ control: run.control, data: d1 }, project, day, now);
      if (!(await commitDayArchive(d1, bucket, project, day, archive, run.completeFrom, now, lease))) return 'stop';
      result.days += 1;
      run.spent += archive.rows;
    }
    const deleted = await deleteArchivedRows(d1, bucket, project, day);
    result.deleted += deleted;
    run.spent += deleted;
    return 'next';
  } catch (error) {
    if (!(error instanceof ArchiveRefused)) throw error;
    if (error instanceof DayTooBig && !recorded) return skip(d1, run, day, error);
    if (error instanceof DayTooBig) await rememberRefusal(d1, lease, day, now + RETRY_TOO_BIG_MS);
    console.error(`archive: ${project.id} ${day} kept in D1: ${error.message}`);
    result.refused += 1;
    // A recorded day is before `raw_from` already: the later days need not wait for it.
    return recorded ? 'next' : 'stop';
  }
}

/** A day too big for one object: left in D1 for good (until retention), and the run goes on past it. */
async function skip(d1: D1Database, run: ProjectRun, day: string, error: DayTooBig): Promise<'next' | 'stop'> {
  const { project } = run;
  if (!(await skipTooBigDay(d1, project, day, error.counted, run.completeFrom, run.now, run.lease))) return 'stop';
  console.warn(`archive: ${project.id} ${day} skipped, its raw events stay in D1: ${error.message}`);
  run.result.skipped += 1;
  run.completeFrom = firstInstantAt(addDays(parseDate(day) as LocalDate, 1), project.calendar);
  return 'next';
}

/**
 * Roll an archived day up again from its raw events, all in D1 for a merge (`writeDayArchive` put
 * the object's rows back): its rollups, goals and funnels replaced in one batch, the version
 * moved. NOTE: the day is before `raw_from`, so the rollup job never does this itself.
 */
async function rerollDay(dbs: ProjectDatabases, project: Candidate, label: string, now: number): Promise<void> {
  const d1 = dbs.data;
  const rollup = { id: project.id, timezone: project.calendar, currency: project.currency };
  const day = parseDate(label) as LocalDate;
  const goals = await goalsOf(dbs, rollup);
  await d1.batch([
    ...replaceDayStatements(d1, rollup, day, {
      list: goals.list,
      funnels: goals.funnels,
      dayPaths: await goals.dayPaths(day),
    }),
    ...deleteDayHoursStatements(d1, project.id, label),
    bumpVersionsStatement(d1, [project.id], now),
  ]);
}
