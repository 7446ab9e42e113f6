/**
 * What `GET /api/health` says about the stores, as one sentence for the dashboard's banner (or null
 * when every store works). The worker's answer: `stores.{d1,queue,durableObject}` each `ok` or
 * `failing` with a code (`store_full`, `store_unavailable`, …).
 */

type StoreStatus = { status: 'ok' } | { status: 'failing'; code?: string };

/** The part of the health answer the dashboard reads. */
export interface Health {
  stores?: { d1?: StoreStatus; queue?: StoreStatus; durableObject?: StoreStatus };
}

const failing = (store: StoreStatus | undefined): store is { status: 'failing'; code?: string } =>
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
  return null;
}
