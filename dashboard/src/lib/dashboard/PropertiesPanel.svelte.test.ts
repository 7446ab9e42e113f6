import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { ApiError, type Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import type { DashboardContext } from './context.ts';
import PropertiesPanel from './PropertiesPanel.svelte';

const VALUES: Record<string, QueryResponse> = {
  plan: {
    results: [
      { dimensions: ['pro'], metrics: [12, 30] },
      { dimensions: [null], metrics: [3, 4] },
    ],
    meta: {},
  },
  seats: { results: [{ dimensions: ['5'], metrics: [2, 2] }], meta: {} },
};

function renderPanel(keys: () => Promise<{ keys: string[] }>, view: DashboardState = DEFAULT_STATE) {
  const query = vi.fn(
    async (body: QueryRequest) =>
      VALUES[body.dimensions?.[0]?.slice('event:props:'.length) ?? ''] ?? { results: [], meta: {} },
  );
  const get = vi.fn(async (_path: string, _options?: unknown) => keys());
  const navigate = vi.fn<(next: DashboardState) => void>();
  const openDetail = vi.fn<(dimension: string, from: HTMLElement) => void>();
  const ctx: DashboardContext = {
    api: { query, get } as unknown as Api,
    projectId: 'demo',
    view,
    navigate,
    settingsHref: '/projects/demo/settings',
    tick: 0,
    openDetail,
  };
  render(PropertiesPanel, { ctx });
  return { query, get, navigate, openDetail };
}

describe('PropertiesPanel', () => {
  it('lists the project’s property keys and breaks the first down by visitors and events', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, period: '7d', filters: [['is', 'country', ['DE']]] };
    const { get, query } = renderPanel(async () => ({ keys: ['plan', 'seats'] }), view);
    await screen.findByText('pro');
    expect(get.mock.calls[0]?.[0]).toBe('/api/projects/demo/property-keys');
    expect(query.mock.calls.at(-1)?.[0]).toMatchObject({
      dimensions: ['event:props:plan'],
      metrics: ['visitors', 'events'],
      date_range: '7d',
      // Only the events that carry the key: not a "(no value)" row of every pageview.
      filters: [
        ['is', 'country', ['DE']],
        ['is_not', 'event:props:plan', [null]],
      ],
    });
    const select = screen.getByLabelText('Values dimension') as HTMLSelectElement;
    expect([...select.options].map((option) => option.textContent)).toEqual(['plan', 'seats']);
    // Numbers as the API gave them, read with their columns; a missing value is named.
    expect(screen.getByRole('button', { name: 'pro Visitors 12 Events 30' })).toBeTruthy();
    expect(screen.getByText('(no value)')).toBeTruthy();
  });

  it('shows another key’s values when it is picked, and filters by a value', async () => {
    const { query, navigate } = renderPanel(async () => ({ keys: ['plan', 'seats'] }));
    await screen.findByText('pro');
    await fireEvent.change(screen.getByLabelText('Values dimension'), { target: { value: 'event:props:seats' } });
    await screen.findByText('5');
    expect(query.mock.calls.at(-1)?.[0].dimensions).toEqual(['event:props:seats']);
    await fireEvent.click(screen.getByTitle('Filter by Property seats: 5'));
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([['is', 'event:props:seats', ['5']]]);
  });

  it('opens the chosen key’s detail view', async () => {
    const { openDetail } = renderPanel(async () => ({ keys: ['plan'] }));
    await screen.findByText('pro');
    const details = screen.getByRole('button', { name: 'Details: Property plan' });
    await fireEvent.click(details);
    expect(openDetail).toHaveBeenCalledWith('event:props:plan', details);
  });

  it('says when there are no keys', async () => {
    const { query } = renderPanel(async () => ({ keys: [] }));
    await screen.findByText(/No custom properties in the last 30 days/);
    expect(query).not.toHaveBeenCalled();
  });

  it('shows a failure to list the keys', async () => {
    renderPanel(async () => {
      throw new ApiError(403, 'forbidden', 'You are not allowed to do that.');
    });
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/not allowed/));
  });
});
