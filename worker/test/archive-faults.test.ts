/**
 * The R2 archive under faults (review of 5db118f, issue 16): two runs at once lose no event; an
 * object written before a column was added still verifies; no object escapes retention, a
 * project's deletion or its reset; the hot window is at least a week; one project's R2 error
 * leaves the others archived. Every step is the real code on the real D1 and R2 bindings; the
 * interleavings are forced with gates on the D1 statements.
 */
import { env } from 'cloudflare:workers';
import { gzipSync } from 'fflate';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it, vi } from 'vitest';
import { UpdateProjectSchema } from '../src/projects/schemas.ts';
import { archiveOldDays, purgeExpiredEvents, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, localDate } from '../src/shared/calendar.ts';
import { ARCHIVE_COLUMNS, byId, checksumOf, decodeParquet, rowFromD1 } from '../src/store/archive-format.ts';
import {
  type ArchiveLease,
  ArchiveRefused,
  archivedDay,
  claimArchiveLease,
  commitDayArchive,
  dayReady,
  deleteArchivedRows,
  deleteProject,
  purgeExpiredArchives,
  releaseArchiveLease,
  resetProjectData,
  writeDayArchive,
} from '../src/store/index.ts';
import {
  dayOf as dayOfIn,
  daysAgo,
  gated,
  HOUR,
  keys,
  LABEL,
  leaseOn,
  NOW,
  archiveSuite,
  TZ,
} from './archive-harness.ts';
import { event, seed } from './query-oracle-harness.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const eventsLeft = async (projectId: string) =>
  (await env.DB.prepare('SELECT id FROM events WHERE project_id = ?').bind(projectId).all<{ id: string }>()).results;

