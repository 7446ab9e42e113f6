/**
 * What `GET /api/health` says about the stores, as one sentence for the dashboard's banner (or null
 * when every store works). The answer's shape is the protocol's (`@tally/sdk/protocol`).
 */
import type { HealthResponse, StoreStatus } from '@tally/sdk/protocol';

/** The part of the health answer the dashboard reads (any of it may be missing from an older worker). */
export type Health = { stores?: Partial<HealthResponse['stores']> };

const failing = (store: StoreStatus | undefined): store is Extract<StoreStatus, { status: 'failing' }> =>
  store?.status === 'failing';

/**
 * The banner's sentence: which store fails, and what that means for the numbers.
 *
 * @example
 * ```ts
 * storeProblem({ stores: { d1: { status: 'failing', code: 'store_full' } } }); // 'The database is full. …'
 * ```
 */
export function storeProblem(health: Health | null | undefined): string | null {
  const { d1, queue, durableObject } = health?.stores ?? {};
  if (failing(durableObject)) return 'Event intake is unavailable: new events may be refused until it is back.';
  if (failing(d1)) {
    return d1.code === 'store_full'
      ? 'The database is full. New events are kept and counted once it has room; until then the numbers lag.'
      : 'The database is unavailable. New events are kept and counted once it is back; until then the numbers may be missing or late.';
  }
  if (failing(queue)) return 'The event queue is unavailable. New events are kept and counted once it is back.';
  if (d1?.status === 'unknown')
    return 'Whether the database takes new events cannot be told right now; the numbers may lag.';
  return null;
}
