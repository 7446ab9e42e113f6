/**
 * Live traffic for the local demo: while `npm start` runs, made-up visitors arrive every few
 * seconds and walk the demo site, and each of their events goes through the public ingest endpoint
 * (`POST /api/event`) of the local worker, exactly as a browser's would — so the live-visitors card,
 * Realtime and today's numbers move without anyone clicking.
 *
 * A visitor is drawn from the same pools as the history (demo-visits.ts). What Cloudflare's edge
 * would tell the worker travels in the headers the local workerd honours: `CF-Connecting-IP` (made
 * up per visitor, so each one is a visitor of its own; it is only hashed, never stored) and
 * `MF-CF-Blob`, which workerd turns into `request.cf` (country, region, city).
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import { drawVisit, drawVisitor, hourShare, type VisitStep } from './demo-visits.ts';

/** Where to send the events. */
export interface DemoTrafficOptions {
  /** The worker's origin, e.g. `http://127.0.0.1:8787`. */
  origin: string;
  siteKey: string;
  /** The demo pages' hostname (one of the demo project's). */
  hostname: string;
}

/** The running generator. */
export interface DemoTraffic {
  /** Stop arriving and sending; events in flight are abandoned. */
  stop(): void;
}

/** Mean time between two arrivals in an average hour; busier hours of the daily curve get more. */
const MEAN_ARRIVAL_MS = 30_000;
/** Visitors already on the site when the generator starts, so Realtime has something at once. */
const FIRST_VISITORS = 3;

/** A header value in ASCII: workerd's HTTP server refuses other bytes (`Île-de-France` in `MF-CF-Blob`). */
function ascii(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A made-up client address (RFC 6598 shared space, never a real visitor's). */
function clientAddress(): string {
  const octet = () => Math.floor(Math.random() * 256);
  return `100.${64 + Math.floor(Math.random() * 64)}.${octet()}.${octet()}`;
}

/** Milliseconds until the next arrival: exponential around a mean that follows the daily curve. */
function nextArrival(now: number): number {
  const busy = hourShare(new Date(now).getUTCHours()) * 24;
  return Math.round(-Math.log(1 - Math.random()) * (MEAN_ARRIVAL_MS / busy));
}

/**
 * Start sending live demo traffic until `stop()`.
 *
 * @example
 * ```ts
 * const traffic = startDemoTraffic({ origin: 'http://127.0.0.1:8787', siteKey: 'demo', hostname: 'localhost' });
 * process.once('SIGINT', () => traffic.stop());
 * ```
 */
export function startDemoTraffic(options: DemoTrafficOptions): DemoTraffic {
  const timers = new Set<NodeJS.Timeout>();
  const aborter = new AbortController();
  let warned = false;

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const send = async (headers: Record<string, string>, step: VisitStep) => {
    const body = JSON.stringify({ s: options.siteKey, ...step.event, i: crypto.randomUUID() });
    try {
      const response = await fetch(`${options.origin}${EVENT_PATH}`, {
        method: 'POST',
        headers,
        body,
        signal: aborter.signal,
      });
      await response.body?.cancel();
      if (response.status !== 202) throw new Error(`answered ${response.status}`);
    } catch (error) {
      if (aborter.signal.aborted || warned) return;
      // Once: a worker that restarts (a code change under `wrangler dev`) refuses a few events.
      warned = true;
      console.warn(`Demo traffic: an event was not accepted (${(error as Error).message}); carrying on.`);
    }
  };

  const arrive = () => {
    const { context, width } = drawVisitor(Math.random);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': context.userAgent,
      'cf-connecting-ip': clientAddress(),
      'mf-cf-blob': ascii(JSON.stringify(context.cf ?? {})),
    };
    if (context.acceptLanguage) headers['accept-language'] = context.acceptLanguage;
    for (const step of drawVisit(Math.random, `http://${options.hostname}`, width)) {
      later(step.at, () => void send(headers, step));
    }
  };

  const schedule = () =>
    later(nextArrival(Date.now()), () => {
      arrive();
      schedule();
    });

  for (let i = 0; i < FIRST_VISITORS; i++) later(i * 1_500, arrive);
  schedule();

  return {
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      aborter.abort();
    },
  };
}
