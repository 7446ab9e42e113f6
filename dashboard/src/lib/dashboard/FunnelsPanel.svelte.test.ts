import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { FunnelResponse } from '../api/types.ts';
import { DEFAULT_STATE } from '../state/url-state.ts';
import type { DashboardContext } from './context.ts';
import FunnelsPanel from './FunnelsPanel.svelte';

const FUNNEL = {
  id: 'f1',
  name: 'Signup',
  steps: [
    { kind: 'pageview', path: '/pricing' },
    { kind: 'event', eventName: 'signup' },
  ],
  createdAt: 0,
};

function renderPanel(answer: FunnelResponse, view = DEFAULT_STATE) {
  const get = vi.fn(async () => ({ funnels: [FUNNEL] }));
  const post = vi.fn(async () => answer);
  const ctx: DashboardContext = {
    api: { get, post } as unknown as Api,
    projectId: 'demo',
    view,
    navigate: () => {},
    settingsHref: null,
    tick: 0,
  };
  render(FunnelsPanel, { ctx });
  return { post };
}

const fills = () => [...document.querySelectorAll<HTMLElement>('.fill')].map((fill) => fill.style.width);

describe('FunnelsPanel', () => {
  it('measures every step against step 1', async () => {
    renderPanel({
      steps: [
        { name: 'Visit /pricing', visits: 200, conversion_rate: 100, drop_off: 0 },
        { name: 'signup', visits: 50, conversion_rate: 25, drop_off: 150 },
      ],
    });
    await screen.findByText('signup', { exact: false });
    expect(fills()).toEqual(['100%', '25%']);
    expect(screen.getByText('100% of step 1', { exact: false })).toBeTruthy();
    expect(screen.getByText('25% of step 1', { exact: false }).textContent).toContain('150 dropped off');
    expect(screen.queryByText('No visits reached the first step', { exact: false })).toBeNull();
  });

  it('draws no full bar and no "100% of step 1" when no visit reached step 1', async () => {
    const { post } = renderPanel({
      steps: [
        { name: 'Visit /pricing', visits: 0, conversion_rate: 0, drop_off: 0 },
        { name: 'signup', visits: 0, conversion_rate: 0, drop_off: 0 },
      ],
    });
    await screen.findByText('No visits reached the first step in this range.');
    expect(post).toHaveBeenCalledWith(
      '/api/v1/funnel',
      expect.objectContaining({ funnel: 'f1', date_range: '30d' }),
      expect.anything(),
    );
    // Both steps listed with their zero, both bars empty.
    expect([...document.querySelectorAll('.step .num')].map((count) => count.textContent)).toEqual(['0', '0']);
    expect(fills()).toEqual(['0%', '0%']);
    expect(document.body.textContent).not.toContain('100%');
    expect(screen.queryByText('of step 1', { exact: false })).toBeNull();
  });

  it('says in plain words why a filter on pages is left out of a funnel', async () => {
    renderPanel(
      { steps: [{ name: 'Visit /pricing', visits: 3, conversion_rate: 100, drop_off: 0 }] },
      { ...DEFAULT_STATE, filters: [['is', 'page', ['/blog']]] },
    );
    const note = await screen.findByText('left out here', { exact: false });
    const text = note.textContent?.replace(/\s+/g, ' ');
    expect(text).toContain('Your filter on pages or events is left out here');
    expect(text).toContain('what the whole visit has in common');
  });
});
