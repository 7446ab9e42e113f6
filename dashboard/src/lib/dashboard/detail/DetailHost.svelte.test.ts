import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Api } from '../../api/client.ts';
import type { QueryRequest, QueryResponse } from '../../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../../state/url-state.ts';
import type { DashboardContext } from '../context.ts';
import DetailHost from './DetailHost.svelte';
import type { DetailState } from './detail-state.ts';

// SvelteKit's shallow routing, as the address bar. detail-url.ts is the glue between the URL
// helpers of detail-state.ts and `$app/navigation`, which components under test cannot import
// (vitest.config.ts): it is replaced by the same glue over these spies.
const navigation = vi.hoisted(() => ({
  pushState: vi.fn((url: string, _state: object) => history.pushState({}, '', url)),
  replaceState: vi.fn((url: string, _state: object) => history.replaceState({}, '', url)),
}));
vi.mock('./detail-url.ts', async () => {
  const { parseDetail, withDetailSearch } = await import('./detail-state.ts');
  return {
    readDetail: () => parseDetail(new URLSearchParams(location.search)),
    writeDetail: (state: DetailState | null, mode: 'push' | 'replace') =>
      (mode === 'push' ? navigation.pushState : navigation.replaceState)(
        `${location.pathname}${withDetailSearch(location.search, state)}`,
        {},
      ),
  };
});

const ANSWER: QueryResponse = { results: [{ dimensions: ['/pricing'], metrics: [3, 4] }], meta: {} };

function renderHost() {
  const query = vi.fn(async (_body: QueryRequest) => ANSWER);
  const navigate = vi.fn<(next: DashboardState) => void>();
  const ctx: DashboardContext = {
    api: { query } as unknown as Api,
    projectId: 'demo',
    view: { ...DEFAULT_STATE, period: '7d' },
    navigate,
    settingsHref: null,
    tick: 0,
  };
  const opener = document.createElement('button');
  opener.dataset.detail = 'page';
  document.body.append(opener);
  const { component } = render(DetailHost, { ctx });
  return { component, query, navigate, opener };
}

beforeEach(() => {
  history.replaceState({}, '', '/projects/demo?period=7d');
});

afterEach(() => {
  vi.clearAllMocks();
  document.body.innerHTML = '';
});

describe('DetailHost', () => {
  it('opens a view in a new history entry, keeps its changes in that entry, and goes back over it on close', async () => {
    const { component, opener } = renderHost();
    await component.open('page', opener);
    await screen.findByText('/pricing');
    expect(navigation.pushState).toHaveBeenCalledWith('/projects/demo?period=7d&detail=page', {});
    expect(screen.getByRole('heading', { name: 'Page' })).toBeTruthy();

    await fireEvent.click(screen.getByRole('columnheader', { name: /^Views/ }).querySelector('button') as HTMLElement);
    expect(navigation.replaceState).toHaveBeenLastCalledWith(
      '/projects/demo?period=7d&detail=page&detail_sort=pageviews,desc',
      {},
    );
    expect(navigation.pushState).toHaveBeenCalledTimes(1);

    const back = vi.spyOn(history, 'back').mockImplementation(() => {});
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Page' })).toBeNull());
    expect(back).toHaveBeenCalledTimes(1);
    expect(document.activeElement).toBe(opener);
    back.mockRestore();
  });

  it('opens the view a URL holds, and closes it by rewriting that URL', async () => {
    history.replaceState({}, '', '/projects/demo?period=7d&detail=page&detail_search=pri&detail_page=2');
    const { query, opener } = renderHost();
    await screen.findByText('/pricing');
    expect(query.mock.calls[0]?.[0]).toMatchObject({
      dimensions: ['page'],
      filters: [['contains', 'page', ['pri']]],
      page: 2,
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Page' })).toBeNull());
    expect(navigation.replaceState).toHaveBeenLastCalledWith('/projects/demo?period=7d', {});
    // No opener: focus goes to the Details button of the dimension shown.
    expect(document.activeElement).toBe(opener);
  });

  it('closes when the address bar loses the view (Back), and ignores a dimension it does not know', async () => {
    const { component, opener } = renderHost();
    await component.open('page', opener);
    await screen.findByText('/pricing');
    history.replaceState({}, '', '/projects/demo?period=7d');
    dispatchEvent(new PopStateEvent('popstate'));
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Page' })).toBeNull());

    await component.open('nonsense', opener);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(navigation.pushState).toHaveBeenCalledTimes(1);
  });

  it('filters the dashboard by a clicked value and leaves the view’s entry behind', async () => {
    const { component, opener, navigate } = renderHost();
    await component.open('page', opener);
    await fireEvent.click(await screen.findByTitle('Filter the dashboard by Page: /pricing'));
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([['is', 'page', ['/pricing']]]);
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
  });
});
