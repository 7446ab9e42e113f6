/**
 * What the store's writers saw failing, for `GET /api/health`. A full D1 still answers reads (the
 * health probe's `SELECT 1` included); only a write that needs room fails, and the writers are the
 * queue consumer and the cron. So they report what they saw to one small Durable Object, and
 * health reads it back: a report counts for `FAULT_FRESH_MS`, and a writer that succeeds after a
 * fault clears it — whichever isolate reported it.
 *
 * Deciding whether an error is D1's fault is `shared/db-errors.ts`'s; this file only carries the
 * verdict. Every call to the registry is bounded per isolate: a fault is reported at most once per
 * `REPORT_EVERY_MS`, a writer's success asks the registry at most once per `RECHECK_MS` (at once
 * when this isolate knows of a fault), and health reuses what the isolate last learnt for
 * `HEALTH_CACHE_MS`. The registry is one instance for the whole deployment, so none of these may
 * grow with traffic.
 */
import type { StoreFaultCode } from '@tally/sdk/protocol';
import { DurableObject } from 'cloudflare:workers';

/**
 * The stores a writer reports on. Only D1: the queue's producer is the ProjectDO, whose outbox
 * keeps what a refused send could not deliver, and health probes the queue itself.
 */
export type StoreName = 'd1';

/** One store's last failure: its code, and when it was seen. */
export interface StoreFault {
  store: StoreName;
  code: StoreFaultCode;
  at: number;
}

/**
 * How long a report stands without a newer one. The consumer retries a failing message within
 * 5 minutes at most (its backoff) and the cron runs every 5, so a fault still there is reported
 * again well inside this; one that has cleared without a writer noticing fades out.
 */
export const FAULT_FRESH_MS = 15 * 60_000;
/** An isolate reports the same fault at most this often: an outage must not turn every batch into a registry call. */
const REPORT_EVERY_MS = 30_000;
/** A writer's success asks the registry for a fault to clear at most this often (per isolate). */
const RECHECK_MS = 60_000;
/** Health answers from what this isolate learnt of the registry this recently. */
const HEALTH_CACHE_MS = 10_000;

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
    return [...all.values()].filter((fault) => isFresh(fault, now));
  }
}

function registry(env: Pick<Env, 'STORE_HEALTH'>): DurableObjectStub<StoreHealth> {
  return env.STORE_HEALTH.get(env.STORE_HEALTH.idFromName('stores'));
}

function isFresh(fault: StoreFault, now: number): boolean {
  return now - fault.at < FAULT_FRESH_MS;
}

/** Whether `at` lies within the last `ms` before `now` (a clock that went back counts as stale). */
function within(now: number, at: number, ms: number): boolean {
  return now - at >= 0 && now - at < ms;
}

/** When this isolate last reported each fault. */
const lastReport = new Map<StoreFaultCode, number>();
/** What this isolate last learnt of the registry (by reading it, or by its own report or recovery), and when. */
let learnt: { faults: StoreFault[]; at: number } | null = null;

/**
 * Tell the registry that D1 failed with `code` (the caller decided so: `d1CallFault`). At most once
 * per `REPORT_EVERY_MS` per isolate and code. Never throws: a report that cannot be made is logged,
 * and the writer goes on with its own recovery.
 *
 * @example
 * ```ts
 * const fault = d1CallFault(error);
 * if (fault) await reportD1Fault(env, fault);
 * ```
 */
export async function reportD1Fault(
  env: Pick<Env, 'STORE_HEALTH'>,
  code: StoreFaultCode,
  now: number = Date.now(),
): Promise<void> {
  const last = lastReport.get(code);
  if (last !== undefined && within(now, last, REPORT_EVERY_MS)) return;
  lastReport.set(code, now);
  const fault: StoreFault = { store: 'd1', code, at: now };
  try {
    await registry(env).report(fault);
    learnt = { faults: [fault], at: now };
  } catch (failure) {
    console.error('store fault not reported:', failure instanceof Error ? failure.message : String(failure));
  }
}

/**
 * A write to D1 succeeded at `now`: clear a D1 fault from the registry, whoever reported it. Asks
 * the registry at once if this isolate knows of a fault, else at most once per `RECHECK_MS`; a
 * fault another isolate reported meanwhile is cleared by the next check. Never throws.
 */
export async function reportD1Recovered(env: Pick<Env, 'STORE_HEALTH'>, now: number = Date.now()): Promise<void> {
  const knownClear = learnt && within(now, learnt.at, RECHECK_MS) && !learnt.faults.some((f) => f.store === 'd1');
  if (knownClear) return;
  try {
    await registry(env).recovered('d1', now);
    learnt = { faults: [], at: now };
    lastReport.clear();
  } catch (failure) {
    console.error('store recovery not reported:', failure instanceof Error ? failure.message : String(failure));
  }
}

/**
 * The faults the writers reported recently, for health: from what this isolate learnt within
 * `HEALTH_CACHE_MS`, else from the registry. Throws when the registry cannot be read (health says
 * it cannot tell, rather than that nothing fails).
 */
export async function recentStoreFaults(
  env: Pick<Env, 'STORE_HEALTH'>,
  now: number = Date.now(),
): Promise<StoreFault[]> {
  if (!learnt || !within(now, learnt.at, HEALTH_CACHE_MS)) {
    learnt = { faults: await registry(env).faults(now), at: now };
  }
  return learnt.faults.filter((fault) => isFresh(fault, now));
}
