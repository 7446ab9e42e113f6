/**
 * Delivery: events wait in a small batch (sent when it is full or a moment after its first
 * event), go out with `navigator.sendBeacon` as `text/plain` — no CORS preflight, and the browser
 * delivers it even while the page unloads — and fall back to `fetch` with `keepalive` when the
 * beacon is refused or missing. A fetch that fails is retried with backoff. A retry is a timer, so
 * a page that unloads takes its pending retries with it, and a page restored from the back/forward
 * cache resumes them.
 *
 * Every event carries its own id (`i`), so a retried batch is stored once.
 */
import type { WireEvent } from '../protocol.ts';
import { config } from './config.ts';

/** Events per request; the protocol allows 50, a handful keeps each beacon small. */
export const BATCH_SIZE = 10;
/** How long the first event of a batch waits for company. */
export const BATCH_DELAY_MS = 1000;
/** Tries of a failed fetch after the first, waiting 1 s, 2 s, 4 s, 8 s. */
export const RETRIES = 4;

let batch: WireEvent[] = [];
let timer: ReturnType<typeof setTimeout> | 0 = 0;

/**
 * Add an event to the batch.
 *
 * @example
 * ```ts
 * enqueue({ s: 'demo', n: 'pageview', u: location.href });
 * ```
 */
export function enqueue(event: WireEvent): void {
  if (batch.push(event) < BATCH_SIZE) timer ||= setTimeout(flush, BATCH_DELAY_MS);
  else flush();
}

/** Send the waiting events now: when the batch is full, the page hides, or a link is followed. */
export function flush(): void {
  clearTimeout(timer);
  timer = 0;
  if (batch[0]) send(JSON.stringify(batch), 0);
  batch = [];
}

function send(body: string, attempt: number): void {
  const endpoint = config.endpoint;
  const retry = () => attempt < RETRIES && setTimeout(send, 1000 << attempt, body, attempt + 1);
  if (attempt || !navigator.sendBeacon?.(endpoint, body)) {
    // Rate limits (429) and server trouble (5xx) are worth another try; other refusals would only repeat.
    fetch(endpoint, { method: 'POST', body, keepalive: true }).then(
      (response) => response.status > 428 && retry(),
      retry,
    );
  }
}

/**
 * Flush when the page is hidden or unloaded: the last moment a beacon is sure to leave. Flushing
 * when it becomes visible again as well costs nothing, and saves a check.
 */
export function flushOnExit(): void {
  addEventListener('pagehide', flush);
  // visibilitychange is fired at the document and bubbles to the window.
  addEventListener('visibilitychange', flush);
}