describe('the R2 archive under faults', () => {
  const suite = archiveSuite();
  const dayOf = (count: number, calendar = TZ) => dayOfIn(suite.owner(), count, calendar);

  /** The ids in neither D1 nor the day's recorded object. */
  async function lost(projectId: string, ids: string[], label = LABEL) {
    const record = await archivedDay(env.DB, projectId, label);
    const object = record ? await env.ARCHIVE.get(record.key) : null;
    const archived = object ? await decodeParquet(await object.arrayBuffer()) : [];
    const kept = new Set([...(await eventsLeft(projectId)).map((r) => r.id), ...archived.map((row) => String(row[1]))]);
    return ids.filter((id) => !kept.has(id));
  }

  it('lets one run at a time hold a project, and archives nothing of a project held elsewhere', async () => {
    const { projectId } = await dayOf(3);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
    const held = await leaseOn(projectId);
    expect(await claimArchiveLease(env.DB, projectId)).toBeNull();
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 0, deleted: 0 });
    expect(await keys(projectId)).toEqual([]);
    await releaseArchiveLease(env.DB, held);
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, deleted: 3 });
  });

  /**
   * The review's interleaving: run A checks readiness and reads the record; run B writes, commits
   * and deletes a first chunk of 2,000; A reads what is left, writes and commits. Both share one
   * lease here (as if the lease had failed): the write-once key and the compare-and-swap on the
   * record still keep every event.
   */
  it('loses no event when two runs overlap on one day, even past the lease', async () => {
    const { projectId, project, ids } = await dayOf(2_500);
    const lease = await leaseOn(projectId);
    expect(await dayReady(env.DB, project, LABEL, 0)).toBe(true);
    const aReadRecord = gate();
    const bDeletedOneChunk = gate();
    const aCommitted = gate();
    const dA = gated(env.DB, [
      {
        match: (sql) => sql.startsWith('SELECT key, rows, checksum, bytes FROM archived_days'),
        after: async () => aReadRecord.open(),
      },
      {
        match: (sql) => sql.includes('ORDER BY ts, id LIMIT'),
        before: async (call) => (call === 0 ? bDeletedOneChunk.opened : undefined),
      },
    ]);
    const dB = gated(env.DB, [
      {
        match: (sql) => sql.startsWith('DELETE FROM events WHERE rowid IN'),
        after: async (call) => {
          if (call === 0) {
            bDeletedOneChunk.open();
            await aCommitted.opened;
          }
        },
      },
    ]);
    let aRecorded: boolean | undefined;
    const runA = (async () => {
      try {
        const written = await writeDayArchive(dA, env.ARCHIVE, project, LABEL, lease);
        if (written) aRecorded = await commitDayArchive(dA, env.ARCHIVE, project, LABEL, written, 0, NOW, lease);
      } finally {
        aCommitted.open();
      }
      await deleteArchivedRows(dA, env.ARCHIVE, project, LABEL);
    })();
    let bKey = '';
    const runB = (async () => {
      await aReadRecord.opened;
      const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, lease);
      if (!written) throw new Error('B wrote nothing');
      bKey = written.key;
      expect(await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, lease)).toBe(true);
      await deleteArchivedRows(dB, env.ARCHIVE, project, LABEL);
    })();
    const settled = await Promise.allSettled([runA, runB]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    // A's partial set went to its own key and was not recorded over B's.
    expect(aRecorded).toBe(false);
    expect(await archivedDay(env.DB, projectId, LABEL)).toMatchObject({ key: bKey, rows: 2_500 });
    expect(await lost(projectId, ids)).toEqual([]);
    expect(await eventsLeft(projectId)).toEqual([]);
    // A's unrecorded object is swept an hour later.
    vi.setSystemTime(NOW + 2 * HOUR);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
    vi.setSystemTime(NOW);
    expect(await keys(projectId)).toEqual([bKey]);
  });

  it('refuses the write of a run whose lease expired and was taken by another', async () => {
    const { projectId, project, ids } = await dayOf(5);
    const a = await leaseOn(projectId);
    const dA = gated(env.DB, [
      {
        match: (sql) => sql.includes('ORDER BY ts, id LIMIT'),
        after: async () => {
          await env.DB.prepare('UPDATE archive_runs SET expires_at = 0 WHERE project_id = ?').bind(projectId).run();
          await leaseOn(projectId); // run B claims it
        },
      },
    ]);
    await expect(writeDayArchive(dA, env.ARCHIVE, project, LABEL, a)).rejects.toThrow(ArchiveRefused);
    expect(await keys(projectId)).toEqual([]);
    expect(await lost(projectId, ids)).toEqual([]);
  });

  it('leaves to the sweep an object whose writer lost its lease to another run, which may write the same key', async () => {
    const { projectId, project, ids } = await dayOf(5);
    const a = await leaseOn(projectId);
    let b: ArchiveLease | undefined;
    const dA = gated(env.DB, [
      {
        match: (sql) => sql.startsWith('INSERT INTO archive_pending'),
        after: async () => {
          await env.DB.prepare('UPDATE archive_runs SET expires_at = 0 WHERE project_id = ?').bind(projectId).run();
          b = await leaseOn(projectId);
        },
      },
    ]);
    await expect(writeDayArchive(dA, env.ARCHIVE, project, LABEL, a)).rejects.toThrow(ArchiveRefused);
    const [left] = await keys(projectId);
    expect(left).toBeDefined();
    // Run B writes the same rows: the same key, recorded, and its rows deleted from D1.
    if (!b) throw new Error('B holds no lease');
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, b);
    expect(written?.key).toBe(left);
    if (!written) throw new Error('B wrote nothing');
    expect(await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, b)).toBe(true);
    expect(await deleteArchivedRows(env.DB, env.ARCHIVE, project, LABEL)).toBe(5);
    await releaseArchiveLease(env.DB, b);
    vi.setSystemTime(NOW + 2 * HOUR);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
    vi.setSystemTime(NOW);
    expect(await keys(projectId)).toEqual([left]);
    expect(await lost(projectId, ids)).toEqual([]);
  });

  it('verifies an object written before a column was added to events', async () => {
    const { projectId, project } = await dayOf(1, 'UTC');
    const label = formatDate(addDays(localDate(NOW, 'UTC'), -70));
    const { results } = await env.DB.prepare('SELECT * FROM events WHERE project_id = ?').bind(projectId).all();
    const old = ARCHIVE_COLUMNS.slice(0, -1); // the schema before its last column existed
    const rows = byId(results.map((row) => rowFromD1(row as Record<string, unknown>).slice(0, old.length)));
    const file = parquetWriteBuffer({
      codec: 'GZIP',
      compressors: { GZIP: (bytes: Uint8Array) => gzipSync(bytes) },
      columnData: old.map((column, index) => ({
        name: column.name,
        type: column.type,
        nullable: column.nullable,
        data: rows.map((row) => {
          const value = row[index] ?? null;
          if (value === null) return null;
          if (column.type === 'BOOLEAN') return value === 1;
          return column.type === 'INT64' ? BigInt(value) : value;
        }),
      })),
    });
    const key = `archive/${projectId}/${label}.parquet`;
    await env.ARCHIVE.put(key, file);
    // Recorded (step 2 done by the code of that time, its checksum over the columns it knew).
    await env.DB.prepare(
      'INSERT INTO archived_days (project_id, day, key, rows, checksum, bytes, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
      .bind(projectId, label, key, rows.length, checksumOf(rows), file.byteLength, NOW)
      .run();
    expect(await deleteArchivedRows(env.DB, env.ARCHIVE, project, label)).toBe(1);
  });

  describe('objects nobody owns', () => {
    /** A D1 that runs `during` once, after the first statement matching `sql` has run. */
    const during = (sql: string, run: () => Promise<void>) => {
      let done = false;
      return gated(env.DB, [
        {
          match: (text) => text.includes(sql),
          after: async () => {
            if (done) return;
            done = true;
            await run();
          },
        },
      ]);
    };

    it('retention removes the object of a write that was never committed', async () => {
      const { projectId, project } = await dayOf(3);
      const lease = await leaseOn(projectId);
      expect(await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, lease)).not.toBeNull();
      // The run stopped after step 1 (its commit found a new mark) and gave its lease back.
      await releaseArchiveLease(env.DB, lease);
      await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
      await purgeExpiredEvents(env, NOW);
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW);
      expect(await eventsLeft(projectId)).toEqual([]);
      expect(await keys(projectId)).toEqual([]);
    });

    for (const [what, act] of [
      ['deleted', (projectId: string) => deleteProject(env, projectId)],
      ['reset', (projectId: string) => resetProjectData(env, projectId, NOW)],
    ] as const) {
      for (const [moment, sql] of [
        ['as the day is read', 'ORDER BY ts, id LIMIT'],
        ['between the claim of the key and the put', 'INSERT INTO archive_pending'],
      ] as const) {
        it(`a project ${what} ${moment} leaves no object behind`, async () => {
          const { projectId, project } = await dayOf(3);
          const lease = await leaseOn(projectId);
          const db = during(sql, () => act(projectId));
          await expect(writeDayArchive(db, env.ARCHIVE, project, LABEL, lease)).rejects.toThrow(ArchiveRefused);
          expect(await keys(projectId)).toEqual([]);
        });
      }
    }

    it('the sweep deletes an object left by a write that stopped after its put', async () => {
      const { projectId, project } = await dayOf(3);
      const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, await leaseOn(projectId));
      // The run died here; then the project was deleted (its rows, not the pending one, go).
      expect(written).not.toBeNull();
      await env.DB.prepare('DELETE FROM projects WHERE id = ?').bind(projectId).run();
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW);
      expect(await keys(projectId)).toEqual([]);
      expect(
        await env.DB.prepare('SELECT key FROM archive_pending WHERE project_id = ?').bind(projectId).first(),
      ).toBeNull();
    });

    it('the sweep waits an hour for a write of a live project, then deletes what was not committed', async () => {
      const { projectId, project } = await dayOf(3);
      const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, await leaseOn(projectId));
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 30 * 60_000);
      expect(await keys(projectId)).toEqual([written?.key]);
      vi.setSystemTime(NOW + 2 * HOUR);
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
      vi.setSystemTime(NOW);
      expect(await keys(projectId)).toEqual([]);
      expect((await eventsLeft(projectId)).length).toBe(3);
    });

    it('the sweep leaves alone a project another run holds', async () => {
      const { projectId, project } = await dayOf(3);
      const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, await leaseOn(projectId));
      await env.DB.prepare('UPDATE archive_pending SET since = 0 WHERE project_id = ?').bind(projectId).run();
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW);
      expect(await keys(projectId)).toEqual([written?.key]);
    });
  });

  it('keeps at least a week of raw days in D1, whatever the setting says', async () => {
    expect(UpdateProjectSchema.safeParse({ archiveAfterDays: 3 }).success).toBe(false);
    expect(UpdateProjectSchema.safeParse({ archiveAfterDays: 0 }).success).toBe(true);
    expect(UpdateProjectSchema.safeParse({ archiveAfterDays: 7 }).success).toBe(true);
    const { start } = dayBounds(daysAgo(5), TZ);
    const projectId = await seed(TZ, [event(new Date(start + HOUR).toISOString())], [], suite.owner());
    await rollUpAll(env, NOW);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 1 WHERE id = ?').bind(projectId).run();
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 0 });
    expect((await eventsLeft(projectId)).length).toBe(1);
  });

  it("archives every other project when one project's R2 writes fail", async () => {
    const broken = await dayOf(2);
    const fine = await dayOf(2);
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id IN (?, ?)')
      .bind(broken.projectId, fine.projectId)
      .run();
    const bucket = new Proxy(env.ARCHIVE, {
      get(target, name) {
        if (name === 'put')
          return (key: string, ...rest: unknown[]) => {
            if (key.includes(broken.projectId)) return Promise.reject(new Error('R2 is failing'));
            return (target.put as (...args: unknown[]) => unknown)(key, ...rest);
          };
        const value = Reflect.get(target, name);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await archiveOldDays(env.DB, bucket, NOW)).toMatchObject({ days: 1, deleted: 2, failed: 1 });
    errors.mockRestore();
    expect((await eventsLeft(broken.projectId)).length).toBe(2);
    expect(await eventsLeft(fine.projectId)).toEqual([]);
    // Its lease was given back: the next run takes it.
    expect(await claimArchiveLease(env.DB, broken.projectId)).not.toBeNull();
  });
});
