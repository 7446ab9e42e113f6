/**
 * The pool of D1 databases with two local databases, `DB` and `DB_1`: a new project is given the
 * least-loaded one; the consumer writes each message to its project's database; rollups, queries,
 * the retention purge and deletion act there; a move's fence makes the consumer retry.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { QuerySchema } from '../src/query/schema.ts';
import { runQuery } from '../src/query/run.ts';
import { purgeExpiredEvents, rollUpAll } from '../src/rollup/index.ts';
import {
  databasesOf,
  deleteProject,
  insertEventStatements,
  pickDatabase,
  poolNames,
  projectDb,
} from '../src/store/index.ts';
import { eventsBody } from './fixtures.ts';
import { count, deliver, insertProject, visit } from './pool-helpers.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 4, 10, 12);

describe('the pool', () => {
  it('is DB then DB_1, and a new project goes to the database with the fewest projects', async () => {
    expect(poolNames(env)).toEqual(['DB', 'DB_1']);
    const open = { ...env, NEW_PROJECT_DATABASES: '' };
    const before = await env.DB.prepare('SELECT database, COUNT(*) AS n FROM projects GROUP BY database').all<{
      database: string;
      n: number;
    }>();
    const counts = new Map(before.results.map((row) => [row.database, row.n]));
    const fewer = (counts.get('DB_1') ?? 0) < (counts.get('DB') ?? 0) ? 'DB_1' : 'DB';
    expect(await pickDatabase(open)).toBe(fewer);
    // Fill the other one past it: the choice follows.
    const other = fewer === 'DB' ? 'DB_1' : 'DB';
    const gap = Math.abs((counts.get('DB') ?? 0) - (counts.get('DB_1') ?? 0)) + 1;
    for (let i = 0; i < gap; i++) await insertProject(`fill-${fewer}-${i}`, fewer);
    expect(await pickDatabase(open)).toBe(other);
    // NEW_PROJECT_DATABASES narrows the choice (the test config keeps new projects in DB).
    expect(await pickDatabase(env)).toBe('DB');
    await expect(pickDatabase({ ...env, NEW_PROJECT_DATABASES: 'DB_7' })).rejects.toThrow(/DB_7 is not bound/);
  });
});

describe('a project in DB_1', () => {
  it('has its events, marks and drop totals written there, and nothing in DB', async () => {
    await insertProject('pool-write', 'DB_1');
    const events = visit('pool-write', NOW - 3 * 3_600_000, 3);
    const drops = {
      v: 1,
      kind: 'drops',
      projectId: 'pool-write',
      totals: [{ day: '2026-05-10', reason: 'bot', count: 4 }],
    };
    expect(await deliver([eventsBody(events), JSON.stringify(drops)])).toEqual({ acked: 2, retried: 0 });
    expect(await count(env.DB_1, 'events', 'pool-write')).toBe(3);
    expect(await count(env.DB_1, 'rollup_dirty', 'pool-write')).toBe(1);
    expect(await count(env.DB_1, 'drop_counts', 'pool-write')).toBe(1);
    for (const table of ['events', 'rollup_dirty', 'drop_counts'])
      expect(await count(env.DB, table, 'pool-write')).toBe(0);
    // Redelivery writes nothing twice; a deleted (unknown) project's events are dropped and acked.
    expect(await deliver([eventsBody(events), eventsBody(visit('pool-nobody', NOW, 2))])).toEqual({
      acked: 2,
      retried: 0,
    });
    expect(await count(env.DB_1, 'events', 'pool-write')).toBe(3);
    expect(await count(env.DB_1, 'events', 'pool-nobody')).toBe(0);
  });

  it('is rolled up and answered from DB_1, exactly', async () => {
    await insertProject('pool-query', 'DB_1');
    const day = Date.UTC(2026, 4, 1, 10);
    await deliver([eventsBody([...visit('pool-query', day, 3), ...visit('pool-query', day + 3_600_000, 1)])]);
    const project = { id: 'pool-query', timezone: 'UTC', createdAt: Date.UTC(2026, 0, 1), currency: 'USD' };
    const query = QuerySchema.parse({
      project: 'pool-query',
      metrics: ['visitors', 'visits', 'pageviews'],
      date_range: ['2026-05-01', '2026-05-01'],
    });
    const dbs = databasesOf(env, { database: 'DB_1' });
    const raw = await runQuery(dbs, project, query, NOW);
    expect(raw.results[0]?.metrics).toEqual([2, 2, 4]);
    expect(await rollUpAll(env, NOW)).toBeGreaterThanOrEqual(1);
    expect(await count(env.DB_1, 'rollup_dirty', 'pool-query')).toBe(0);
    expect(await count(env.DB_1, 'rollups', 'pool-query')).toBeGreaterThan(0);
    expect(await count(env.DB, 'rollups', 'pool-query')).toBe(0);
    const rolled = await runQuery(dbs, project, QuerySchema.parse({ ...query, project: 'pool-query' }), NOW + 1);
    expect(rolled.results[0]?.metrics).toEqual([2, 2, 4]);
  });

  it('has its expired events purged there, and a project nobody holds swept there', async () => {
    await insertProject('pool-retention', 'DB_1', 30);
    const old = visit('pool-retention', NOW - 40 * DAY, 2);
    const recent = visit('pool-retention', NOW - DAY, 1);
    await deliver([eventsBody([...old, ...recent])]);
    // Events of a project deleted while they were written (the consumer had read the map before).
    await env.DB_1.batch(insertEventStatements(env.DB_1, visit('pool-gone', NOW - DAY, 2)));
    const purged = await purgeExpiredEvents(env, NOW);
    expect(purged.exhausted).toBe(false);
    expect(await count(env.DB_1, 'events', 'pool-retention')).toBe(1);
    expect(await count(env.DB_1, 'events', 'pool-gone')).toBe(0);
    expect(await count(env.DB_1, 'rollup_dirty', 'pool-gone')).toBe(0);
    const state = await env.DB_1.prepare('SELECT raw_from FROM rollup_state WHERE project_id = ?')
      .bind('pool-retention')
      .first<{ raw_from: number }>();
    expect(state?.raw_from).toBe(NOW - 30 * DAY);
  });

  it('is deleted there: no row of it is left in either database', async () => {
    await insertProject('pool-delete', 'DB_1');
    await deliver([eventsBody(visit('pool-delete', Date.UTC(2026, 4, 2, 9), 2))]);
    await rollUpAll(env, NOW);
    expect(await count(env.DB_1, 'rollups', 'pool-delete')).toBeGreaterThan(0);
    await deleteProject(env, 'pool-delete');
    for (const table of ['events', 'rollups', 'rollup_dirty', 'rollup_state', 'rolled_days'])
      expect(await count(env.DB_1, table, 'pool-delete')).toBe(0);
    expect(await projectDb(env, 'pool-delete')).toBeNull();
  });

  it('keeps for later only the messages of a project mapped to a binding this Worker lacks', async () => {
    await insertProject('pool-unbound', 'DB_7');
    await insertProject('pool-bound', 'DB_1');
    expect(await deliver([eventsBody(visit('pool-unbound', NOW, 2)), eventsBody(visit('pool-bound', NOW, 3))])).toEqual(
      { acked: 1, retried: 1 },
    );
    expect(await count(env.DB_1, 'events', 'pool-bound')).toBe(3);
  });

  it('refuses writes once fenced (a move left the database): the consumer retries, nothing is written', async () => {
    await insertProject('pool-fenced', 'DB_1');
    await env.DB_1.prepare('INSERT INTO project_fences (project_id, since) VALUES (?, ?)')
      .bind('pool-fenced', NOW)
      .run();
    const drops = {
      v: 1,
      kind: 'drops',
      projectId: 'pool-fenced',
      totals: [{ day: '2026-05-10', reason: 'bot', count: 1 }],
    };
    expect(await deliver([eventsBody(visit('pool-fenced', NOW, 2)), JSON.stringify(drops)])).toEqual({
      acked: 0,
      retried: 2,
    });
    expect(await count(env.DB_1, 'events', 'pool-fenced')).toBe(0);
    expect(await count(env.DB_1, 'rollup_dirty', 'pool-fenced')).toBe(0);
    // The map switched to DB (as a move's switch does): the retried message lands there.
    await env.DB.prepare("UPDATE projects SET database = 'DB' WHERE id = 'pool-fenced'").run();
    expect(await deliver([eventsBody(visit('pool-fenced', NOW, 2))])).toEqual({ acked: 1, retried: 0 });
    expect(await count(env.DB, 'events', 'pool-fenced')).toBe(2);
  });
});
