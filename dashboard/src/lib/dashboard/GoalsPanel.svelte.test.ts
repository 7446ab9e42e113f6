import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import { DEFAULT_STATE } from '../state/url-state.ts';
import type { DashboardContext } from './context.ts';
import GoalsPanel from './GoalsPanel.svelte';

describe('GoalsPanel', () => {
  it('asks for the goal list once per project, not again with each view change or refresh', async () => {
    const query = vi.fn(async () => ({ results: [], meta: {} }));
    const get = vi.fn(async () => ({ goals: [] }));
    const ctx: DashboardContext = {
      api: { query, get } as unknown as Api,
      projectId: 'demo',
      view: DEFAULT_STATE,
      navigate: () => {},
      settingsHref: '/projects/demo/settings',
      tick: 0,
    };
    const { rerender } = render(GoalsPanel, { ctx });
    await screen.findByText('No goals yet.', { exact: false });

    // Dashboard.svelte makes a new context object for each of these.
    await rerender({ ctx: { ...ctx, view: { ...DEFAULT_STATE, period: '7d' } } });
    await rerender({ ctx: { ...ctx, view: { ...DEFAULT_STATE, period: '7d' }, tick: 1 } });
    await vi.waitFor(() => expect(query).toHaveBeenCalledTimes(3));
    expect(get).toHaveBeenCalledTimes(1);
    expect(get).toHaveBeenCalledWith('/api/projects/demo/goals', expect.anything());

    await rerender({ ctx: { ...ctx, projectId: 'other' } });
    await vi.waitFor(() => expect(get).toHaveBeenCalledTimes(2));
  });
});

describe('GoalsPanel revenue', () => {
  it('shows revenue only where a goal earned some: a page-visit goal reads —, not $0.00', async () => {
    const query = vi.fn(async () => ({
      results: [
        { dimensions: ['Bought'], metrics: [3, 4, 10, 59.5] },
        { dimensions: ['Visit /pricing'], metrics: [7, 9, 23.33, 0] },
      ],
      meta: { currency: 'USD' },
    }));
    const ctx: DashboardContext = {
      api: { query, get: vi.fn() } as unknown as Api,
      projectId: 'demo',
      view: DEFAULT_STATE,
      navigate: () => {},
      settingsHref: null,
      tick: 0,
    };
    render(GoalsPanel, { ctx });
    const pricing = await screen.findByTitle('Filter by goal: Visit /pricing');
    expect(pricing.textContent).toContain('—');
    expect(pricing.textContent).not.toContain('$0.00');
    expect((await screen.findByTitle('Filter by goal: Bought')).textContent).toContain('$59.50');
    // Each number is read after its column's heading.
    expect(screen.getByRole('button', { name: 'Bought Uniques 3 Total 4 CR 10% Revenue $59.50' })).toBeTruthy();
  });
});
