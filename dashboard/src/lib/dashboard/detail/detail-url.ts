/**
 * The detail view's state in the address bar, through SvelteKit's shallow routing: the URL changes
 * (a reload or a shared link opens the view again) but no navigation runs, so the dashboard keeps
 * its view and its panels are not asked again. Loaded with the dialog, on first use.
 */
import { pushState, replaceState } from '$app/navigation';
import { type DetailState, parseDetail, withDetailSearch } from './detail-state.ts';

/** The detail view the address bar holds now, or null. */
export function readDetail(): DetailState | null {
  return parseDetail(new URLSearchParams(location.search));
}

/**
 * Write `state` (null: no detail view) into the address bar: a new history entry when the view
 * opens, so Back closes it; the same entry for its search, sort and page.
 */
export function writeDetail(state: DetailState | null, mode: 'push' | 'replace'): void {
  const url = `${location.pathname}${withDetailSearch(location.search, state)}${location.hash}`;
  (mode === 'push' ? pushState : replaceState)(url, {});
}
