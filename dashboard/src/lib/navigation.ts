/** URL navigation for the dashboard's view state: each change is a history entry, focus and scroll stay. */
import { goto } from '$app/navigation';
import { type DashboardState, stateToSearch } from './state/url-state.ts';

/** `keep`: parameters of the page that are not view state (a share link's `embed=1`), carried along. */
export function navigateTo(pathname: string, next: DashboardState, keep: Record<string, string> = {}): void {
  const search = stateToSearch(next);
  const extra = new URLSearchParams(keep).toString();
  const query = extra ? (search ? `${search}&${extra}` : `?${extra}`) : search;
  void goto(`${pathname}${query}`, { keepFocus: true, noScroll: true });
}
