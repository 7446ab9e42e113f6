/**
 * What the store's writers saw failing, for `GET /api/health`. A full D1 still answers reads (the
 * health probe's `SELECT 1` included); only a write that needs room fails, and the writers are the
 * queue consumer and the cron. So they report what they saw to one small Durable Object, and
 * health reads it back: a report counts for `FAULT_FRESH_MS`, and a writer that succeeds after a
 * fault clears it. Reports are made only on failure (and once on recovery): no request, message or
 * cron tick that succeeds pays for them.
 */
import { DurableObject } from 'cloudflare:workers';
import { type StoreFaultCode, storeFault } from '../shared/db-errors.ts';

/**
 * The stores a writer reports on. Only D1: the queue's producer is the ProjectDO, whose outbox
 * keeps what a refused send could not deliver, and health probes the queue itself.
 */
export type StoreName = 'd1';

/** One store's last failure: its code, when it was seen, and by whom (`consumer`, `cron`). */
export interface StoreFault {
  store: StoreName;
  code: StoreFaultCode;
  at: number;
  seenBy: string;
}

/**
 * How long a report stands without a newer one. The consumer retries a failing message within
 * 5 minutes at most (its backoff) and the cron runs every 5, so a fault still there is reported
 * again well inside this; one that has cleared without a writer noticing fades out.
 */
export const FAULT_FRESH_MS = 15 * 60_000;

/** The one registry of store faults (a single instance, by name). */
export class StoreHealth extends DurableObject<Env> {
  /** Record a fault, unless a newer report of the same store is already there. */
  async report(fault: StoreFault): Promise<void> {
    const known = await this.ctx.storage.get<StoreFault>(fault.store);
    if (!known || known.at <= fault.at) await this.ctx.storage.put(fault.store, fault);
  }

  /** A writer succeeded at `at`: a fault reported before that is over. */
  async recovered(store: StoreName, at: number): Promise<void> {
    const known = await this.ctx.storage.get<StoreFault>(store);
    if (known && known.at <= at) await this.ctx.storage.delete(store);
  }

  /** The faults reported within `FAULT_FRESH_MS` of `now`. */
  async faults(now: number): Promise<StoreFault[]> {
    const all = await this.ctx.storage.list<StoreFault>();
    return [...all.values()].filter((fault) => now - fault.at < FAULT_FRESH_MS);
  }
}

function registry(env: Pick<Env, 'STORE_HEALTH'>): DurableObjectStub<StoreHealth> {
  return env.STORE_HEALTH.get(env.STORE_HEALTH.idFromName('stores'));
}

/** Whether this isolate reported a fault that no success has cleared yet (so recovery is told once). */
const reported = new Set<StoreName>();

/**
 * Tell the registry that a write to D1 failed with `error`, if the store is at fault (full or
 * unavailable, not a statement refused for good). Never throws: a report that cannot be made is
 * logged, and the writer goes on with its own recovery. Returns the fault's code, or null.
 *
 * @example
 * ```ts
 * try { await d1.batch(statements); } catch (error) { await reportStoreFault(env, error, 'consumer'); … }
 * ```
 */
export async function reportStoreFault(
  env: Pick<Env, 'STORE_HEALTH'>,
  error: unknown,
  seenBy: string,
  now: number = Date.now(),
): Promise<StoreFaultCode | null> {
  const code = storeFault(error);
  if (!code) return null;
  reported.add('d1');
  try {
    await registry(env).report({ store: 'd1', code, at: now, seenBy });
  } catch (failure) {
    console.error('store fault not reported:', failure instanceof Error ? failure.message : String(failure));
  }
  return code;
}

/** A write to D1 succeeded: if this isolate reported a fault, it is over. Never throws. */
export async function reportStoreRecovered(env: Pick<Env, 'STORE_HEALTH'>, now: number = Date.now()): Promise<void> {
  if (!reported.delete('d1')) return;
  try {
    await registry(env).recovered('d1', now);
  } catch (failure) {
    console.error('store recovery not reported:', failure instanceof Error ? failure.message : String(failure));
  }
}

/** The faults the writers reported recently (health). */
export function recentStoreFaults(env: Pick<Env, 'STORE_HEALTH'>, now: number = Date.now()): Promise<StoreFault[]> {
  return registry(env).faults(now);
}
