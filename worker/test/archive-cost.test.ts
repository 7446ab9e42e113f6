/**
 * What the archive costs in D1 (rows read and written, from each statement's `meta`): deleting an
 * archived day reads a few rows per event (by primary key, not a range scan per chunk), and a day
 * too big to archive is counted once, not re-read on every tick, until its retry is due.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { archiveOldDays, rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, localDate } from '../src/shared/calendar.ts';
import { ARCHIVE_MAX_ROWS } from '../src/store/index.ts';
import { archiveSuite, NOW } from './archive-harness.ts';
import { event, type Owner, seed } from './query-oracle-harness.ts';

const TZ = 'UTC';
const DAY = 86_400_000;

type Tally = Map<string, { calls: number; read: number; written: number }>;

/** A D1 that adds up `meta.rows_read` / `rows_written` per statement (first() is run as all()). */
function metered(db: D1Database, tally: Tally): D1Database {
  const count = (sql: string, meta: D1Meta | undefined) => {
    const key = sql.replace(/\s+/g, ' ').slice(0, 90);
    const entry = tally.get(key) ?? { calls: 0, read: 0, written: 0 };
    entry.calls += 1;
    entry.read += meta?.rows_read ?? 0;
    entry.written += meta?.rows_written ?? 0;
    tally.set(key, entry);
  };
  const wrap = (sql: string, statement: D1PreparedStatement): D1PreparedStatement =>
    ({
      real: statement,
      sql,
      bind: (...values: unknown[]) => wrap(sql, statement.bind(...values)),
      async all() {
        const out = await statement.all();
        count(sql, out.meta);
        return out;
      },
      async run() {
        const out = await statement.run();
        count(sql, out.meta);
        return out;
      },
      async first(column?: string) {
        const out = await statement.all<Record<string, unknown>>();
        count(sql, out.meta);
        const row = out.results[0] ?? null;
        return column === undefined ? row : (row?.[column] ?? null);
      },
    }) as unknown as D1PreparedStatement;
  return {
    prepare: (sql: string) => wrap(sql, db.prepare(sql)),
    async batch(statements: D1PreparedStatement[]) {
      const list = statements as unknown as { real: D1PreparedStatement; sql: string }[];
      const out = await db.batch(list.map((s) => s.real));
      for (const [i, result] of out.entries()) count(`[batch] ${list[i]?.sql}`, result.meta);
      return out;
    },
  } as unknown as D1Database;
}

/** Rows read and written in all, and by the statements whose SQL starts with `prefix`. */
function totals(tally: Tally, prefix = '') {
  let read = 0;
  let written = 0;
  for (const [sql, t] of tally) {
    if (!sql.startsWith(prefix)) continue;
    read += t.read;
    written += t.written;
  }
  return { read, written };
}

async function dayOf(n: number, size: number, owner: Owner) {
  const { start } = dayBounds(addDays(localDate(NOW, TZ), -n), TZ);
  const events = Array.from({ length: size }, (_, i) =>
    event(new Date(start + Math.floor((i * 86_000_000) / size)).toISOString(), {
      visitor_id: `v${i % 20_000}`,
      session_id: `s${i % 20_000}`,
      path: `/blog/post-${i % 300}`,
      referrer: 'https://www.google.com/search?q=x',
      source: 'Google',
      props: '{"plan":"pro","ab":"b"}',
    }),
  );
  const projectId = await seed(TZ, events, [], owner);
  await rollUpAll(env, NOW);
  await env.DB.prepare('UPDATE projects SET archive_hot_days = 62 WHERE id = ?').bind(projectId).run();
  return projectId;
}

describe('the cost of the archive', () => {
  const suite = archiveSuite();

  it('reads a few D1 rows per archived event, and writes one', async () => {
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 0').run();
    const size = 10_000;
    await dayOf(70, size, suite.owner());
    const tally: Tally = new Map();
    const run = await archiveOldDays(metered(env.DB, tally), env.ARCHIVE, NOW);
    expect(run).toMatchObject({ days: 1, deleted: size, refused: 0, failed: 0 });
    const all = totals(tally);
    const deletes = totals(tally, 'DELETE FROM events');
    // Measured: 8 read (1 count, 2 the paged read, 5 the delete), 1 written. Before deletes went
    // by primary key, each 2,000-id chunk scanned the day's ts range: 17 read per event.
    expect(deletes.read / size).toBeLessThanOrEqual(6);
    expect(all.read / size).toBeLessThanOrEqual(9);
    expect(all.written / size).toBeLessThan(1.01);
  }, 120_000);

  it('skips a day too big once, and does not read it again', async () => {
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 0').run();
    await dayOf(70, ARCHIVE_MAX_ROWS + 1, suite.owner());
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const first: Tally = new Map();
    expect(await archiveOldDays(metered(env.DB, first), env.ARCHIVE, NOW)).toMatchObject({ skipped: 1, deleted: 0 });
    // The count stops one past the limit; no row of the day is read.
    expect(totals(first).read).toBeLessThan(ARCHIVE_MAX_ROWS + 100);
    for (const at of [NOW + 5 * 60_000, NOW + DAY + 1]) {
      const next: Tally = new Map();
      expect(await archiveOldDays(metered(env.DB, next), env.ARCHIVE, at)).toMatchObject({ skipped: 0, refused: 0 });
      expect(totals(next).read).toBeLessThan(100);
    }
    warnings.mockRestore();
  }, 120_000);
});
