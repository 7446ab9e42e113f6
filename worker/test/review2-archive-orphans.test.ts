/**
 * Review 2 of the R2 archive: objects that end up neither recorded nor pending (so no retention,
 * sweep or reset ever deletes them). Real D1 and R2 bindings; interleavings forced by gating statements.
 */
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, localDate } from '../src/shared/calendar.ts';
import {
  type ArchiveProject,
  archivedDay,
  claimArchiveLease,
  commitDayArchive,
  deleteProject,
  purgeExpiredArchives,
  releaseArchiveLease,
  resetProjectData,
  writeDayArchive,
} from '../src/store/index.ts';
import { event, type Owner, seed, signUp } from './query-oracle-harness.ts';

const HOUR = 3_600_000;
const NOW = Date.UTC(2031, 2, 11, 12);
const TZ = 'Europe/Berlin';
const LABEL = formatDate(addDays(localDate(NOW, TZ), -70));

/** A D1 that runs `run` once, before the first statement whose SQL includes `sql`. */
function before(db: D1Database, sql: string, run: () => Promise<unknown>): D1Database {
  let done = false;
  return {
    prepare(text: string) {
      const real = db.prepare(text);
      if (!text.includes(sql)) return real;
      const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
        ({
          bind: (...values: unknown[]) => wrap(statement.bind(...values)),
          run: async () => {
            if (!done) {
              done = true;
              await run();
            }
            return statement.run();
          },
          all: async () => {
            if (!done) {
              done = true;
              await run();
            }
            return statement.all();
          },
          first: (column?: string) => (column === undefined ? statement.first() : statement.first(column)),
        }) as unknown as D1PreparedStatement;
      return wrap(real);
    },
    batch: (statements: D1PreparedStatement[]) => db.batch(statements),
  } as unknown as D1Database;
}

const keys = async (projectId: string) =>
  (await env.ARCHIVE.list({ prefix: `archive/${projectId}/` })).objects.map((object) => object.key);

describe('review 2: archive objects nobody owns', () => {
  let owner: Owner;
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    owner = await signUp();
  });
  afterAll(() => vi.useRealTimers());
  beforeEach(async () => {
    await env.DB.prepare('UPDATE projects SET archive_after_days = 0').run();
  });

  async function dayOf(count: number) {
    const { start } = dayBounds(addDays(localDate(NOW, TZ), -70), TZ);
    const events = Array.from({ length: count }, (_, i) =>
      event(new Date(start + HOUR + i * 1_000).toISOString(), { visitor_id: `v${i}`, session_id: `s${i}` }),
    );
    const projectId = await seed(TZ, events, [], owner);
    await rollUpAll(env.DB, NOW);
    await env.DB.prepare('UPDATE projects SET archive_after_days = 62 WHERE id = ?').bind(projectId).run();
    const project: ArchiveProject = { id: projectId, calendar: TZ };
    return { projectId, project };
  }

  for (const [what, act] of [
    ['deleted', (db: D1Database, projectId: string) => deleteProject({ ...env, DB: db }, projectId)],
    ['reset', (db: D1Database, projectId: string) => resetProjectData({ ...env, DB: db }, projectId, NOW)],
  ] as const) {
    it(`a cron run that claims the lease while a project is being ${what} leaves no object behind`, async () => {
      const { projectId } = await dayOf(3);
      let ran: unknown;
      // The lease was revoked and the prefix listed; the rows are deleted a chunk at a time (one
      // statement per 5,000 rows per table): a cron tick claims the free lease meanwhile.
      const db = before(env.DB, 'DELETE FROM "events"', async () => {
        ran = await archiveOldDays(env.DB, env.ARCHIVE, NOW);
      });
      await act(db, projectId);
      expect(ran).toMatchObject({ days: 1 });
      // Nothing records or names what that run wrote any more…
      expect(await archivedDay(env.DB, projectId, LABEL)).toBeNull();
      const pending = await env.DB.prepare('SELECT key FROM archive_pending WHERE project_id = ?').bind(projectId).all();
      expect(pending.results).toEqual([]);
      // …so neither the sweep nor retention will ever delete it.
      vi.setSystemTime(NOW + 2 * HOUR);
      await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
      vi.setSystemTime(NOW);
      expect(await keys(projectId)).toEqual([]);
    });
  }

  it('a merge committed while the retention purge deletes the day leaves no object behind', async () => {
    const { projectId, project } = await dayOf(3);
    const [row] = (await env.DB.prepare('SELECT * FROM events WHERE project_id = ? LIMIT 1').bind(projectId).all<Record<string, unknown>>()).results;
    if (!row) throw new Error('no row');
    expect(await archiveOldDays(env.DB, env.ARCHIVE, NOW)).toMatchObject({ days: 1, deleted: 3 });
    const k1 = (await archivedDay(env.DB, projectId, LABEL))?.key;
    // A late event for the archived day (a redelivered batch, a client clock).
    const late = { ...row, id: 'late-1', ts: (row.ts as number) + 5_000 };
    const cols = Object.keys(late);
    await env.DB.prepare(`INSERT INTO events (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
      .bind(...cols.map((c) => late[c]))
      .run();
    const lease = await claimArchiveLease(env.DB, projectId);
    if (!lease) throw new Error('lease');
    const written = await writeDayArchive(env.DB, env.ARCHIVE, project, LABEL, lease);
    if (!written) throw new Error('nothing written');
    expect(written.key).not.toBe(k1);
    // The owner shortens retention; the hourly purge lists the day's record (K1), then the run commits K2.
    await env.DB.prepare('UPDATE projects SET retention_days = 30 WHERE id = ?').bind(projectId).run();
    const db = before(env.DB, 'SELECT a.project_id AS projectId, a.day, a.key', async () => undefined);
    let committed: boolean | undefined;
    const gatedPurge = {
      ...db,
      prepare(text: string) {
        const statement = db.prepare(text);
        if (!text.includes('SELECT a.project_id AS projectId, a.day, a.key')) return statement;
        return {
          bind: (...values: unknown[]) => {
            const bound = statement.bind(...values);
            return {
              all: async () => {
                const out = await bound.all();
                committed = await commitDayArchive(env.DB, env.ARCHIVE, project, LABEL, written, 0, NOW, lease);
                return out;
              },
            };
          },
        };
      },
      batch: (s: D1PreparedStatement[]) => env.DB.batch(s),
    } as unknown as D1Database;
    await purgeExpiredArchives(gatedPurge, env.ARCHIVE, NOW);
    expect(committed).toBe(true);
    await releaseArchiveLease(env.DB, lease);
    vi.setSystemTime(NOW + 2 * HOUR);
    await purgeExpiredArchives(env.DB, env.ARCHIVE, NOW + 2 * HOUR);
    vi.setSystemTime(NOW);
    expect(await keys(projectId)).toEqual([]);
  });
});
