/**
 * Moving a project between the pool's two local databases (`store/move.ts`): the copy, the check,
 * the switch and the deletion; events sent meanwhile through the real consumer; crashes between
 * steps, each finished by calling again; and the requests a move refuses.
 */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app.ts';
import { consumeBatch, DEAD_LETTER_MAX_RETRIES, DEAD_LETTER_QUEUE, MAX_SEND_BACKS } from '../src/pipeline/consumer.ts';
import { OPERATOR_HEADER } from '../src/auth/index.ts';
import { rollUpAll } from '../src/rollup/index.ts';
import { continueMoves, insertEventStatements, moveProject } from '../src/store/index.ts';
import { MOVED_TABLES } from '../src/store/move-rows.ts';
import { api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { eventsBody, messageBatch } from './fixtures.ts';
import { expectError } from './helpers.ts';
import { count, deliver, insertProject, visit } from './pool-helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 4, 10, 12);
/** Past any lease a crashed call left (`LEASE_MS` in move.ts). */
const LATER = Date.now() + 10 * 60_000;

/** Every row of a project in one database, table by table, as text in key order. */
async function rowsOf(d1: D1Database, projectId: string): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of MOVED_TABLES) {
    const { results } = await d1
      .prepare(
        `SELECT json_array(${table.columns.map((c) => `"${c}"`).join(', ')}) AS r FROM "${table.name}"
         WHERE project_id = ? ORDER BY ${['project_id', ...table.key].map((c) => `"${c}"`).join(', ')}`,
      )
      .bind(projectId)
      .all<{ r: string }>();
    rows[table.name] = results.map((row) => row.r);
  }
  return rows;
}

const database = async (projectId: string) =>
  (await env.DB.prepare('SELECT database FROM projects WHERE id = ?').bind(projectId).first<{ database: string }>())
    ?.database;
const moves = async (projectId: string) =>
  env.DB.prepare('SELECT step, table_index AS tableIndex, cursor, attempts FROM project_moves WHERE project_id = ?')
    .bind(projectId)
    .first<{ step: string; tableIndex: number; cursor: string | null; attempts: number }>();
const fenced = async (d1: D1Database, projectId: string) =>
  (await d1.prepare('SELECT 1 FROM project_fences WHERE project_id = ?').bind(projectId).first()) !== null;

/** A project in `DB` with `n` events over past days (rolled up), today's hours, a revenue and drop totals. */
async function seeded(projectId: string, n: number, from = 'DB'): Promise<void> {
  await insertProject(projectId, from);
  const events = Array.from({ length: Math.ceil(n / 5) }, (_, i) =>
    visit(projectId, NOW - 5 * DAY + ((i * 7 * 60_000) % (5 * DAY)), 5),
  )
    .flat()
    .slice(0, n);
  const d1 = env[from as 'DB'];
  for (let i = 0; i < events.length; i += 500) await d1.batch(insertEventStatements(d1, events.slice(i, i + 500)));
  const sale = { ...visit(projectId, NOW - 2 * DAY, 1)[0], name: 'purchase', revenueAmount: 19.99 };
  const drops = { v: 1, kind: 'drops', projectId, totals: [{ day: '2026-05-09', reason: 'bot', count: 3 }] };
  expect(await deliver([eventsBody([sale as never]), JSON.stringify(drops)])).toEqual({ acked: 2, retried: 0 });
  await rollUpAll(env, NOW);
  // An hour of today, marked and not rolled up yet.
  await d1.batch(insertEventStatements(d1, visit(projectId, NOW - HOUR, 2)));
}

/**
 * `d1` whose calls of `method` fail once `when` says so: an injected crash. The error leaves the
 * mover where a lost Worker would stop (a lost Worker's lease would also be left to run out).
 */
