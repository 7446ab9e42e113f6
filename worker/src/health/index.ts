/**
 * `GET /api/health`: the version, and whether D1, the queue and the ProjectDO respond.
 * 200 when all do, 503 (same body) when any does not, so a load balancer can act on it.
 */
import { Hono } from 'hono';
import type { ProjectDO } from '../live/index.ts';
import type { QueueBody } from '../pipeline/messages.ts';
import { VERSION } from '../shared/version.ts';

/** Which dependencies answered. */
export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  checks: { d1: boolean; queue: boolean; durableObject: boolean };
}

/** Probe every dependency at once; none of the probes stores anything. */
export async function checkHealth(env: Env): Promise<Health> {
  const probe = (promise: Promise<unknown>) =>
    promise.then(
      () => true,
      (error: unknown) => {
        console.error('health check failed:', error instanceof Error ? error.message : String(error));
        return false;
      },
    );
  const stub = env.PROJECT.get(env.PROJECT.idFromName('__health__')) as DurableObjectStub<ProjectDO>;
  const [d1, queue, durableObject] = await Promise.all([
    probe(env.DB.prepare('SELECT 1').first()),
    probe((env.EVENTS as Queue<QueueBody>).send(JSON.stringify({ v: 1, kind: 'ping' }), { contentType: 'text' })),
    probe(stub.ping()),
  ]);
  return {
    status: d1 && queue && durableObject ? 'ok' : 'degraded',
    version: VERSION,
    checks: { d1, queue, durableObject },
  };
}

/** Routes mounted at the app's root. */
export const healthRoutes = new Hono<{ Bindings: Env }>().get('/api/health', async (c) => {
  const health = await checkHealth(c.env);
  c.header('Cache-Control', 'no-store');
  return c.json(health, health.status === 'ok' ? 200 : 503);
});
