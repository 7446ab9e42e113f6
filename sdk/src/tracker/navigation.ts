/**
 * Pageviews: one on load, and one per client-side navigation of a single-page app: the History
 * API (`pushState`, `replaceState`) and `popstate` for back/forward, which browsers also fire when
 * the hash changes, so hash routing needs no `hashchange`. A navigation that leaves the page where
 * it was (a `replaceState` that only stores state, a query-string change) counts nothing.
 */
import { PAGEVIEW } from '../protocol.ts';
import { track } from './events.ts';
import { currentPage } from './ignore.ts';

let lastPage: string | undefined;

/** A pageview, unless the page is the one last counted. */
function autoPageview(): void {
  // biome-ignore lint/suspicious/noAssignInExpressions: remember and compare in one step; it saves bytes of t.js.
  if (lastPage !== (lastPage = currentPage())) track(PAGEVIEW);
}

/** Count this page now and every page the app navigates to from here. */
export function trackPageviews(): void {
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      autoPageview();
    };
  }
  addEventListener('popstate', autoPageview);
  autoPageview();
}
