/**
 * Events as a page sends them: `tally('signup', { props, revenue })` becomes one wire event with
 * the page, referrer and screen width attached, and joins the batch.
 */
import type { PropValue } from '../protocol.ts';
import { config } from './config.ts';
import { ignored } from './ignore.ts';
import { enqueue } from './networking.ts';

/** Revenue as the page states it: an amount and an ISO 4217 currency code. */
export interface Revenue {
  amount: number;
  currency: string;
}

/** What may accompany an event. */
export interface EventOptions {
  /** Flat properties: strings, numbers and booleans. */
  props?: Record<string, PropValue>;
  /** Money attached to the event, for goals that carry revenue. */
  revenue?: Revenue;
}

/**
 * Send an event, unless the tracker is not configured (on the server, before `init`) or must stay
 * silent (`ignore.ts`).
 *
 * @example
 * ```ts
 * track('signup', { props: { plan: 'pro' }, revenue: { amount: 9, currency: 'EUR' } });
 * ```
 */
export function track(name: string, options: EventOptions = {}): void {
  if (!config || ignored()) return;
  enqueue({
    s: config.site,
    n: name,
    u: location.href,
    r: document.referrer,
    w: innerWidth,
    h: config.hash != null,
    p: options.props,
    $: options.revenue && { a: options.revenue.amount, c: options.revenue.currency },
    t: Date.now(),
    // Per event, never stored: it makes a retried batch idempotent. Secure contexts only.
    i: crypto.randomUUID?.(),
  });
}
