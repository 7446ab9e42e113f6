/**
 * The retention purge: raw events past their project's retention go, younger ones and the
 * per-day drop counts stay; a run never deletes more than its budget and the next run carries on;
 * events of deleted projects are swept; the cron runs it at the top of each hour.
 */
import { env } from 'cloudflare:workers';
import { createScheduledController } from 'cloudflare:test';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../src/index.ts';
import { purgeExpiredEvents } from '../src/rollup/index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Noon UTC: a cron tick here is an hour boundary but not the midnight salt rotation. */
const NOW = Date.UTC(2031, 0, 10, 12);

interface Row {
  projectId: string;
  ts: number;
}

/** Project rows straight into D1 (`retention_days` omitted ⇒ the schema default, 365). */
async function insertProjects(projects: { id: string; retentionDays?: number }[]): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO projects (id, name, site_key, retention_days, created_at, updated_at)
     SELECT value ->> '$.id', value ->> '$.id', 'site_' || (value ->> '$.id'),
            coalesce(value ->> '$.retentionDays', 365), 0, 0
     FROM json_each(?)`,
  )
    .bind(JSON.stringify(projects))
    .run();
}

let nextId = 0;

/** Event rows with every NOT NULL column filled; one bound JSON parameter per 2,000 rows. */
async function insertEvents(rows: Row[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 2_000) {
    const chunk = rows.slice(start, start + 2_000).map((row) => ({ ...row, id: `e${nextId++}` }));
    await env.DB.prepare(
      `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path)
       SELECT value ->> '$.projectId', value ->> '$.id', value ->> '$.ts', value ->> '$.ts', 'pageview',
              'v', 's', 1, 1, 'example.com', '/'
       FROM json_each(?)`,
    )
      .bind(JSON.stringify(chunk))
      .run();
  }
}

/** `count` events of one project at `ts`. */
const many = (projectId: string, ts: number, count: number): Row[] =>
  Array.from({ length: count }, () => ({ projectId, ts }));

/** The events left, as `project@ts` sorted, so that a failure shows what is wrong. */
async function remaining(): Promise<string[]> {
  const { results } = await env.DB.prepare('SELECT project_id, ts FROM events').all<{
    project_id: string;
    ts: number;
  }>();
  return results.map((row) => `${row.project_id}@${row.ts}`).sort();
}

const keys = (rows: Row[]) => rows.map((row) => `${row.projectId}@${row.ts}`).sort();

const countEvents = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM events').first<number>('n')) ?? -1;

/** Each test starts from empty tables: the purge works across every project in the database. */
beforeEach(async () => {
  await env.DB.batch(['events', 'projects', 'drop_counts'].map((table) => env.DB.prepare(`DELETE FROM ${table}`)));
});

describe('purging raw events past retention', () => {
  it("deletes each project's events older than its own retention; the cutoff itself stays", async () => {
    await insertProjects([
      { id: 'p-day', retentionDays: 1 },
      { id: 'p-month', retentionDays: 30 },
      { id: 'p-default' },
    ]);
    const cutoff = { 'p-day': NOW - DAY, 'p-month': NOW - 30 * DAY, 'p-default': NOW - 365 * DAY };
    const kept: Row[] = [];
    const expired: Row[] = [];
    for (const [projectId, at] of Object.entries(cutoff)) {
      kept.push({ projectId, ts: at }, { projectId, ts: at + 1 }, { projectId, ts: NOW });
      expired.push({ projectId, ts: at - 1 }, { projectId, ts: at - 400 * DAY });
    }
    await insertEvents([...kept, ...expired]);

    expect(await purgeExpiredEvents(env, NOW)).toEqual({ deleted: expired.length, projects: 3, exhausted: false });
    expect(await remaining()).toEqual(keys(kept));
    // Nothing more to do: a second run deletes nothing.
    expect(await purgeExpiredEvents(env, NOW)).toEqual({ deleted: 0, projects: 3, exhausted: false });
  });

  it('leaves drop counts alone, however old', async () => {
    await insertProjects([{ id: 'p', retentionDays: 1 }]);
    await env.DB.prepare(
      "INSERT INTO drop_counts (project_id, day, reason, count) VALUES ('p', '2020-01-01', 'bot', 5), ('p', '2031-01-10', 'spam', 2)",
    ).run();
    await insertEvents([{ projectId: 'p', ts: NOW - 10 * DAY }]);

    expect((await purgeExpiredEvents(env, NOW)).deleted).toBe(1);
    const { results } = await env.DB.prepare('SELECT day, reason, count FROM drop_counts ORDER BY day').all();
    expect(results).toEqual([
      { day: '2020-01-01', reason: 'bot', count: 5 },
      { day: '2031-01-10', reason: 'spam', count: 2 },
    ]);
  });

  it('never deletes more than the budget in one run; later runs finish the job', async () => {
    await insertProjects([
      { id: 'p-a', retentionDays: 7 },
      { id: 'p-b', retentionDays: 7 },
    ]);
    const fresh = [...many('p-a', NOW - DAY, 3), ...many('p-b', NOW, 3)];
    await insertEvents([...many('p-a', NOW - 8 * DAY, 12), ...many('p-b', NOW - 100 * DAY, 8), ...fresh]);

    const runs = [];
    for (let run = 0; run < 4; run++) runs.push(await purgeExpiredEvents(env, NOW, 7));
    expect(runs.map(({ deleted, exhausted }) => ({ deleted, exhausted }))).toEqual([
      { deleted: 7, exhausted: true },
      { deleted: 7, exhausted: true },
      { deleted: 6, exhausted: false },
      { deleted: 0, exhausted: false },
    ]);
    expect(await remaining()).toEqual(keys(fresh));
  });

  it('deletes in chunks: a backlog larger than one statement goes in one run, up to the budget', async () => {
    await insertProjects([{ id: 'p', retentionDays: 30 }]);
    await insertEvents([...many('p', NOW - 31 * DAY, 12_000), ...many('p', NOW, 5)]);

    expect(await purgeExpiredEvents(env, NOW, 11_000)).toEqual({ deleted: 11_000, projects: 1, exhausted: true });
    expect(await purgeExpiredEvents(env, NOW)).toEqual({ deleted: 1_000, projects: 1, exhausted: false });
    expect(await countEvents()).toBe(5);
  });

  it('pages through more projects than fit one page', async () => {
    const ids = Array.from({ length: 1_201 }, (_, index) => `p-${String(index).padStart(5, '0')}`);
    await insertProjects(ids.map((id) => ({ id, retentionDays: 10 })));
    // Expired events at both ends of every page, and fresh ones in between.
    const expired = [0, 499, 500, 999, 1_000, 1_200].map((index) => ({ projectId: ids[index] ?? '', ts: 0 }));
    const fresh = [1, 501, 1_199].map((index) => ({ projectId: ids[index] ?? '', ts: NOW - 9 * DAY }));
    await insertEvents([...expired, ...fresh]);

    expect(await purgeExpiredEvents(env, NOW)).toEqual({ deleted: 6, projects: 1_201, exhausted: false });
    expect(await remaining()).toEqual(keys(fresh));
  });

  it('purges nothing for a retention that is not positive, rather than everything', async () => {
    await insertProjects([
      { id: 'p-zero', retentionDays: 0 },
      { id: 'p-negative', retentionDays: -5 },
    ]);
    const rows = [
      { projectId: 'p-zero', ts: NOW - 1 },
      { projectId: 'p-negative', ts: NOW - DAY },
    ];
    await insertEvents(rows);

    expect((await purgeExpiredEvents(env, NOW)).deleted).toBe(0);
    expect(await remaining()).toEqual(keys(rows));
  });
});

describe('sweeping events of deleted projects', () => {
  it('deletes every event, old or new, whose project is gone', async () => {
    await insertProjects([{ id: 'p-live' }]);
    const live = [{ projectId: 'p-live', ts: NOW }];
    await insertEvents([...live, ...many('p-gone', NOW, 4), ...many('p-gone', 0, 2), ...many('p-also-gone', NOW, 3)]);

    expect(await purgeExpiredEvents(env, NOW)).toEqual({ deleted: 9, projects: 1, exhausted: false });
    expect(await remaining()).toEqual(keys(live));
  });

  it('sweeps with what the retention purge left of the budget', async () => {
    await insertProjects([{ id: 'p', retentionDays: 1 }]);
    await insertEvents([...many('p', NOW - 2 * DAY, 3), ...many('p-gone', NOW, 5)]);

    expect(await purgeExpiredEvents(env, NOW, 5)).toEqual({ deleted: 5, projects: 1, exhausted: true });
    expect(await purgeExpiredEvents(env, NOW, 5)).toEqual({ deleted: 3, projects: 1, exhausted: false });
    expect(await countEvents()).toBe(0);
  });

  it('sweeps ten orphaned projects a run, and the rest on the next', async () => {
    await insertProjects([{ id: 'p-live' }]);
    const orphans = Array.from({ length: 13 }, (_, index) => ({ projectId: `gone-${index}`, ts: NOW }));
    await insertEvents([...orphans, { projectId: 'p-live', ts: NOW }]);

    expect((await purgeExpiredEvents(env, NOW)).deleted).toBe(10);
    expect((await purgeExpiredEvents(env, NOW)).deleted).toBe(3);
    expect(await remaining()).toEqual([`p-live@${NOW}`]);
  });
});

describe('what a run reads (D1 bills rows read)', () => {
  it('with nothing expired: a few statements, a few index entries per project, not every event', async () => {
    const projects = Array.from({ length: 20 }, (_, index) => ({ id: `p-${index}`, retentionDays: 30 }));
    await insertProjects(projects);
    await insertEvents(projects.flatMap(({ id }) => many(id, NOW - DAY, 500)));

    let rowsRead = 0;
    let statements = 0;
    const counting = countingRowsRead(env.DB, (rows) => {
      rowsRead += rows;
      statements += 1;
    });
    expect(await purgeExpiredEvents({ ...env, DB: counting }, NOW)).toEqual({
      deleted: 0,
      projects: 20,
      exhausted: false,
    });
    // 10,000 events; a probe per project and a seek per distinct project id is a few dozen rows.
    // Counted are the statements sent to `DB` (control database and first of the pool): its page
    // of projects, their probe, the project ids its events carry and whether it holds them; the
    // page of `DB_1`'s projects (empty: no probe); and the (empty) quarantine's expiry.
    expect(statements).toBe(6);
    expect(rowsRead).toBeLessThan(300);
  });

  it("reads the expired rows it deletes, not the projects' younger events", async () => {
    const projects = Array.from({ length: 20 }, (_, index) => ({ id: `p-${index}`, retentionDays: 30 }));
    await insertProjects(projects);
    await insertEvents([
      ...projects.flatMap(({ id }) => many(id, NOW - DAY, 500)),
      ...many('p-0', NOW - 40 * DAY, 3),
      ...many('p-19', NOW - 40 * DAY, 3),
    ]);

    let rowsRead = 0;
    const counting = countingRowsRead(env.DB, (rows) => {
      rowsRead += rows;
    });
    expect(await purgeExpiredEvents({ ...env, DB: counting }, NOW)).toEqual({
      deleted: 6,
      projects: 20,
      exhausted: false,
    });
    expect(rowsRead).toBeLessThan(300);
  });
});

describe('the cron', () => {
  it('runs the purge on the first tick of each hour only', async () => {
    await insertProjects([{ id: 'p', retentionDays: 1 }]);
    await insertEvents([{ projectId: 'p', ts: NOW - 3 * DAY }]);
    const tick = (at: number) =>
      worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/5 * * * *' }), env);

    await tick(NOW + 20 * 60_000);
    expect(await countEvents()).toBe(1);
    await tick(NOW + HOUR);
    expect(await countEvents()).toBe(0);
  });
});

describe('against an oracle', () => {
  it('leaves exactly the events at or after their cutoff, whatever the budget', async () => {
    const scenario = fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 4 }).chain((retentions) =>
      fc.record({
        retentions: fc.constant(retentions),
        // Timestamps around each project's cutoff (often exactly on it), and some far away.
        events: fc.array(
          fc.record({
            project: fc.nat({ max: retentions.length - 1 }),
            offset: fc.oneof(
              fc.constantFrom(-1, 0, 1),
              fc.integer({ min: -2 * DAY, max: 2 * DAY }),
              fc.integer({ min: -500 * DAY, max: 500 * DAY }),
            ),
          }),
          { maxLength: 40 },
        ),
        budget: fc.integer({ min: 1, max: 15 }),
      }),
    );

    await fc.assert(
      fc.asyncProperty(scenario, async ({ retentions, events, budget }) => {
        await env.DB.batch(['events', 'projects'].map((table) => env.DB.prepare(`DELETE FROM ${table}`)));
        await insertProjects(retentions.map((retentionDays, index) => ({ id: `p-${index}`, retentionDays })));
        const rows = events.map(({ project, offset }) => ({
          projectId: `p-${project}`,
          ts: NOW - (retentions[project] ?? 0) * DAY + offset,
        }));
        await insertEvents(rows);

        const expected = rows.filter(
          ({ projectId, ts }) => ts >= NOW - (retentions[Number(projectId.slice(2))] ?? 0) * DAY,
        );
        let runs = 0;
        for (;;) {
          const { deleted, exhausted } = await purgeExpiredEvents(env, NOW, budget);
          expect(deleted).toBeLessThanOrEqual(budget);
          expect(exhausted).toBe(deleted === budget);
          runs += 1;
          if (!exhausted) break;
        }
        expect(runs).toBe(Math.floor((rows.length - expected.length) / budget) + 1);
        expect(await remaining()).toEqual(keys(expected));
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * The database as the purge sees it, reporting each statement's `rows_read` (D1's billing unit,
 * which local D1 reports too) to `onStatement`.
 */
function countingRowsRead(d1: D1Database, onStatement: (rowsRead: number) => void): D1Database {
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
    ({
      bind: (...values: unknown[]) => wrap(statement.bind(...values)),
      all: async () => {
        const result = await statement.all();
        onStatement(result.meta.rows_read);
        return result;
      },
      run: async () => {
        const result = await statement.run();
        onStatement(result.meta.rows_read);
        return result;
      },
    }) as unknown as D1PreparedStatement;
  return { prepare: (sql: string) => wrap(d1.prepare(sql)) } as unknown as D1Database;
}
