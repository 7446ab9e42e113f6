/** URL navigation for the dashboard's view state: each change is a history entry, focus and scroll stay. */
import { goto } from '$app/navigation';
import { type DashboardState, stateToSearch } from './state/url-state.ts';

export function navigateTo(pathname: string, next: DashboardState): void {
  void goto(`${pathname}${stateToSearch(next)}`, { keepFocus: true, noScroll: true });
}
