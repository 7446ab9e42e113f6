/**
 * Review 3 repro (failing): the hourly archive purge reads every `archived_days` row of every
 * project (`archive-objects.ts`, purgeExpiredArchives: SCAN archived_days, then a temp B-tree for
 * ORDER BY day), so its rows read grow with the whole archived history, not with what expired.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { addDays, formatDate } from '../src/shared/calendar.ts';
import { purgeExpiredArchives } from '../src/store/index.ts';
import { archiveSuite, daysAgo, NOW } from './archive-harness.ts';
import { seed } from './query-oracle-harness.ts';

/** A D1 that adds up `meta.rows_read` of every statement run through `all`, `run` or `first`. */
function counted(db: D1Database, total: { read: number }): D1Database {
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
    ({
      bind: (...values: unknown[]) => wrap(statement.bind(...values)),
      async all() {
        const out = await statement.all();
        total.read += out.meta.rows_read;
        return out;
      },
      async run() {
        const out = await statement.run();
        total.read += out.meta.rows_read;
        return out;
      },
    }) as unknown as D1PreparedStatement;
  return {
    prepare: (sql: string) => wrap(db.prepare(sql)),
    batch: (s: D1PreparedStatement[]) => db.batch(s),
  } as D1Database;
}

describe('review 3: the archive purge', () => {
  const suite = archiveSuite();

  it('reads rows in proportion to what expired, not to every archived day', async () => {
    const projectId = await seed('UTC', [], [], suite.owner());
    // Three years of archived days, none past the project's retention.
    await env.DB.prepare('UPDATE projects SET retention_days = 3650 WHERE id = ?').bind(projectId).run();
    const first = daysAgo(3 * 365, 'UTC');
    for (let at = 0; at < 3 * 365; at += 100) {
      const days = Array.from({ length: Math.min(100, 3 * 365 - at) }, (_, i) => formatDate(addDays(first, at + i)));
      await env.DB.batch(
        days.map((day) =>
          env.DB.prepare(
            `INSERT INTO archived_days (project_id, day, key, rows, checksum, bytes, archived_at) VALUES (?, ?, ?, 1, 'c', 1, 0)`,
          ).bind(projectId, day, `archive/${projectId}/${day}.c.parquet`),
        ),
      );
    }
    const total = { read: 0 };
    expect(await purgeExpiredArchives(counted(env.DB, total), env.ARCHIVE, NOW)).toBe(0);
    expect(total.read).toBeLessThan(100);
  });
});
