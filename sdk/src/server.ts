/**
 * `@tally/sdk/server`: send events from a server (Node 18+, Cloudflare Workers, Deno, Bun) with a
 * secret API key that holds the `ingest` scope. The key names the project, so no site key is
 * needed, and it is what allows the visitor's IP address and user agent to be passed on: the
 * worker hashes them into the day's visitor id exactly as for a browser, and stores neither.
 *
 * Each event gets an id when it is built, so a retried request stores every event once.
 *
 * @example
 * ```ts
 * import { createClient } from '@tally/sdk/server';
 *
 * const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: process.env.TALLY_KEY! });
 * await tally.track('signup', {
 *   url: 'https://example.com/signup',
 *   ip: request.headers.get('cf-connecting-ip') ?? undefined,
 *   userAgent: request.headers.get('user-agent') ?? undefined,
 *   props: { plan: 'pro' },
 *   revenue: { amount: 9, currency: 'EUR' },
 * });
 * ```
 */
import {
  type AcceptedResponse,
  type ErrorResponse,
  EVENT_PATH,
  LIMITS,
  PAGEVIEW,
  type PropValue,
  type WireEvent,
} from './protocol.ts';

/** One event as a server describes it. */
export interface ServerEvent {
  /** Event name: `pageview` or a custom name. */
  name: string;
  /** Absolute http(s) URL of the page the event belongs to. */
  url: string;
  /** The visitor's referrer, if any. */
  referrer?: string;
  /** The visitor's IP address (it is hashed, never stored). */
  ip?: string;
  /** The visitor's user agent (it is parsed and hashed, never stored). */
  userAgent?: string;
  /** Flat properties. */
  props?: Record<string, PropValue>;
  /** Money attached to the event. */
  revenue?: { amount: number; currency: string };
  /** When it happened; default now. Clamped by the worker to the last hour … the next 5 minutes. */
  timestamp?: number | Date;
  /** Screen width in CSS pixels, when known. */
  screenWidth?: number;
  /** Hash routing: the `#/…` route of `url` is part of the page path. */
  hashRouting?: boolean;
  /** Your own id for the event (a UUID); one is drawn when absent. */
  id?: string;
}

/** What `createClient` needs. */
export interface ClientOptions {
  /** Origin of the Tally API, e.g. `https://tally.example.com` (a URL ending in `/api/event` works too). */
  endpoint: string;
  /** A secret API key with the `ingest` scope. */
  apiKey: string;
  /** Tries after a 429 or 503, waiting as `Retry-After` says (at most `maxRetryWaitMs`). Default 2. */
  retries?: number;
  /** The longest wait before a retry. Default 5 s: a request handler should not stall longer. */
  maxRetryWaitMs?: number;
  /** A fetch to use instead of the global one (tests, instrumentation). */
  fetch?: typeof fetch;
}

/** A refusal from the API, with the code and details of its one error shape. */
export class TallyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'TallyError';
  }
}

/** A client bound to one API key. */
export interface TallyClient {
  /** Send events, in requests of at most `LIMITS.batchEvents`; resolves when all are durable. */
  send(events: ServerEvent | ServerEvent[]): Promise<AcceptedResponse>;
  /** Send one custom event. */
  track(name: string, fields: Omit<ServerEvent, 'name'>): Promise<AcceptedResponse>;
  /** Send one pageview. */
  pageview(fields: Omit<ServerEvent, 'name'>): Promise<AcceptedResponse>;
}

/** A server event on the wire. */
export function toWireEvent(event: ServerEvent): WireEvent {
  const wire: WireEvent = { n: event.name, u: event.url, i: event.id ?? crypto.randomUUID() };
  if (event.referrer) wire.r = event.referrer;
  if (event.ip) wire.ip = event.ip;
  if (event.userAgent) wire.ua = event.userAgent;
  if (event.props) wire.p = event.props;
  if (event.revenue) wire.$ = { a: event.revenue.amount, c: event.revenue.currency };
  if (event.timestamp !== undefined) wire.t = +event.timestamp;
  if (event.screenWidth !== undefined) wire.w = event.screenWidth;
  if (event.hashRouting) wire.h = true;
  return wire;
}

/**
 * A client that sends events with an API key.
 *
 * @example
 * ```ts
 * const tally = createClient({ endpoint: 'https://tally.example.com', apiKey: env.TALLY_KEY });
 * ctx.waitUntil(tally.pageview({ url: request.url, ip, userAgent }));
 * ```
 */
export function createClient(options: ClientOptions): TallyClient {
  const url = new URL(EVENT_PATH, options.endpoint).href;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const retries = options.retries ?? 2;
  const maxWait = options.maxRetryWaitMs ?? 5_000;

  async function post(events: WireEvent[]): Promise<AcceptedResponse> {
    for (let attempt = 0; ; attempt++) {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.apiKey}` },
        body: JSON.stringify(events),
      });
      if (response.status === 202) return (await response.json()) as AcceptedResponse;
      const retryable = response.status === 429 || response.status === 503;
      if (retryable && attempt < retries) {
        const seconds = Number(response.headers.get('retry-after'));
        await new Promise((resolve) => setTimeout(resolve, Math.min(maxWait, (seconds || 2 ** attempt) * 1000)));
        continue;
      }
      throw await errorOf(response);
    }
  }

  async function send(events: ServerEvent | ServerEvent[]): Promise<AcceptedResponse> {
    const wire = (Array.isArray(events) ? events : [events]).map(toWireEvent);
    const result: AcceptedResponse = { accepted: 0, ids: [] };
    for (let start = 0; start < wire.length; start += LIMITS.batchEvents) {
      const part = await post(wire.slice(start, start + LIMITS.batchEvents));
      result.accepted += part.accepted;
      result.ids.push(...part.ids);
      // Indexes are of the chunk as sent: count them from the start of `events` instead.
      if (part.rejected?.length) {
        const shifted = part.rejected.map((rejected) => ({ ...rejected, index: rejected.index + start }));
        result.rejected = [...(result.rejected ?? []), ...shifted];
      }
    }
    return result;
  }

  return {
    send,
    track: (name, fields) => send({ ...fields, name }),
    pageview: (fields) => send({ ...fields, name: PAGEVIEW }),
  };
}

async function errorOf(response: Response): Promise<TallyError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as ErrorResponse;
    return new TallyError(response.status, error.code, error.message, error.details);
  } catch {
    return new TallyError(response.status, 'http_error', `Tally answered ${response.status}: ${text.slice(0, 200)}`);
  }
}
