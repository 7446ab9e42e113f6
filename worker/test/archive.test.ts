/**
 * The R2 archive (issue 16, goal 2): raw days past a project's hot window move to one Parquet
 * object per day in the real R2 binding, verified before D1 lets go of them; every answer for
 * those days stays what it was (rollups answer for them); a run stopped between any two steps
 * loses nothing and counts nothing twice; a missing or damaged object deletes nothing; retention
 * and project deletion take the objects with them; an export says which days are archived.
 */
import { env } from 'cloudflare:workers';
import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it, vi } from 'vitest';
import { runScheduled } from '../src/cron.ts';
import { exportZip } from '../src/query/export.ts';
import { statsProject } from '../src/query/plan.ts';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { dayBounds, formatDate } from '../src/shared/calendar.ts';
import { decodeParquet, encodeParquet, rowFromD1 } from '../src/store/archive-format.ts';
import {
  type ArchiveLease,
  type ArchiveProject,
  ArchiveRefused,
  archivedDay,
  commitDayArchive,
  deleteArchivedRows,
  deleteProject,
  purgeExpiredArchives,
  releaseArchiveLease,
  resetProjectData,
  writeDayArchive,
} from '../src/store/index.ts';
import type { OracleQuery, RawEvent } from './query-oracle.ts';
import { insertEvents } from './query-oracle-data.ts';
import { archiveSuite, daysAgo, HOUR, leaseOn, NOW, TZ } from './archive-harness.ts';
import { ask, event, type Owner, seed } from './query-oracle-harness.ts';

const label = (n: number) => formatDate(daysAgo(n));
const at = (n: number, hour: number, minute = 0) =>
  new Date(dayBounds(daysAgo(n), TZ).start + hour * HOUR + minute * 60_000).toISOString();

/** Two visits on a day `n` days back: one bounce from Google, one of two pages with a signup. */
function dayOfVisits(n: number, tag: string) {
  return [
    event(at(n, 9), { visitor_id: `${tag}a`, session_id: `${tag}a`, source: 'Google', path: '/a' }),
    event(at(n, 15), { visitor_id: `${tag}b`, session_id: `${tag}b`, path: '/' }),
    event(at(n, 15, 4), { visitor_id: `${tag}b`, session_id: `${tag}b`, seq: 2, path: '/pricing' }),
    event(at(n, 15, 5), {
      visitor_id: `${tag}b`,
      session_id: `${tag}b`,
      seq: 3,
      name: 'signup',
      path: '/pricing',
      props: '{"plan":"pro"}',
    }),
  ];
}

/** Old days 70 and 65 back (past the default 62-day hot window), and recent ones. */
const OLD = [70, 65];
const RECENT = [30, 3];

async function world(owner: Owner): Promise<{ projectId: string; project: ArchiveProject }> {
  const events = [...OLD, ...RECENT].flatMap((n) => dayOfVisits(n, `d${n}-`));
  const projectId = await seed(TZ, events, [], owner);
  await rollUpAll(env, NOW);
  return { projectId, project: { id: projectId, calendar: TZ } };
}

