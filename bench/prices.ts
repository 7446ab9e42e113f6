/**
 * Cloudflare's list prices on the Workers Paid plan: the one table the bench prices what it counts
 * with (`cost.ts`). Monthly allowances included in the plan ($5) are left out on purpose: a figure
 * per million events is the price of the next million.
 *
 * Read on 2026-12-07 from Cloudflare's pricing pages (their source in cloudflare/cloudflare-docs):
 * - Workers: https://developers.cloudflare.com/workers/platform/pricing/
 * - Durable Objects: https://developers.cloudflare.com/durable-objects/platform/pricing/
 *   (`storage_api_pricing.mdx`: "Each `setAlarm` is billed as a single row written")
 * - D1: https://developers.cloudflare.com/d1/platform/pricing/
 * - Queues: https://developers.cloudflare.com/queues/platform/pricing/
 * - R2: https://developers.cloudflare.com/r2/pricing/
 */

/** When the prices below were read. */
export const PRICES_READ_ON = '2026-12-07';

/** One price: dollars per unit, what the unit is, and the page that says so. */
export interface Price {
  usd: number;
  unit: string;
  source: string;
}

const WORKERS = 'https://developers.cloudflare.com/workers/platform/pricing/';
const DURABLE_OBJECTS = 'https://developers.cloudflare.com/durable-objects/platform/pricing/';
const D1 = 'https://developers.cloudflare.com/d1/platform/pricing/';
const QUEUES = 'https://developers.cloudflare.com/queues/platform/pricing/';
const R2 = 'https://developers.cloudflare.com/r2/pricing/';

const perMillion = (usd: number) => usd / 1_000_000;

/** The price table. */
export const PRICES = {
  workerRequest: { usd: perMillion(0.3), unit: 'request (incl. queue consumer and cron invocations)', source: WORKERS },
  workerCpuMs: { usd: perMillion(0.02), unit: 'CPU millisecond', source: WORKERS },
  doRequest: { usd: perMillion(0.15), unit: 'request (HTTP, RPC session, alarm invocation)', source: DURABLE_OBJECTS },
  doDurationGbS: { usd: perMillion(12.5), unit: 'GB-second of wall time (128 MB per object)', source: DURABLE_OBJECTS },
  doRowRead: { usd: perMillion(0.001), unit: 'SQLite row read', source: DURABLE_OBJECTS },
  doRowWritten: {
    usd: perMillion(1),
    unit: 'SQLite row written (an index entry is a row; so is a setAlarm)',
    source: DURABLE_OBJECTS,
  },
  doStorageGbMonth: { usd: 0.2, unit: 'GB-month of SQLite storage', source: DURABLE_OBJECTS },
  d1RowRead: { usd: perMillion(0.001), unit: 'row read', source: D1 },
  d1RowWritten: { usd: perMillion(1), unit: 'row written (an index entry is a row)', source: D1 },
  d1StorageGbMonth: { usd: 0.75, unit: 'GB-month', source: D1 },
  queueOperation: { usd: perMillion(0.4), unit: 'operation (each 64 KB written, read or deleted)', source: QUEUES },
  r2ClassA: { usd: perMillion(4.5), unit: 'Class A operation (PutObject, ListObjects, …)', source: R2 },
  r2ClassB: { usd: perMillion(0.36), unit: 'Class B operation (GetObject, HeadObject, …)', source: R2 },
  r2StorageGbMonth: { usd: 0.015, unit: 'GB-month (Standard storage)', source: R2 },
} as const satisfies Record<string, Price>;

/** A name of the table. */
export type PriceName = keyof typeof PRICES;

/** Memory a Durable Object is billed for while active (its duration is GB-seconds of this). */
export const DO_MEMORY_GB = 0.128;

/** Bytes in one Queues operation (a message is billed per started 64 KB, with ~100 bytes of metadata). */
export const QUEUE_OPERATION_BYTES = 64_000;
export const QUEUE_MESSAGE_OVERHEAD_BYTES = 100;
