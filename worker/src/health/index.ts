/**
 * `GET /api/health`: the version, and whether D1, the queue and the ProjectDO work — each store
 * with its status and the error code seen. 200 when all do, 503 (same body) when any does not, so a
 * load balancer can act on it and the dashboard can say which store is failing.
 *
 * D1 is judged by a probe (`SELECT 1`: reachable) and by what its writers reported (`store/faults.ts`):
 * a full database still answers reads, so only a write that failed can tell.
 */
import { Hono } from 'hono';
import type { ProjectDO } from '../live/index.ts';
import type { QueueBody } from '../pipeline/messages.ts';
import { storeFault } from '../shared/db-errors.ts';
import { VERSION } from '../shared/version.ts';
import { recentStoreFaults, type StoreFault } from '../store/index.ts';

/** One store: `ok`, or failing with a code (`store_full`, `store_unavailable`, `queue_unavailable`, …). */
export type StoreStatus = { status: 'ok' } | { status: 'failing'; code: string; seenAt?: string; seenBy?: string };

/** Which dependencies work. `checks` is the same as booleans (kept for existing probes). */
export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  stores: { d1: StoreStatus; queue: StoreStatus; durableObject: StoreStatus };
  checks: { d1: boolean; queue: boolean; durableObject: boolean };
}

/** Probe every dependency at once; none of the probes stores anything. */
export async function checkHealth(env: Env, now: number = Date.now()): Promise<Health> {
  const probe = (promise: Promise<unknown>, code: (error: unknown) => string) =>
    promise.then(
      (): StoreStatus => ({ status: 'ok' }),
      (error: unknown): StoreStatus => {
        console.error('health check failed:', error instanceof Error ? error.message : String(error));
        return { status: 'failing', code: code(error) };
      },
    );
  const stub = env.PROJECT.get(env.PROJECT.idFromName('__health__')) as DurableObjectStub<ProjectDO>;
  const [d1Probe, queue, durableObject, reported] = await Promise.all([
    probe(env.DB.prepare('SELECT 1').first(), (error) => storeFault(error) ?? 'store_unavailable'),
    probe(
      (env.EVENTS as Queue<QueueBody>).send(JSON.stringify({ v: 1, kind: 'ping' }), { contentType: 'text' }),
      () => 'queue_unavailable',
    ),
    probe(stub.ping(), () => 'unavailable'),
    recentStoreFaults(env, now).catch(() => [] as StoreFault[]),
  ]);
  // The probe failing says more than a report (it is now); a report says what a probe cannot (full).
  const report = reported.find((fault) => fault.store === 'd1');
  const d1: StoreStatus =
    d1Probe.status === 'ok' && report
      ? { status: 'failing', code: report.code, seenAt: new Date(report.at).toISOString(), seenBy: report.seenBy }
      : d1Probe;
  const stores = { d1, queue, durableObject };
  const ok = (store: StoreStatus) => store.status === 'ok';
  return {
    status: ok(d1) && ok(queue) && ok(durableObject) ? 'ok' : 'degraded',
    version: VERSION,
    stores,
    checks: { d1: ok(d1), queue: ok(queue), durableObject: ok(durableObject) },
  };
}

/** Routes mounted at the app's root. */
export const healthRoutes = new Hono<{ Bindings: Env }>().get('/api/health', async (c) => {
  const health = await checkHealth(c.env);
  c.header('Cache-Control', 'no-store');
  return c.json(health, health.status === 'ok' ? 200 : 503);
});