const range: [string, string] = [label(75), label(1)];
/** A run that found nothing to do. */
const IDLE = { days: 0, deleted: 0, skipped: 0, refused: 0, waiting: 0, failed: 0, exhausted: false };
const queries: OracleQuery[] = [
  { metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounce_rate', 'visit_duration'], date_range: range },
  { metrics: ['visitors', 'visits', 'pageviews'], date_range: range, dimensions: ['time:day'] },
  { metrics: ['visitors', 'visits'], date_range: range, dimensions: ['source'] },
  { metrics: ['visitors', 'pageviews'], date_range: range, dimensions: ['page'] },
];

async function answers(projectId: string, owner: Owner) {
  return Promise.all(queries.map((query) => ask(projectId, query, owner)));
}

/** The project's events of a local day still in D1, in canonical form, by id. */
async function d1Rows(projectId: string, n: number) {
  const { start, end } = dayBounds(daysAgo(n), TZ);
  const { results } = await env.DB.prepare(
    'SELECT * FROM events WHERE project_id = ? AND ts >= ? AND ts < ? ORDER BY id',
  )
    .bind(projectId, start, end)
    .all<Record<string, unknown>>();
  return results.map(rowFromD1);
}

/** The key the record of a day names. */
async function keyOf(projectId: string, n: number): Promise<string> {
  const record = await archivedDay(env.DB, projectId, label(n));
  if (!record) throw new Error(`day ${label(n)} is not archived`);
  return record.key;
}

/** The rows of a day's recorded object in R2, by id. */
async function objectRows(projectId: string, n: number) {
  const object = await env.ARCHIVE.get(await keyOf(projectId, n));
  if (!object) return null;
  const rows = await decodeParquet(await object.arrayBuffer());
  return rows.sort((a, b) => (String(a[1]) < String(b[1]) ? -1 : 1));
}

const rawFrom = async (projectId: string) =>
  env.DB.prepare('SELECT raw_from FROM rollup_state WHERE project_id = ?')
    .bind(projectId)
    .first<number | null>('raw_from');

describe('the R2 archive', () => {
  const suite = archiveSuite();
  const owner = (): Owner => suite.owner();

  it('moves each rolled-up day past the hot window to one verified object, and answers stay the same', async () => {
    const { projectId } = await world(owner());
    const before = await answers(projectId, owner());
    const rowsBefore = await Promise.all(OLD.map((n) => d1Rows(projectId, n)));
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();

    const run = await archiveOldDays(env.DB, env.ARCHIVE, NOW);
    expect(run).toEqual({ days: 2, deleted: 8, skipped: 0, refused: 0, waiting: 0, failed: 0, exhausted: false });
    for (const [index, n] of OLD.entries()) {
      expect(await objectRows(projectId, n)).toEqual(rowsBefore[index]);
      expect(await d1Rows(projectId, n)).toEqual([]);
      const record = await archivedDay(env.DB, projectId, label(n));
      const head = await env.ARCHIVE.head(record?.key ?? '');
      expect(record).toMatchObject({
        key: `archive/${projectId}/${label(n)}.${record?.checksum.slice(0, 16)}.parquet`,
        rows: 4,
        bytes: head?.size,
      });
    }
    // Recent days stay in D1; the archived ones are now before raw_from.
    for (const n of RECENT) expect((await d1Rows(projectId, n)).length).toBe(4);
    expect(await rawFrom(projectId)).toBe(dayBounds(daysAgo(65), TZ).end);
    expect(await answers(projectId, owner())).toEqual(before);
    // What needs raw events over an archived day says so, as for a day past retention; a view that
    // filtered rollups hold (one source, by page) does not need them.
    const filtered = (await ask(
      projectId,
      { metrics: ['visitors'], date_range: range, dimensions: ['page'], filters: [['is', 'browser', ['Chrome']]] },
      owner(),
    )) as { meta: { unavailable?: unknown[] } };
    expect(filtered.meta.unavailable).toEqual([{ from: range[0], to: label(65), reason: 'retention' }]);
    const paired = (await ask(
      projectId,
      { metrics: ['visitors'], date_range: range, dimensions: ['page'], filters: [['is', 'source', ['Google']]] },
      owner(),
    )) as { meta: { unavailable?: unknown[] } };
    expect(paired.meta.unavailable).toBeUndefined();

    // Again: nothing to do, nothing rewritten.
    const etag = (await env.ARCHIVE.head(await keyOf(projectId, 70)))?.etag;
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toEqual(IDLE);
    expect((await env.ARCHIVE.head(await keyOf(projectId, 70)))?.etag).toBe(etag);
    expect(await answers(projectId, owner())).toEqual(before);
  });

  it('is run by the cron, after the rollups', async () => {
    const { projectId } = await world(owner());
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    // A late write marks an hour of day 70: the tick rolls it up first, then archives both old days.
    await insertEvents(projectId, [event(at(70, 22), { visitor_id: 'c', session_id: 'c' })]);
    await runScheduled(env, NOW);
    expect(await archivedDay(env.DB, projectId, label(70))).toMatchObject({ rows: 5 });
    expect(await archivedDay(env.DB, projectId, label(65))).toMatchObject({ rows: 4 });
    expect(await d1Rows(projectId, 70)).toEqual([]);
  });

  it('loses and duplicates nothing when stopped after the write, or after the record', async () => {
    const { projectId, project } = await world(owner());
    const before = await answers(projectId, owner());
    const rows70 = await d1Rows(projectId, 70);
    const rows65 = await d1Rows(projectId, 65);

    // Stopped after the object was written: D1 is untouched, the day is still read as before.
    const lease = await leaseOn(projectId);
    const written = await mustWrite(project, 70, lease);
    expect(written.rows).toBe(4);
    expect(await archivedDay(env.DB, projectId, label(70))).toBeNull();
    expect(await rawFrom(projectId)).toBeNull();
    expect(await d1Rows(projectId, 70)).toEqual(rows70);

    // Stopped after the record: raw_from has moved, the rows are still in D1 and counted once.
    expect(await commitDayArchive(env.DB, env.ARCHIVE, project, label(70), written, 0, NOW, lease)).toBe(true);
    expect(await d1Rows(projectId, 70)).toEqual(rows70);
    expect(await answers(projectId, owner())).toEqual(before);
    await releaseArchiveLease(env.DB, lease);

    // The next run finishes day 70 (its rows are in the object already: nothing rewritten), then does day 65.
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ deleted: 8, refused: 0 });
    expect(await objectRows(projectId, 70)).toEqual(rows70);
    expect(await objectRows(projectId, 65)).toEqual(rows65);
    expect(await d1Rows(projectId, 70)).toEqual([]);
    expect(await answers(projectId, owner())).toEqual(before);
  });

  it('merges an event that arrives for an archived day into its object, counts it, then deletes it from D1', async () => {
    const { projectId } = await world(owner());
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    await archiveOldDays(env.DB, env.ARCHIVE, NOW);
    const before = await answers(projectId, owner());
    // A replay from the dead-letter queue, long after the day: written, marked, but the day is
    // before raw_from, so the rollup job settles its mark without recomputing the day.
    const late = event(at(70, 20), { visitor_id: 'late', session_id: 'late', path: '/late' });
    await seedInto(projectId, late);
    await rollUpAll(env, NOW);
    expect(await answers(projectId, owner())).toEqual(before);
    // What the answers must be: the same events, the late one included, never archived.
    const { projectId: reference } = await world(owner());
    await seedInto(reference, event(at(70, 20), { visitor_id: 'late', session_id: 'late', path: '/late' }));
    await rollUpAll(env, NOW);
    const expected = await answers(reference, owner());
    expect(expected).not.toEqual(before);

    // The merge puts the object's 4 rows back beside the late one, rolls the day up again from
    // all 5, records the merged object, and deletes the 5 rows from D1.
    const run = await archiveOldDays(env.DB, env.ARCHIVE, NOW);
    expect(run).toMatchObject({ days: 1, deleted: 5, refused: 0 });
    expect(await answers(projectId, owner())).toEqual(expected);
    const rows = await objectRows(projectId, 70);
    expect(rows?.length).toBe(5);
    expect(rows?.filter((row) => row[1] === late.id).length).toBe(1);
    expect(await archivedDay(env.DB, projectId, label(70))).toMatchObject({ rows: 5 });
    expect(await d1Rows(projectId, 70)).toEqual([]);
    // The merge went to a new key; the object it replaced is gone, and nothing is left pending.
    const objects = (await env.ARCHIVE.list({ prefix: `archive/${projectId}/${label(70)}` })).objects;
    expect(objects.map((object) => object.key)).toEqual([await keyOf(projectId, 70)]);
    expect(
      await env.DB.prepare('SELECT key FROM archive_pending WHERE project_id = ?').bind(projectId).first(),
    ).toBeNull();
  });

  it('deletes nothing when the object is missing, damaged, or does not match its record', async () => {
    const { projectId, project } = await world(owner());
    const rows70 = await d1Rows(projectId, 70);
    const lease = await leaseOn(projectId);

    // Damaged between the write and the check: not recorded.
    const written = await mustWrite(project, 70, lease);
    await env.ARCHIVE.put(written.key, 'not parquet');
    await expect(commitDayArchive(env.DB, env.ARCHIVE, project, label(70), written, 0, NOW, lease)).rejects.toThrow(
      ArchiveRefused,
    );
    expect(await archivedDay(env.DB, projectId, label(70))).toBeNull();
    expect(await rawFrom(projectId)).toBeNull();

    // Recorded, then lost: the delete step refuses, and so does the job; the rows stay.
    const again = await mustWrite(project, 70, lease);
    const key = again.key;
    expect(await commitDayArchive(env.DB, env.ARCHIVE, project, label(70), again, 0, NOW, lease)).toBe(true);
    await releaseArchiveLease(env.DB, lease);
    await env.ARCHIVE.delete(key);
    await expect(deleteArchivedRows(env.DB, env.ARCHIVE, project, label(70))).rejects.toThrow(ArchiveRefused);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    // Day 70 is before `raw_from` already: day 65 need not wait for it.
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, deleted: 4, refused: 1 });
    errors.mockRestore();
    expect(await d1Rows(projectId, 70)).toEqual(rows70);

    // Nor is a lost object written again from D1 alone: it may have held events D1 no longer has.
    await expect(writeDayArchive(env.DB, env.ARCHIVE, project, label(70), await leaseOn(projectId))).rejects.toThrow(
      ArchiveRefused,
    );

    // Replaced by a well-formed object of other rows: the checksum differs, nothing is deleted.
    await env.ARCHIVE.put(key, forgedObject());
    await expect(deleteArchivedRows(env.DB, env.ARCHIVE, project, label(70))).rejects.toThrow(ArchiveRefused);
    expect(await d1Rows(projectId, 70)).toEqual(rows70);
  });

  it('waits for a day that is not rolled up, and archives nothing after it', async () => {
    const { projectId } = await world(owner());
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    // A late write marks an hour of day 70: that day waits for the rollup job, and so does 65.
    await seedInto(projectId, event(at(70, 21), { visitor_id: 'w', session_id: 'w' }));
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // Counted in the run's result, so a day that never becomes ready does not block in silence.
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toEqual({ ...IDLE, waiting: 1 });
    expect(warnings).toHaveBeenCalledOnce();
    warnings.mockRestore();
    expect((await env.ARCHIVE.list({ prefix: `archive/${projectId}/` })).objects).toEqual([]);
    await rollUpAll(env, NOW);
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 2, deleted: 9 });
  });

  it('lists archived days in an export, whose numbers for them come from rollups', async () => {
    const { projectId } = await world(owner());
    const row = await env.DB.prepare('SELECT * FROM projects WHERE id = ?').bind(projectId).first();
    const project = statsProject(row as never);
    const zipBefore = unzipSync(await exportZip({ control: env.DB, data: env.DB }, project, range, [], NOW));
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    await archiveOldDays(env.DB, env.ARCHIVE, NOW);
    const zip = unzipSync(await exportZip({ control: env.DB, data: env.DB }, project, range, [], NOW));
    const listing = strFromU8(zip['archived_days.csv'] as Uint8Array)
      .trim()
      .split('\r\n');
    expect(listing[0]).toBe('day,object,events,bytes,checksum');
    expect(listing.slice(1).map((line) => line.split(',').slice(0, 3))).toEqual(
      await Promise.all([70, 65].map(async (n) => [label(n), await keyOf(projectId, n), '4'])),
    );
    for (const [file, bytes] of Object.entries(zipBefore))
      expect(strFromU8(zip[file] as Uint8Array)).toBe(strFromU8(bytes));
  });

  it('deletes the objects of days past retention, of a deleted project, and of a reset one', async () => {
    const a = await world(owner());
    const b = await world(owner());
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id IN (?, ?)')
      .bind(a.projectId, b.projectId)
      .run();
    await archiveOldDays(env.DB, env.ARCHIVE, NOW);
    const keys = async (projectId: string) =>
      (await env.ARCHIVE.list({ prefix: `archive/${projectId}/` })).objects.map((object) => object.key);
    expect(await keys(a.projectId)).toHaveLength(2);
    const kept = await keyOf(a.projectId, 65);

    // Retention of 68 days: day 70 is past it, day 65 is not.
    await env.DB.prepare('UPDATE projects SET retention_days = 68 WHERE id = ?').bind(a.projectId).run();
    expect(await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW)).toBe(1);
    expect(await keys(a.projectId)).toEqual([kept]);
    expect(await archivedDay(env.DB, a.projectId, label(70))).toBeNull();
    expect(await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW)).toBe(0);

    // An object never recorded (a run stopped after its write) goes with the project too.
    await env.ARCHIVE.put(`archive/${b.projectId}/${label(40)}.0000000000000000.parquet`, 'orphan');
    await deleteProject(env, b.projectId);
    expect(await keys(b.projectId)).toEqual([]);
    expect(await keys(a.projectId)).toHaveLength(1);

    // A reset empties the archive with the rest of the numbers.
    await resetProjectData(env, a.projectId, NOW);
    expect(await keys(a.projectId)).toEqual([]);
    expect(await archivedDay(env.DB, a.projectId, label(65))).toBeNull();
    expect(await rawFrom(a.projectId)).toBeNull();
  });
});

/** Step 1 for a day that has events. */
async function mustWrite(project: ArchiveProject, n: number, lease: ArchiveLease) {
  const written = await writeDayArchive(env.DB, env.ARCHIVE, project, label(n), lease);
  if (!written) throw new Error(`day ${label(n)} has no events`);
  return written;
}

/** Write one more event into a project as the consumer would (with its hours' marks). */
async function seedInto(projectId: string, raw: RawEvent): Promise<void> {
  await insertEvents(projectId, [raw]);
}

/** A well-formed Parquet object of one row that is not the day's. */
function forgedObject(): ArrayBuffer {
  const raw = event(at(OLD[0] as number, 9), { visitor_id: 'zz', session_id: 'zz' });
  return encodeParquet([rowFromD1({ ...raw, project_id: 'elsewhere', received_at: raw.ts, is_entry: 1 })]);
}