function failing(d1: D1Database, method: 'batch' | 'prepare', when: (sql: string, calls: number) => boolean) {
  let calls = 0;
  return new Proxy(d1, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== method) return value.bind(target);
      return (...args: unknown[]) => {
        calls += 1;
        if (when(String(args[0]), calls)) throw new Error('injected crash');
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** `d1` counting its calls into `tally`: each statement run alone, and each batch, is one. */
function counted(d1: D1Database, tally: { calls: number }): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== 'function') return value;
        if (property === 'bind') return (...args: unknown[]) => wrap(value.apply(target, args) as D1PreparedStatement);
        if (['run', 'all', 'first', 'raw'].includes(String(property)))
          return (...args: unknown[]) => {
            tally.calls += 1;
            return value.apply(target, args);
          };
        return value.bind(target);
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'prepare') return (sql: string) => wrap(target.prepare(sql));
      if (property === 'batch')
        return (statements: D1PreparedStatement[]) => {
          tally.calls += 1;
          return target.batch(statements.map((statement) => originals.get(statement) ?? statement));
        };
      return value.bind(target);
    },
  });
}

describe('a move', () => {
  it('copies every table, verifies it, switches the map and deletes the source', async () => {
    await seeded('move-whole', 2_600);
    // The archive's state of the project (data plane: records, a skipped day, the lease, an object
    // not yet recorded) moves with it; its R2 objects stay under the project's prefix.
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO archived_days VALUES ('move-whole', '2026-01-02', 'archive/move-whole/2026-01-02.p', 3, 'c', 9, 1)",
      ),
      env.DB.prepare("INSERT INTO archive_skipped VALUES ('move-whole', '2026-01-03', 20001, 1)"),
      env.DB.prepare("INSERT INTO archive_runs (project_id, holder, expires_at) VALUES ('move-whole', 'h', 0)"),
      env.DB.prepare(
        "INSERT INTO archive_pending VALUES ('archive/move-whole/2026-01-04.p', 'move-whole', '2026-01-04', 1)",
      ),
    ]);
    const before = await rowsOf(env.DB, 'move-whole');
    expect(before.events).toHaveLength(2_603);
    for (const table of MOVED_TABLES.map((moved) => moved.name).filter((name) => !name.endsWith('_hours')))
      expect(before[table]?.length, table).toBeGreaterThan(0);
    const progress = await moveProject(env, 'move-whole', 'DB_1', { budgetMs: 60_000 });
    expect(progress).toMatchObject({ step: 'done', source: 'DB', target: 'DB_1', attempts: 0, busy: false });
    expect(await database('move-whole')).toBe('DB_1');
    expect(await rowsOf(env.DB_1, 'move-whole')).toEqual(before);
    for (const table of MOVED_TABLES) expect(await count(env.DB, table.name, 'move-whole'), table.name).toBe(0);
    expect(await moves('move-whole')).toBeNull();
    // The source keeps refusing the project's writes; the target takes them and rolls them up.
    expect(await fenced(env.DB, 'move-whole')).toBe(true);
    expect(await deliver([eventsBody(visit('move-whole', NOW - 3 * HOUR, 2))])).toEqual({ acked: 1, retried: 0 });
    expect(await count(env.DB_1, 'events', 'move-whole')).toBe(2_605);
    expect(await rollUpAll(env, NOW + DAY)).toBeGreaterThan(0);
    expect(await count(env.DB_1, 'rollup_dirty', 'move-whole')).toBe(0);
    // And back: the fence the first move left in DB is lowered for the second.
    expect((await moveProject(env, 'move-whole', 'DB', { budgetMs: 60_000 })).step).toBe('done');
    expect(await count(env.DB, 'events', 'move-whole')).toBe(2_605);
    expect(await fenced(env.DB, 'move-whole')).toBe(false);
    expect(await fenced(env.DB_1, 'move-whole')).toBe(true);
  });

  it('stops at its budget of D1 calls as at its time budget, and the next call carries on', async () => {
    await seeded('move-calls', 2_600);
    const tally = { calls: 0 };
    const pool = { ...env, DB: counted(env.DB, tally), DB_1: counted(env.DB_1, tally) };
    const calls = 40;
    const first = await moveProject(pool, 'move-calls', 'DB_1', { budgetMs: 600_000, calls });
    expect(first.step).not.toBe('done');
    expect(tally.calls).toBeGreaterThan(calls / 2);
    expect(tally.calls).toBeLessThanOrEqual(calls);
    // The cron's moves share one count.
    tally.calls = 0;
    await continueMoves(pool, 600_000, LATER, calls);
    expect(tally.calls).toBeLessThanOrEqual(calls);
    let progress = first;
    for (let call = 0; call < 100 && progress.step !== 'done'; call++)
      progress = await moveProject(env, 'move-calls', 'DB_1', { budgetMs: 600_000, calls, now: LATER });
    expect(progress.step).toBe('done');
    expect(await count(env.DB_1, 'events', 'move-calls')).toBe(2_603);
    expect(await count(env.DB, 'events', 'move-calls')).toBe(0);
  });

  it('loses nothing of a move that lasts longer than every queue retry and send-back trip', async () => {
    await seeded('move-long', 20);
    // The move is under way: the source is fenced, and it will not switch for hours.
    await env.DB.prepare(
      `INSERT INTO project_moves (project_id, source, target, step, started_at, updated_at)
       VALUES ('move-long', 'DB', 'DB_1', 'copy', 0, 0)`,
    ).run();
    await env.DB.prepare("INSERT INTO project_fences (project_id, since) VALUES ('move-long', 0)").run();
    const events = visit('move-long', NOW - HOUR, 3);
    const sent: string[] = [];
    const queue = { send: async (body: string) => void sent.push(body) } as unknown as Env['EVENTS'];
    const consumer = { ...env, EVENTS: queue };
    let body = eventsBody(events) as string;
    // More trips than MAX_SEND_BACKS, each a message's whole life on both queues: retried on the
    // main queue's 6 deliveries and the dead-letter queue's first 10, sent back on its last.
    for (let trip = 0; trip < MAX_SEND_BACKS + 2; trip++) {
      for (const [queueName, deliveries] of [
        ['tally-events', 6],
        [DEAD_LETTER_QUEUE, DEAD_LETTER_MAX_RETRIES],
      ] as const) {
        for (let attempts = 1; attempts <= deliveries; attempts++) {
          const batch = messageBatch(queueName, [body], { attempts });
          await consumeBatch(batch, consumer);
          const result = await getQueueResult(batch, createExecutionContext());
          const last = queueName === DEAD_LETTER_QUEUE && attempts === DEAD_LETTER_MAX_RETRIES;
          expect({ acked: result.explicitAcks.length, retried: result.retryMessages.length }).toEqual(
            last ? { acked: 1, retried: 0 } : { acked: 0, retried: 1 },
          );
        }
      }
      expect(sent).toHaveLength(trip + 1);
      body = sent[trip] as string;
      // A fence's trip is not D1 refusing the message: not counted towards quarantine.
      expect(JSON.parse(body).sentBack).toBeUndefined();
    }
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM quarantine WHERE body LIKE '%move-long%'").first('n')).toBe(
      0,
    );
    // The move ends; the message's next delivery lands in the target, every event of it.
    expect((await continueMoves(env, 60_000, LATER)).map((move) => move.step)).toEqual(['done']);
    expect(await deliver([body])).toEqual({ acked: 1, retried: 0 });
    expect(await count(env.DB_1, 'events', 'move-long')).toBe(26);
  });

  it('lands every event sent meanwhile in the target exactly once, through the consumer', async () => {
    await seeded('move-live', 300);
    const early = visit('move-live', NOW - 2 * HOUR, 3);
    expect(await deliver([eventsBody(early)])).toEqual({ acked: 1, retried: 0 });
    // The move starts and is cut short after its first chunk of events.
    const crash = failing(env.DB_1, 'batch', (_, calls) => calls > 1);
    await expect(moveProject({ ...env, DB_1: crash }, 'move-live', 'DB_1')).rejects.toThrow(/injected crash/);
    expect(await moves('move-live')).toMatchObject({ step: 'copy' });
    // Meanwhile: the source is fenced, so the consumer retries; the cron's rollups leave it be.
    const during = visit('move-live', NOW - HOUR, 4);
    expect(await deliver([eventsBody(during), eventsBody(early)])).toEqual({ acked: 0, retried: 2 });
    await rollUpAll(env, NOW + DAY);
    expect(await count(env.DB, 'rollup_dirty', 'move-live')).toBeGreaterThan(0);
    await expect(
      env.DB.prepare("INSERT INTO rolled_days (project_id, day, version) VALUES ('move-live', '2026-01-01', 1)").run(),
    ).rejects.toThrow(/project moving/);
    // The cron finishes the move; the retried messages then land in the target.
    const [progress] = await continueMoves(env, 60_000, LATER);
    expect(progress).toMatchObject({ projectId: 'move-live', step: 'done' });
    expect(await deliver([eventsBody(during), eventsBody(early)])).toEqual({ acked: 2, retried: 0 });
    const stored = await env.DB_1.prepare('SELECT id FROM events WHERE project_id = ?').bind('move-live').all<{
      id: string;
    }>();
    const ids = stored.results.map((row) => row.id);
    expect(ids).toHaveLength(300 + 1 + 2 + 3 + 4);
    expect(new Set(ids).size).toBe(ids.length);
    for (const event of [...early, ...during]) expect(ids).toContain(event.id);
    expect(await count(env.DB, 'events', 'move-live')).toBe(0);
  });

  it('finished by a second call after the switch failed, or the deletion of the source stopped', async () => {
    await seeded('move-switch', 50);
    const before = await rowsOf(env.DB, 'move-switch');
    const noSwitch = failing(env.DB, 'batch', () => true);
    await expect(moveProject({ ...env, DB: noSwitch }, 'move-switch', 'DB_1')).rejects.toThrow(/injected crash/);
    expect(await moves('move-switch')).toMatchObject({ step: 'switch' });
    expect(await database('move-switch')).toBe('DB');
    // A lost Worker's lease is left behind: a call before it runs out does nothing.
    await env.DB.prepare('UPDATE project_moves SET lease_until = ? WHERE project_id = ?')
      .bind(Date.now() + 60_000, 'move-switch')
      .run();
    expect(await moveProject(env, 'move-switch', 'DB_1')).toMatchObject({ step: 'switch', busy: true });
    // Once it has: the switch, then a deletion that stops part-way, then the rest.
    const noDelete = failing(env.DB, 'prepare', (sql) => sql.startsWith('DELETE FROM "rollups"'));
    await expect(moveProject({ ...env, DB: noDelete }, 'move-switch', 'DB_1', { now: LATER })).rejects.toThrow(
      /injected crash/,
    );
    expect(await moves('move-switch')).toMatchObject({ step: 'clean', tableIndex: 1 });
    expect(await database('move-switch')).toBe('DB_1');
    expect(await count(env.DB, 'events', 'move-switch')).toBe(0);
    expect(await count(env.DB, 'rollups', 'move-switch')).toBeGreaterThan(0);
    expect((await moveProject(env, 'move-switch', 'DB_1', { now: LATER })).step).toBe('done');
    expect(await rowsOf(env.DB_1, 'move-switch')).toEqual(before);
    for (const table of MOVED_TABLES) expect(await count(env.DB, table.name, 'move-switch')).toBe(0);
  });

  it('copies again what verification finds different', async () => {
    await seeded('move-verify', 40);
    const before = await rowsOf(env.DB, 'move-verify');
    const noVerify = failing(env.DB_1, 'prepare', (sql) => sql.includes('move_row'));
    await expect(moveProject({ ...env, DB_1: noVerify }, 'move-verify', 'DB_1')).rejects.toThrow(/injected crash/);
    expect(await moves('move-verify')).toMatchObject({ step: 'verify', tableIndex: 0 });
    // A copied row lost, and one the source never had.
    await env.DB_1.prepare('DELETE FROM events WHERE rowid = (SELECT MIN(rowid) FROM events WHERE project_id = ?)')
      .bind('move-verify')
      .run();
    await env.DB_1.batch(insertEventStatements(env.DB_1, visit('move-verify', NOW - DAY, 1)));
    expect(await moveProject(env, 'move-verify', 'DB_1', { now: LATER })).toMatchObject({ step: 'done', attempts: 1 });
    expect(await rowsOf(env.DB_1, 'move-verify')).toEqual(before);
  });

  it('refuses an unknown database, the one the project is on, a missing project and a second target', async () => {
    await insertProject('move-refused', 'DB');
    await expect(moveProject(env, 'move-refused', 'DB_7')).rejects.toMatchObject({ status: 400 });
    await expect(moveProject(env, 'move-refused', 'DB')).rejects.toMatchObject({ status: 409 });
    await expect(moveProject(env, 'move-nobody', 'DB_1')).rejects.toMatchObject({ status: 404 });
    await env.DB.prepare(
      `INSERT INTO project_moves (project_id, source, target, step, started_at, updated_at, lease_until)
       VALUES ('move-refused', 'DB', 'DB_1', 'copy', 0, 0, ?)`,
    )
      .bind(Date.now() + 60_000)
      .run();
    await expect(moveProject(env, 'move-refused', 'DB')).rejects.toMatchObject({ status: 409 });
  });

  it('is the operator’s route: 404 to an owner without the token, as for no route; 200 once moved with it', async () => {
    const owner = await signUp();
    const project = await createProjectAs(owner.token);
    const path = `/api/projects/${project.id}/move`;
    const move = (body: unknown, headers: Record<string, string> = {}) =>
      api(path, { method: 'POST', token: owner.token, body, headers });
    const asOperator = (body: unknown) => move(body, { [OPERATOR_HEADER]: 'test-operator-token' });
    // The owner is not the operator: no token, or a wrong one, and the route does not exist for
    // them (the same answer as an unknown route); nothing is read or started.
    const noRoute = await (await api('/api/no-such-route')).text();
    const refused: Record<string, string>[] = [
      {},
      { [OPERATOR_HEADER]: 'test-operator-tokeN' },
      { [OPERATOR_HEADER]: '' },
    ];
    for (const headers of refused) {
      const res = await move({ database: 'DB_1' }, headers);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe(noRoute);
    }
    await expectError(await move({ database: 'DB_9' }), 404, 'not_found');
    expect(
      await env.DB.prepare('SELECT COUNT(*) AS n FROM project_moves WHERE project_id = ?').bind(project.id).first('n'),
    ).toBe(0);
    // Where no operator token is set, the route does not exist, token or not.
    const unset = { ...env, OPERATOR_TOKEN: '' };
    const request = (headers: Record<string, string>) =>
      app.request(
        path,
        { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"database":"DB_1"}' },
        unset,
        createExecutionContext(),
      );
    await expectError(await request({ [OPERATOR_HEADER]: '' }), 404, 'not_found');
    await expectError(await request({ [OPERATOR_HEADER]: 'test-operator-token' }), 404, 'not_found');
    // The operator's errors name neither what was sent nor the pool's bindings.
    const unknown = await asOperator({ database: 'DB_9' });
    expect(unknown.status).toBe(400);
    const text = await unknown.text();
    expect(text).not.toMatch(/DB_9|DB_1|"DB"/);
    await expectError(await asOperator({ database: 'DB' }), 409, 'conflict');
    await expectError(await asOperator({}), 400, 'invalid_input');
    const body = await expectJson<{ move: { step: string; target: string } }>(
      await asOperator({ database: 'DB_1' }),
      200,
    );
    expect(body.move).toMatchObject({ step: 'done', source: 'DB', target: 'DB_1', busy: false });
    expect(await database(project.id)).toBe('DB_1');
    // The token alone is the authority: no user session needed.
    await expectError(
      await api('/api/projects/nope/move', {
        method: 'POST',
        body: { database: 'DB' },
        headers: { [OPERATOR_HEADER]: 'test-operator-token' },
      }),
      404,
      'not_found',
    );
  });
});
