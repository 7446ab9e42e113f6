/**
 * The archive job (run by `cron.ts`): each project's closed local days that ended more than its
 * hot window (`archive_after_days`, at least {@link MIN_ARCHIVE_AFTER_DAYS}) ago move from D1 to
 * R2, oldest first, through the store's three steps (`store/archive.ts`: write, verify and record,
 * delete), under the project's lease so that overlapping runs never work on one project at once.
 * Bounded per run by rows and wall time; a run that stops anywhere leaves each day either still in
 * D1, or recorded with its rows still in D1 (the next run finishes deleting them), or done. One
 * project's failure (an R2 error) is logged and the others carry on.
 */
import { MIN_ARCHIVE_AFTER_DAYS } from '../db/schema.ts';
import { addDays, firstInstantAt, formatDate, localDate } from '../shared/calendar.ts';
import {
  type ArchiveLease,
  type ArchiveProject,
  ArchiveRefused,
  archivedDay,
  claimArchiveLease,
  commitDayArchive,
  DayTooBig,
  dayReady,
  deleteArchivedRows,
  releaseArchiveLease,
  rememberRefusal,
  writeDayArchive,
} from '../store/index.ts';

const DAY_MS = 86_400_000;
/** A day refused as too big is not read again for this long. */
const RETRY_TOO_BIG_MS = DAY_MS;
/** Projects read per page (keyset paging, as the retention purge does). */
const PAGE_SIZE = 500;

/** What one archive run did. */
export interface ArchiveResult {
  /** Days written and recorded (merges of late events included). */
  days: number;
  /** Event rows deleted from D1 after their object was verified. */
  deleted: number;
  /** Days the archive refused (a missing or damaged object, a day too big): logged, kept in D1. */
  refused: number;
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
  refusedDay: string | null;
  retryAt: number | null;
}

/**
 * One page of projects that archive, each with its oldest event not yet past retention (a seek on
 * `events (project_id, ts)` per project). Events past retention are the purge's, not the archive's.
 */
const PAGE_SQL = `SELECT p.id, COALESCE(p.zones, p.timezone) AS calendar,
  MAX(p.archive_after_days, ${MIN_ARCHIVE_AFTER_DAYS}) AS hotDays, s.raw_from AS rawFrom,
  r.refused_day AS refusedDay, r.retry_at AS retryAt,
  (SELECT MIN(e.ts) FROM events e WHERE e.project_id = p.id
     AND e.ts >= CASE WHEN p.retention_days > 0 THEN ?1 - p.retention_days * ${DAY_MS} ELSE 0 END) AS oldest
FROM projects p LEFT JOIN rollup_state s ON s.project_id = p.id LEFT JOIN archive_runs r ON r.project_id = p.id
WHERE p.archive_after_days > 0 AND p.id > ?2 ORDER BY p.id LIMIT ${PAGE_SIZE}`;

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
 * rows were deleted is no longer found.
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
): Promise<ArchiveResult> {
  const deadline = Date.now() + budget.ms;
  const result: ArchiveResult = { days: 0, deleted: 0, refused: 0, failed: 0, exhausted: false };
  let spent = 0;
  let after = '';
  for (;;) {
    const { results: page } = await d1.prepare(PAGE_SQL).bind(now, after).all<Candidate & { oldest: number | null }>();
    for (const project of page) {
      if (project.oldest === null || project.oldest >= now - project.hotDays * DAY_MS) continue;
      if (spent >= budget.rows || Date.now() >= deadline) {
        result.exhausted = true;
        return result;
      }
      const lease = await claimArchiveLease(d1, project.id);
      if (!lease) continue; // another run is archiving it
      try {
        spent += await archiveProject(d1, bucket, project, lease, now, result, () =>
          spent >= budget.rows || Date.now() >= deadline ? 0 : budget.rows - spent,
        );
      } catch (error) {
        console.error(`archive: ${project.id} failed, kept in D1: ${error instanceof Error ? error.message : error}`);
        result.failed += 1;
      } finally {
        await releaseArchiveLease(d1, lease).catch(() => {});
      }
    }
    const end = page[page.length - 1];
    if (!end || page.length < PAGE_SIZE) return result;
    after = end.id;
  }
}

/**
 * One project's days, oldest first, until one cannot be archived yet (so `raw_from` only ever
 * passes archived days) or the budget is spent. Returns the rows it wrote and deleted.
 */
async function archiveProject(
  d1: D1Database,
  bucket: R2Bucket,
  project: Candidate,
  lease: ArchiveLease,
  now: number,
  result: ArchiveResult,
  left: () => number,
): Promise<number> {
  const completeFrom = firstCompleteInstant(project.rawFrom, project.calendar);
  const hotFrom = now - project.hotDays * DAY_MS;
  let spent = 0;
  let at: number | null = project.oldest;
  while (at !== null && left() - spent > 0) {
    const date = localDate(at, project.calendar);
    const day = formatDate(date);
    const end = firstInstantAt(addDays(date, 1), project.calendar);
    if (end > hotFrom) break;
    const recorded = await archivedDay(d1, project.id, day);
    // A day the retention purge cut into and never archived: what is left of it is the purge's.
    const mine = recorded !== null || firstInstantAt(date, project.calendar) >= completeFrom;
    if (mine) {
      // A day refused as too big waits for its retry, unread; the project's later days wait too.
      if (project.refusedDay === day && (project.retryAt ?? 0) > now) break;
      if (!recorded && !(await dayReady(d1, project, day, completeFrom))) break;
      try {
        const archive = await writeDayArchive(d1, bucket, project, day, lease);
        if (archive) {
          if (!(await commitDayArchive(d1, bucket, project, day, archive, completeFrom, now, lease))) break;
          result.days += 1;
          spent += archive.rows;
        }
        const deleted = await deleteArchivedRows(d1, bucket, project, day);
        result.deleted += deleted;
        spent += deleted;
      } catch (error) {
        if (!(error instanceof ArchiveRefused)) throw error;
        if (error instanceof DayTooBig) await rememberRefusal(d1, lease, day, now + RETRY_TOO_BIG_MS);
        console.error(`archive: ${project.id} ${day} kept in D1: ${error.message}`);
        result.refused += 1;
        break;
      }
    }
    at = await d1
      .prepare('SELECT MIN(ts) AS ts FROM events WHERE project_id = ? AND ts >= ?')
      .bind(project.id, end)
      .first<number | null>('ts');
  }
  return spent;
}
