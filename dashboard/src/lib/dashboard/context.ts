/** What every part of the dashboard page needs: the API, the project, the URL state and a way to change it. */
import type { Api } from '../api/client.ts';
import type { DashboardState } from '../state/url-state.ts';

export interface DashboardContext {
  api: Api;
  projectId: string;
  view: DashboardState;
  /** Go to the URL of another state (a new history entry). */
  navigate: (next: DashboardState) => void;
  /** Where goals and funnels are set up; null in the public view. */
  settingsHref: string | null;
  /** Bumped every minute while the range includes today: panels read it to refresh themselves. */
  tick: number;
  /** Open the detail view of a breakdown (detail/DetailHost.svelte); `from` gets focus back. */
  openDetail?: (dimension: string, from: HTMLElement) => void;
}

/** Hand a downloaded file to the browser. */
export function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
