/**
 * `GET /api/health`: the version, and whether D1, the queue and the ProjectDO work — each store
 * with its status and the error code seen. 200 when all do, 503 (same body) when any does not, so a
 * load balancer can act on it and the dashboard can say which store is failing.
 *
 * D1 is judged by a probe (`SELECT 1`: reachable) and by what its writers reported (`store/faults.ts`):
 * a full database still answers reads, so only a write that failed can tell.
 */
import type { HealthResponse, StoreStatus } from '@tally/sdk/protocol';
import { Hono } from 'hono';
import type { ProjectDO } from '../live/index.ts';
import type { QueueBody } from '../pipeline/messages.ts';
import { d1CallFault } from '../shared/db-errors.ts';
import { VERSION } from '../shared/version.ts';
import { recentStoreFaults } from '../store/index.ts';

/**
 * Probe every dependency at once; none of the probes stores anything. The endpoint is public, so it
 * says which store fails and with what code, never who saw it or the error's text (those are logged).
 * What the writers reported is read from this isolate's recent copy (`recentStoreFaults`), so a
 * flood of health checks does not become a flood of calls to the one registry object.
 */
export async function checkHealth(env: Env, now: number = Date.now()): Promise<HealthResponse> {
  const probe = (promise: Promise<unknown>, failing: (error: unknown) => StoreStatus) =>
    promise.then(
      (): StoreStatus => ({ status: 'ok' }),
      (error: unknown): StoreStatus => {
        console.error('health check failed:', error instanceof Error ? error.message : String(error));
        return failing(error);
      },
    );
  const stub = env.PROJECT.get(env.PROJECT.idFromName('__health__')) as DurableObjectStub<ProjectDO>;
  const [d1Probe, queue, durableObject, reported] = await Promise.all([
    probe(env.DB.prepare('SELECT 1').first(), (error) => ({
      status: 'failing',
      code: d1CallFault(error) ?? 'store_unavailable',
    })),
    probe(
      (env.EVENTS as Queue<QueueBody>).send(JSON.stringify({ v: 1, kind: 'ping' }), { contentType: 'text' }),
      () => ({
        status: 'failing',
        code: 'queue_unavailable',
      }),
    ),
    probe(stub.ping(), () => ({ status: 'failing', code: 'unavailable' })),
    recentStoreFaults(env, now).catch((error: unknown) => {
      console.error('health: store faults unread:', error instanceof Error ? error.message : String(error));
      return null;
    }),
  ]);
  // The probe failing says more than a report (it is now); a report says what a probe cannot (full);
  // an unread registry leaves it unknown whether D1 takes writes.
  const report = reported?.find((fault) => fault.store === 'd1');
  const d1: StoreStatus =
    d1Probe.status !== 'ok'
      ? d1Probe
      : report
        ? { status: 'failing', code: report.code }
        : reported
          ? d1Probe
          : { status: 'unknown', code: 'fault_registry_unavailable' };
  const ok = (store: StoreStatus) => store.status === 'ok';
  return {
    status: ok(d1) && ok(queue) && ok(durableObject) ? 'ok' : 'degraded',
    version: VERSION,
    stores: { d1, queue, durableObject },
    checks: { d1: ok(d1), queue: ok(queue), durableObject: ok(durableObject) },
  };
}

/** Routes mounted at the app's root. */
export const healthRoutes = new Hono<{ Bindings: Env }>().get('/api/health', async (c) => {
  const health = await checkHealth(c.env);
  c.header('Cache-Control', 'no-store');
  return c.json(health, health.status === 'ok' ? 200 : 503);
});
