/** Test helpers for the pool of D1 databases (`d1-pool.test.ts`, `d1-pool-move.test.ts`). */
import { createExecutionContext, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { consumeBatch } from '../src/pipeline/index.ts';
import { messageBatch, storedEvent } from './fixtures.ts';

/** A project row in the control database, its data in pool database `database`. */
export async function insertProject(id: string, database: string, retentionDays = 365): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO projects (id, name, site_key, retention_days, database, created_at, updated_at)
     VALUES (?1, ?1, ?1 || '-key', ?2, ?3, ?4, ?4)`,
  )
    .bind(id, retentionDays, database, Date.UTC(2026, 0, 1))
    .run();
}

/** `n` pageviews of one visit of a project, a minute apart from `start`. */
export function visit(projectId: string, start: number, n: number, visitor = crypto.randomUUID().slice(0, 16)) {
  const session = crypto.randomUUID();
  return Array.from({ length: n }, (_, i) =>
    storedEvent({
      id: crypto.randomUUID(),
      projectId,
      ts: start + i * 60_000,
      visitorId: visitor,
      sessionId: session,
      seq: i + 1,
      isEntry: i === 0,
    }),
  );
}

/** Deliver one batch of bodies to the consumer; how many messages were acked and retried. */
export async function deliver(bodies: unknown[]) {
  const batch = messageBatch('tally-events', bodies);
  await consumeBatch(batch, env);
  const result = await getQueueResult(batch, createExecutionContext());
  return { acked: result.explicitAcks.length, retried: result.retryMessages.length };
}

/** A project's rows of a table in one database. */
export async function count(d1: D1Database, table: string, projectId: string): Promise<number> {
  const row = await d1
    .prepare(`SELECT COUNT(*) AS n FROM "${table}" WHERE project_id = ?`)
    .bind(projectId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
