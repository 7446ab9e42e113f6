/**
 * `@tally/sdk`: the tracker as a module for bundlers. It runs the same code as the script tag
 * (`tracker/`), configured by `init()` instead of `data-*` attributes, and is safe to import
 * during server-side rendering: nothing touches `window` until `init()` runs in a browser, and
 * every call before that (or on the server) does nothing.
 *
 * @example
 * ```ts
 * import { init, track } from '@tally/sdk';
 *
 * init({ site: 'SITE_KEY', api: 'https://tally.example.com' });
 * track('signup', { props: { plan: 'pro' }, revenue: { amount: 9, currency: 'EUR' } });
 * ```
 */
import { EVENT_PATH, PAGEVIEW } from './protocol.ts';
import { trackClicks } from './tracker/clicks.ts';
import { config, configure } from './tracker/config.ts';
import { type EventOptions, track as send } from './tracker/events.ts';
import { optIn as storeOptIn, optOut as storeOptOut } from './tracker/ignore.ts';
import { trackPageviews } from './tracker/navigation.ts';
import { flush as flushBatch, flushOnExit } from './tracker/networking.ts';

export type { PropValue } from './protocol.ts';
export type { EventOptions, Revenue } from './tracker/events.ts';

/** How the tracker runs on this page. Every switch is off unless stated otherwise. */
export interface InitOptions {
  /** The project's public site key. */
  site: string;
  /**
   * Base URL of the Tally API, e.g. `https://tally.example.com`, or one with a path when a proxy
   * serves it under a prefix (`https://example.com/stats` posts to `/stats/api/event`). Default:
   * the page's own origin (a proxy).
   */
  api?: string;
  /** Send a pageview now and on every client-side navigation. Default: true. */
  autoPageviews?: boolean;
  /** Hash routing: the `#/…` route is part of the page path. */
  hashRouting?: boolean;
  /** Pages on which nothing is sent: patterns where `*` matches any characters, e.g. `['/admin*']`. */
  exclude?: string[];
  /** Count clicks on links to other hosts as `outbound` events. */
  outboundLinks?: boolean;
  /** Count clicks on links to files as `download` events: true for the usual types, or a list of extensions. */
  fileDownloads?: boolean | string[];
  /** Send nothing from browsers that say Do Not Track. */
  respectDnt?: boolean;
  /** Count localhost and automated browsers too (for development and tests). */
  allowLocal?: boolean;
}

const isBrowser = () => typeof window !== 'undefined' && typeof document !== 'undefined';
/** A switch in the tracker's attribute form: on when it is a string, as an attribute is when present. */
const on = (enabled: boolean | undefined) => (enabled ? '' : undefined);

/**
 * Start the tracker. Only the first call counts; on the server it does nothing.
 *
 * @example
 * ```ts
 * init({ site: 'SITE_KEY', api: 'https://tally.example.com', outboundLinks: true, fileDownloads: ['pdf', 'epub'] });
 * ```
 */
export function init(options: InitOptions): void {
  if (!isBrowser() || config) return;
  const downloads = options.fileDownloads;
  configure({
    site: options.site,
    // As the script tag's `data-api`: the event path goes below the base, relative to the page.
    endpoint: new URL((options.api ?? '').replace(/\/+$/, '') + EVENT_PATH, location.href),
    hash: on(options.hashRouting),
    exclude: options.exclude?.join(','),
    respectDnt: on(options.respectDnt),
    allowLocal: on(options.allowLocal),
    outbound: on(options.outboundLinks),
    downloads: Array.isArray(downloads) ? downloads.map((type) => type.replace(/^\./, '')).join('|') : on(downloads),
  });
  flushOnExit();
  if (options.autoPageviews !== false) trackPageviews();
  if (options.outboundLinks || downloads) trackClicks();
}

/**
 * Send a custom event.
 *
 * @example
 * ```ts
 * track('signup', { props: { plan: 'pro' }, revenue: { amount: 9, currency: 'EUR' } });
 * ```
 */
export function track(name: string, options?: EventOptions): void {
  send(name, options);
}

/**
 * Send a pageview of the current URL, e.g. after a navigation the router does not report
 * through the History API, or with `autoPageviews: false`.
 */
export function pageview(options?: Pick<EventOptions, 'props'>): void {
  send(PAGEVIEW, options);
}

/** Send the waiting batch now rather than at the end of its short delay. */
export function flush(): void {
  if (config) flushBatch();
}

/** Stop sending events from this browser until `optIn()`. Remembered in localStorage, not in a cookie. */
export function optOut(): void {
  if (isBrowser()) storeOptOut();
}

/** Undo `optOut()`. */
export function optIn(): void {
  if (isBrowser()) storeOptIn();
}
