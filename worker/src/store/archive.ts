/**
 * The R2 archive of old raw days (ARCHIVE_LAYOUT below): a day's raw events leave D1 only after
 * R2 holds them, read back and verified. Three steps, each safe to repeat and to interrupt:
 *
 * 1. {@link writeDayArchive}: the day's events (those in D1, plus the recorded object's if the day
 *    was archived before: late events are merged in) → one Parquet object at a key named by its
 *    checksum, so an object is never overwritten by other rows. Its key goes into
 *    `archive_pending` first, so that retention, deletion and the sweep find it if step 2 never
 *    comes. For a merge, the recorded object's rows are put back into D1 (they are in the day's
 *    rollups already), so that the job can roll the day up again from all its events before
 *    step 2 (`rollup/archive.ts`): the stats API then counts the late events the object holds.
 * 2. `commitDayArchive` (`archive-commit.ts`): the object is read back and checked (row count, checksum); then,
 *    in one batch, the day is recorded in `archived_days` and `raw_from` moves past it — only if
 *    the run still holds the project's lease (`archive-lease.ts`), the record still names the
 *    object the merge started from (compare-and-swap), and, for a first archive, the day is still
 *    rolled up at the current catalog, has no marked hour, and no earlier day with events still in
 *    D1 is complete (so `raw_from` passes only archived or purged days). A superseded object is
 *    then deleted.
 * 3. {@link deleteArchivedRows}: the recorded object is read back and checked again, and only the
 *    D1 rows whose ids it holds are deleted. A late event written since stays, for step 1 to merge.
 *
 * From step 2 on the day behaves like a day the retention purge cut into: never recomputed, never
 * read raw, answered from its rollups (ARCHITECTURE.md, "The store").
 */
import { dayBounds, type LocalDate, parseDate } from '../shared/calendar.ts';
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_SELECT,
  type ArchiveRow,
  byId,
  checksumOf,
  decodeParquet,
  encodeParquet,
  ID_INDEX,
  rowFromD1,
} from './archive-format.ts';
import { type ArchiveLease, holdsLease, leaseHeldSql, leaseRevoked } from './archive-lease.ts';

export const HOUR_MS = 3_600_000;
/**
 * Events one day's object may hold. NOTE: the day is built in memory, and a Worker has 128 MB:
 * measured in Node on realistic events (`bench/archive-memory.ts`), a merge of a 20,000-event day
 * (the old object decoded, the new rows, the merged list, the file, its read-back) peaks at
 * 41–66 MB above the baseline (≈ 21 MB live after collections); 50,000 peaked at 100–165 MB. A
 * bigger day is skipped (`skipTooBigDay`): its raw events stay in D1, and the project's later days
 * are archived all the same.
 */
export const ARCHIVE_MAX_ROWS = 20_000;
/** Rows restored to D1 per statement for a merge (one bound JSON array, under D1's 2 MB value limit). */
const RESTORE_CHUNK = 1_000;
/** Rows read from D1 per statement while building a day. */
const READ_PAGE = 5_000;
/** Ids per DELETE statement (one bound JSON array, far below D1's 2 MB value limit). */
const DELETE_CHUNK = 2_000;

/**
 * The object layout: `archive/<project id>/<YYYY-MM-DD>.<checksum, 16 hex>.parquet`, the day being
 * local to the project's calendar. One prefix per project, so a project's history is one `list`
 * away (and one DuckDB glob: `read_parquet('archive/<project id>/*.parquet')`). The checksum in
 * the name makes each key write-once: a merge writes a new object and `archived_days` names the
 * one that holds the day.
 */
export const ARCHIVE_LAYOUT = 'archive/<project id>/<YYYY-MM-DD>.<checksum16>.parquet';

/** Where a project's archive objects live. */
export function archivePrefix(projectId: string): string {
  return `archive/${projectId}/`;
}

/** The key of a project's object for a local day holding rows of `checksum`. */
export function archiveKey(projectId: string, day: string, checksum: string): string {
  return `${archivePrefix(projectId)}${day}.${checksum.slice(0, 16)}.parquet`;
}

