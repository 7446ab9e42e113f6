/**
 * Reviewer's repros for the D1 pool / move feature (wip/d1-pool @ 0328de5). Each test states the
 * behaviour the design promises; a failure is the bug.
 */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { CATALOG_VERSION } from '@tally/sdk/catalog';
import { describe, expect, it } from 'vitest';
import { consumeBatch, DEAD_LETTER_QUEUE } from '../src/pipeline/index.ts';
import { rollUpAll } from '../src/rollup/index.ts';
import { continueMoves, insertEventStatements } from '../src/store/index.ts';
import { eventsBody, messageBatch } from './fixtures.ts';
import { count, insertProject, visit } from './pool-helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 4, 10, 12);
const LATER = Date.now() + 10 * 60_000;

async function startMove(projectId: string, step: string, extra: { attempts?: number; updatedAt?: number } = {}) {
  await env.DB.prepare(
    `INSERT INTO project_moves (project_id, source, target, step, attempts, started_at, updated_at)
     VALUES (?1, 'DB', 'DB_1', ?2, ?3, ?4, ?4)`,
  )
    .bind(projectId, step, extra.attempts ?? 0, extra.updatedAt ?? 0)
    .run();
  await env.DB.prepare('INSERT INTO project_fences (project_id, since) VALUES (?, 0)').bind(projectId).run();
}

describe('review repros', () => {
  it("a moving project's copied marks do not stop the target's own projects from being rolled up", async () => {
    // A project that lives in DB_1, with one closed day to roll up.
    await insertProject('starve-other', 'DB_1');
    await env.DB_1.batch(insertEventStatements(env.DB_1, visit('starve-other', NOW - 2 * DAY, 3)));
    // A project moving DB -> DB_1, its copy done and being verified: its marks (a goal added with
    // history re-marks every hour with events) are in DB_1 now, older than the other's.
    await insertProject('starve-mover', 'DB');
    await startMove('starve-mover', 'verify');
    await env.DB.prepare('UPDATE project_moves SET lease_until = ? WHERE project_id = ?')
      .bind(Date.now() + 3_600_000, 'starve-mover')
      .run();
    const first = Math.floor((NOW - 200 * DAY) / HOUR);
    await env.DB_1.prepare(
      `WITH RECURSIVE h(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM h WHERE x < ?1 + 2199)
       INSERT INTO rollup_dirty (project_id, hour, mark) SELECT 'starve-mover', x, 1 FROM h`,
    )
      .bind(first)
      .run();
    await rollUpAll(env, NOW);
    // BUG: oldestMarksStatement reads DB_1's 2,000 oldest marks, all the mover's; projectSettings
    // drops them (moving), and nothing else is rolled up in DB_1 until the switch.
    expect(await count(env.DB_1, 'rollups', 'starve-other')).toBeGreaterThan(0);
  });

  it("a moving project's copied stale days do not stop the target's own from being rolled up again", async () => {
    // Added with the fix (the finding's second half: markStaleDays reads 20 days a run).
    await insertProject('stale-other', 'DB_1');
    await env.DB_1.batch(insertEventStatements(env.DB_1, visit('stale-other', NOW - 3 * DAY, 2)));
    await rollUpAll(env, NOW);
    const day = new Date(NOW - 3 * DAY).toISOString().slice(0, 10);
    await env.DB_1.prepare('UPDATE rolled_days SET version = 0 WHERE project_id = ? AND day = ?')
      .bind('stale-other', day)
      .run();
    // A project being copied into DB_1 with 40 days rolled up by an older catalog, all older.
    await insertProject('stale-mover', 'DB');
    await startMove('stale-mover', 'verify');
    await env.DB.prepare('UPDATE project_moves SET lease_until = ? WHERE project_id = ?')
      .bind(Date.now() + 3_600_000, 'stale-mover')
      .run();
    await env.DB_1.prepare(
      `WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 40)
       INSERT INTO rolled_days (project_id, day, version) SELECT 'stale-mover', date('2025-01-01', '+' || n || ' days'), 0 FROM d`,
    ).run();
    await rollUpAll(env, NOW);
    expect(
      await env.DB_1.prepare('SELECT version FROM rolled_days WHERE project_id = ? AND day = ?')
        .bind('stale-other', day)
        .first('version'),
    ).toBe(CATALOG_VERSION);
  });

  it('a move the cron has to call off does not stop the other moves of the tick', async () => {
    // Move X: verification already failed twice, and its target still differs (one event too few).
    await insertProject('calloff-x', 'DB');
    await startMove('calloff-x', 'verify', { attempts: 2, updatedAt: 1 });
    await env.DB.prepare("DELETE FROM project_fences WHERE project_id = 'calloff-x'").run();
    await env.DB.batch(insertEventStatements(env.DB, visit('calloff-x', NOW - DAY, 1)));
    await env.DB.prepare("INSERT INTO project_fences (project_id, since) VALUES ('calloff-x', 0)").run();
    // Move Y: an ordinary move, just started.
    await insertProject('calloff-y', 'DB');
    await env.DB.batch(insertEventStatements(env.DB, visit('calloff-y', NOW - DAY, 2)));
    await startMove('calloff-y', 'copy', { updatedAt: 2 });
    // BUG: callOff throws an ApiError(409) out of continueMoves: Y is not worked on and the cron
    // step reports a failure.
    const progress = await continueMoves(env, 60_000, LATER);
    expect(progress.map((p) => p.projectId)).toContain('calloff-y');
    expect(await count(env.DB_1, 'events', 'calloff-y')).toBe(2);
  });

  it('events that wait longer than the queue retries while a move runs are not left in quarantine', async () => {
    // A move of a big project: the cron gives it 10 s every 5 minutes, so it outlasts the main
    // queue's 5 retries and the DLQ's 10 (about 15 minutes in all).
    await insertProject('long-move', 'DB');
    await startMove('long-move', 'copy');
    const events = visit('long-move', NOW - HOUR, 2);
    // Adapted to the merge with main: the DLQ's last try sends a message back to the main queue
    // rather than quarantining it; the send is recorded so that its redelivery can be played.
    const sent: string[] = [];
    const queue = { send: async (body: string) => void sent.push(body) } as unknown as Env['EVENTS'];
    const batch = messageBatch(DEAD_LETTER_QUEUE, [eventsBody(events)], { attempts: 10 });
    await consumeBatch(batch, { ...env, EVENTS: queue });
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toHaveLength(1); // off the dead-letter queue: sent back, not quarantined
    expect(sent).toHaveLength(1);
    expect(
      await env.DB.prepare('SELECT COUNT(*) AS n FROM quarantine WHERE body LIKE ?').bind('%long-move%').first('n'),
    ).toBe(0);
    await continueMoves(env, 60_000, LATER);
    expect(
      (await env.DB.prepare('SELECT database FROM projects WHERE id = ?').bind('long-move').first())?.database,
    ).toBe('DB_1');
    // The sent-back message's next delivery lands in the project's new database.
    const again = messageBatch('tally-events', sent);
    await consumeBatch(again, env);
    expect((await getQueueResult(again, createExecutionContext())).explicitAcks).toHaveLength(1);
    expect(await count(env.DB_1, 'events', 'long-move')).toBe(2);
  });
});
