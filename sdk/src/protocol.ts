/**
 * Tally's wire protocol, version 1: the JSON the tracker and the SDK send to `POST /api/event`.
 *
 * This module is the single definition of the wire format. It has no dependencies so that the
 * tracker can import it at no size cost; the worker builds its zod schema from these names and
 * limits (`worker/src/ingest/schema.ts`), so the two cannot drift apart.
 *
 * Field names are one or two letters because every byte of the tracker counts.
 *
 * @example
 * ```ts
 * const event: WireEvent = { s: 'demo', n: 'pageview', u: location.href, r: document.referrer, w: innerWidth };
 * navigator.sendBeacon('/api/event', JSON.stringify(event));
 * ```
 */

/** The event name of a page view; every other name is a custom event. */
export const PAGEVIEW = 'pageview';

/** The path events are sent to, relative to the API origin. */
export const EVENT_PATH = '/api/event';

/** The header that carries a secret API key for server-side ingestion (`Authorization: Bearer` works too). */
export const API_KEY_HEADER = 'x-tally-key';

/**
 * Hard limits, checked by the worker. They follow Plausible's: generous for real sites, small
 * enough that one request cannot make a row large or a batch slow.
 */
export const LIMITS = {
  /** Bytes of one request body; larger bodies get 413 before they are parsed. */
  bodyBytes: 64 * 1024,
  /** Events in one batch request. */
  batchEvents: 50,
  /** Characters of a page URL or a referrer. */
  urlChars: 2000,
  /** Characters of an event name. */
  nameChars: 120,
  /** Properties on one event. */
  props: 30,
  /** Characters of a property key. */
  propKeyChars: 300,
  /** Characters of a string property value. */
  propValueChars: 2000,
  /** Characters of a site key. */
  siteKeyChars: 64,
  /** Characters of a user agent supplied by server-side ingestion. */
  userAgentChars: 1024,
  /** Largest accepted screen width in CSS pixels. */
  screenWidth: 100_000,
  /** Largest absolute revenue amount. */
  revenueAmount: 1e12,
  /** How far in the past a client timestamp may lie; older ones are clamped to this. */
  pastMs: 60 * 60 * 1000,
  /** How far in the future a client timestamp may lie; later ones are clamped to this. */
  futureMs: 5 * 60 * 1000,
} as const;

/**
 * Whether `key` is a property key as stored: 1 to {@link LIMITS.propKeyChars} characters, none of
 * them a control character (ingest removes those). Ingest keeps only such keys and the stats API
 * accepts every one of them in `event:props:<key>`, quotes and backslashes included.
 */
export function isPropertyKey(key: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  return key.length >= 1 && key.length <= LIMITS.propKeyChars && !/[\u0000-\u001f\u007f]/.test(key);
}

/** A property value: flat, never nested. */
export type PropValue = string | number | boolean;

/** Revenue attached to an event: an amount in an ISO 4217 currency. */
export interface WireRevenue {
  /** Amount, e.g. `9.99`. */
  a: number;
  /** ISO 4217 currency code, e.g. `EUR`. */
  c: string;
}

/** One event as sent on the wire. */
export interface WireEvent {
  /** Public site key of the project (what the script tag carries). Optional with an API key. */
  s?: string;
  /** Event name: `pageview` or a custom name such as `signup`. */
  n: string;
  /** Absolute http(s) URL of the page the event happened on. */
  u: string;
  /** `document.referrer`, empty or absent when there is none. */
  r?: string;
  /** Screen width in CSS pixels (the device class is derived from it). */
  w?: number;
  /** Hash-based routing: when true, the URL's `#/…` fragment is part of the page path. */
  h?: boolean;
  /** Custom properties, a flat map of strings, numbers and booleans. */
  p?: Record<string, PropValue>;
  /** Revenue, for goals that carry money. */
  $?: WireRevenue;
  /** Client timestamp in ms since the epoch; clamped to now − 1 h … now + 5 min. */
  t?: number;
  /** Client event id (a UUID); a retried event with the same id is stored once. */
  i?: string;
  /** Visitor's IP address. Only requests authenticated with an API key may send it. */
  ip?: string;
  /** Visitor's user agent. Only requests authenticated with an API key may send it. */
  ua?: string;
}

/** A request body: one event, or a batch of up to `LIMITS.batchEvents`. */
export type WireBody = WireEvent | WireEvent[];

/**
 * The body of a `202 Accepted` answer: the ids of the events that were stored. Events of a batch
 * that failed validation are listed in `rejected` (absent when there are none) while the rest are
 * stored; a body whose every event is invalid is answered with an error instead.
 */
export interface AcceptedResponse {
  accepted: number;
  ids: string[];
  rejected?: RejectedEvent[];
}

/** An event of a batch that was refused: its index in the batch and why, in the error shape. */
export interface RejectedEvent {
  index: number;
  error: ErrorResponse['error'];
}

/** The body of every error answer. */
export interface ErrorResponse {
  error: { code: string; message: string; details?: unknown };
}

/**
 * How a store says it is failing, as an error code (a `503` while D1 fails) and as `GET /api/health`
 * names it: D1 past its size limit (`store_full`: retry much later) or unreachable, overloaded or
 * timing out (`store_unavailable`: retry soon).
 */
export type StoreFaultCode = 'store_full' | 'store_unavailable';

/**
 * One store in `GET /api/health`: it works; it fails, with the code seen (a `StoreFaultCode` for D1,
 * `queue_unavailable` for the queue, `unavailable` for the ProjectDO); or whether it fails cannot be
 * told (`fault_registry_unavailable`: D1 answers a probe, but what its writers reported cannot be read).
 */
export type StoreStatus =
  | { status: 'ok' }
  | { status: 'failing'; code: StoreFaultCode | 'queue_unavailable' | 'unavailable' }
  | { status: 'unknown'; code: 'fault_registry_unavailable' };

/**
 * The body of `GET /api/health` (200 when every store works, 503 otherwise): each store's status,
 * and the same as booleans in `checks` (kept for existing probes; `unknown` is `false`).
 */
export interface HealthResponse {
  status: 'ok' | 'degraded';
  version: string;
  stores: { d1: StoreStatus; queue: StoreStatus; durableObject: StoreStatus };
  checks: { d1: boolean; queue: boolean; durableObject: boolean };
}