/** A project as the archive needs it: its calendar (`COALESCE(zones, timezone)`) fixes its days. */
export interface ArchiveProject {
  id: string;
  calendar: string;
}

/** An object as written and, once committed, as recorded. */
export interface DayArchive {
  key: string;
  rows: number;
  checksum: string;
  bytes: number;
}

/** An object as step 1 wrote it: with the record it merged (null for a first archive). */
export interface WrittenDay extends DayArchive {
  base: DayArchive | null;
}

/** The archive cannot take a day now: the reason says why; nothing was deleted. */
export class ArchiveRefused extends Error {
  override name = 'ArchiveRefused';
}

/** A day with more events than one object may hold ({@link ARCHIVE_MAX_ROWS}). */
export class DayTooBig extends ArchiveRefused {
  override name = 'DayTooBig';
  /** The events counted, the count stopping one past the limit. */
  readonly counted: number;
  constructor(counted: number) {
    super(`more than ${ARCHIVE_MAX_ROWS} events in one day`);
    this.counted = counted;
  }
}

/** The instants [start, end) of a local day of a calendar. */
export function bounds(day: string, calendar: string): { start: number; end: number } {
  const date = parseDate(day);
  if (!date) throw new Error(`not a day: ${day}`);
  return dayBounds(date as LocalDate, calendar);
}

/** The recorded object of a project's day, if the day was archived. */
export async function archivedDay(d1: D1Database, projectId: string, day: string): Promise<DayArchive | null> {
  return d1
    .prepare('SELECT key, rows, checksum, bytes FROM archived_days WHERE project_id = ? AND day = ?')
    .bind(projectId, day)
    .first<DayArchive>();
}

/**
 * Read an object back and check it against what it should hold: it exists, decodes, has `rows`
 * distinct events and their checksum is `checksum`. Returns its rows (sorted by id); throws
 * {@link ArchiveRefused} otherwise.
 */
export async function verifyDayArchive(bucket: R2Bucket, archive: DayArchive): Promise<ArchiveRow[]> {
  const object = await bucket.get(archive.key);
  if (!object) throw new ArchiveRefused(`${archive.key}: missing`);
  let decoded: ArchiveRow[];
  try {
    decoded = await decodeParquet(await object.arrayBuffer());
  } catch (error) {
    throw new ArchiveRefused(`${archive.key}: unreadable (${error instanceof Error ? error.message : error})`);
  }
  const sorted = byId(decoded);
  if (decoded.length !== archive.rows || sorted.length !== archive.rows) {
    throw new ArchiveRefused(`${archive.key}: ${decoded.length} rows (${sorted.length} distinct), not ${archive.rows}`);
  }
  if (checksumOf(sorted) !== archive.checksum) throw new ArchiveRefused(`${archive.key}: checksum differs`);
  return sorted;
}

/**
 * How many of the day's events are in D1, counted no further than one past `limit`, so that a day
 * too big is refused for the price of one index range, before any row is read.
 */
async function countDay(d1: D1Database, projectId: string, start: number, end: number, limit: number) {
  const n = await d1
    .prepare('SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE project_id = ?1 AND ts >= ?2 AND ts < ?3 LIMIT ?4)')
    .bind(projectId, start, end, limit + 1)
    .first<number>('n');
  return n ?? 0;
}

/** The day's events still in D1, in canonical form (pages along `events (project_id, ts)`). */
async function dayRowsInD1(d1: D1Database, projectId: string, start: number, end: number): Promise<ArchiveRow[]> {
  const rows: ArchiveRow[] = [];
  let after = { ts: start - 1, id: '\uffff' };
  for (;;) {
    const { results } = await d1
      .prepare(
        `SELECT ${ARCHIVE_SELECT} FROM events WHERE project_id = ?1 AND ts < ?2 AND (ts > ?3 OR (ts = ?3 AND id > ?4))
         ORDER BY ts, id LIMIT ${READ_PAGE}`,
      )
      .bind(projectId, end, after.ts, after.id)
      .all<Record<string, unknown>>();
    for (const row of results) rows.push(rowFromD1(row));
    if (rows.length > ARCHIVE_MAX_ROWS) throw new DayTooBig(rows.length);
    const last = results[results.length - 1];
    if (!last || results.length < READ_PAGE) return rows;
    after = { ts: last.ts as number, id: last.id as string };
  }
}

/**
 * Step 1: write a day's object — the day's events in D1, merged with the object recorded for it
 * (a late event arrived after it was archived) — under `lease`. Its key is recorded in
 * `archive_pending` before the put; if the lease is gone after it (a deletion or reset fenced it,
 * or the claim expired), the object is deleted again (or left to the sweep, if another run may be
 * writing the same key) and the write refused.
 * For a merge, the recorded object's rows are then put back into D1 (see {@link restoreRows}); a
 * first archive changes nothing else in D1. Returns the object, or null when the day has no events anywhere.
 * Throws {@link ArchiveRefused} when the recorded object cannot be read back (nothing replaces
 * it: it may hold events D1 no longer has), and {@link DayTooBig} when the day is too big.
 */
export async function writeDayArchive(
  d1: D1Database,
  bucket: R2Bucket,
  project: ArchiveProject,
  day: string,
  lease: ArchiveLease,
): Promise<WrittenDay | null> {
  const { start, end } = bounds(day, project.calendar);
  const recorded = await archivedDay(d1, project.id, day);
  const kept = recorded ? await verifyDayArchive(bucket, recorded) : [];
  const waiting = await countDay(d1, project.id, start, end, ARCHIVE_MAX_ROWS);
  if (kept.length + waiting > ARCHIVE_MAX_ROWS) throw new DayTooBig(kept.length + waiting);
  const fresh = await dayRowsInD1(d1, project.id, start, end);
  const known = new Set(kept.map((row) => row[ID_INDEX]));
  if (recorded && fresh.every((row) => known.has(row[ID_INDEX]))) return { ...recorded, base: recorded };
  const rows = byId([...kept, ...fresh]);
  if (!rows.length) return null;
  if (rows.length > ARCHIVE_MAX_ROWS) throw new DayTooBig(rows.length);
  const checksum = checksumOf(rows);
  const file = encodeParquet(rows);
  const key = archiveKey(project.id, day, checksum);
  const { meta } = await d1
    .prepare(
      `INSERT INTO archive_pending (key, project_id, day, since) SELECT ?4, ?1, ?5, ?3 WHERE ${leaseHeldSql('?2', '?3')}
       ON CONFLICT (key) DO UPDATE SET since = excluded.since`,
    )
    .bind(project.id, lease.holder, Date.now(), key, day)
    .run();
  if (!meta.changes) throw new ArchiveRefused(`${key}: the lease on ${project.id} is gone`);
  // R2 checks the upload against this digest and refuses a corrupted body.
  const sha256 = await crypto.subtle.digest('SHA-256', file);
  await bucket.put(key, file, {
    sha256,
    customMetadata: { rows: String(rows.length), checksum },
    httpMetadata: { contentType: 'application/vnd.apache.parquet' },
  });
  if (!(await holdsLease(d1, lease))) {
    // Fenced or revoked (the project is being or was deleted or reset): nobody can record this
    // key, and the reset's listing may have come before the put, so it goes now.
    // Taken by another run after it expired: that run may be writing the same rows to the same
    // key, so the sweep deletes it later, under the lease — and the sweep may already have
    // deleted this key's pending row (and an object not yet there) while this write stalled, so
    // the row goes back in for it.
    if (await leaseRevoked(d1, project.id)) await dropUnrecorded(d1, bucket, project.id, day, key);
    else await d1.prepare(PENDING_AGAIN_SQL).bind(key, project.id, day, Date.now()).run();
    throw new ArchiveRefused(`${key}: the lease on ${project.id} was lost while writing`);
  }
  const late = fresh.find((row) => !known.has(row[ID_INDEX]));
  if (recorded && late) await restoreRows(d1, project, day, kept, String(late[ID_INDEX]), lease);
  return { key, rows: rows.length, checksum, bytes: file.byteLength, base: recorded };
}

const PENDING_AGAIN_SQL =
  'INSERT INTO archive_pending (key, project_id, day, since) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING';

/**
 * Put an archived day's rows (`kept`, read back from its recorded object) back into D1 for a
 * merge, a chunk per statement, so that the day can be rolled up again from all its events; step
 * 3 deletes them again once the merged object is recorded. They need no mark: they are in the
 * day's rollups already. Each statement writes only while `lease` is held and the late event that
 * caused the merge (`lateId`) is still in D1: a deletion or reset of the project empties `events`
 * until none is left, so rows put back before it are deleted with the rest and none come after.
 * Throws {@link ArchiveRefused} if D1 does not then hold every row (nothing is lost: the object
 * stays recorded, the rows put back are in the rollups already).
 */
async function restoreRows(
  d1: D1Database,
  project: ArchiveProject,
  day: string,
  kept: readonly ArchiveRow[],
  lateId: string,
  lease: ArchiveLease,
): Promise<void> {
  const columns = ARCHIVE_COLUMNS.map((column) => `"${column.name}"`).join(', ');
  const values = ARCHIVE_COLUMNS.map((_, at) => `j.value ->> ${at}`).join(', ');
  for (let at = 0; at < kept.length; at += RESTORE_CHUNK) {
    await d1
      .prepare(
        `INSERT INTO events (${columns}) SELECT ${values} FROM json_each(?4) j
         WHERE ${leaseHeldSql('?2', '?3')} AND EXISTS (SELECT 1 FROM events WHERE project_id = ?1 AND id = ?5)
         ON CONFLICT DO NOTHING`,
      )
      .bind(project.id, lease.holder, Date.now(), JSON.stringify(kept.slice(at, at + RESTORE_CHUNK)), lateId)
      .run();
  }
  const { start, end } = bounds(day, project.calendar);
  const missing = await d1
    .prepare(
      `SELECT COUNT(*) AS n FROM json_each(?4) j WHERE NOT EXISTS (
         SELECT 1 FROM events WHERE project_id = ?1 AND id = j.value AND ts >= ?2 AND ts < ?3)`,
    )
    .bind(project.id, start, end, JSON.stringify(kept.map((row) => row[ID_INDEX])))
    .first<number>('n');
  if (missing) throw new ArchiveRefused(`${project.id} ${day}: ${missing} archived rows could not be put back in D1`);
}

/**
 * Delete an object no record names (one step 1 wrote and step 2 will not commit, or one a merge
 * superseded), then its `archive_pending` row. A key that a record names is left alone.
 */
export async function dropUnrecorded(
  d1: D1Database,
  bucket: R2Bucket,
  projectId: string,
  day: string,
  key: string,
): Promise<void> {
  const named = await d1
    .prepare('SELECT 1 AS named FROM archived_days WHERE project_id = ? AND day = ? AND key = ?')
    .bind(projectId, day, key)
    .first<number>('named');
  if (!named) await bucket.delete(key);
  await d1.prepare('DELETE FROM archive_pending WHERE key = ?').bind(key).run();
}

/**
 * Step 3: delete from D1 the day's events that its recorded object holds — read back and checked
 * first, so a missing or damaged object deletes nothing (throws {@link ArchiveRefused}), a chunk
 * of ids per statement. Returns how many went. Events of the day that the object lacks stay in D1.
 */
export async function deleteArchivedRows(
  d1: D1Database,
  bucket: R2Bucket,
  project: ArchiveProject,
  day: string,
): Promise<number> {
  const recorded = await archivedDay(d1, project.id, day);
  if (!recorded) return 0;
  const rows = await verifyDayArchive(bucket, recorded);
  const { start, end } = bounds(day, project.calendar);
  let deleted = 0;
  for (let at = 0; at < rows.length; at += DELETE_CHUNK) {
    const ids = rows.slice(at, at + DELETE_CHUNK).map((row) => row[ID_INDEX]);
    const { meta } = await d1
      .prepare(
        // By primary key, the day's bounds a filter: the ts index would read the whole day per chunk.
        `DELETE FROM events WHERE rowid IN (SELECT e.rowid FROM json_each(?4) j CROSS JOIN events e
           ON e.project_id = ?1 AND e.id = j.value WHERE e.ts >= ?2 AND e.ts < ?3)`,
      )
      .bind(project.id, start, end, JSON.stringify(ids))
      .run();
    deleted += meta.changes;
  }
  return deleted;
}
