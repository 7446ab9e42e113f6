import { render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE } from '../state/url-state.ts';
import type { DashboardContext } from './context.ts';
import LazyCountryMap from './LazyCountryMap.svelte';

const ANSWER: QueryResponse = { results: [{ dimensions: ['DE'], metrics: [4] }], meta: {} };

/** An IntersectionObserver whose element comes into view when the test says so. */
class FakeObserver {
  static last: FakeObserver | null = null;
  observed: Element[] = [];
  constructor(readonly callback: (entries: { isIntersecting: boolean }[]) => void) {
    FakeObserver.last = this;
  }
  observe(element: Element) {
    this.observed.push(element);
  }
  disconnect() {
    this.observed = [];
  }
  show() {
    this.callback([{ isIntersecting: true }]);
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('LazyCountryMap', () => {
  it('keeps the place and loads the map only when it nears the screen', async () => {
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    const query = vi.fn(async () => ANSWER);
    const ctx: DashboardContext = {
      api: { query } as unknown as Api,
      projectId: 'demo',
      view: DEFAULT_STATE,
      navigate: vi.fn(),
      settingsHref: null,
      tick: 0,
    };
    const { container } = render(LazyCountryMap, { ctx });
    const slot = container.querySelector('.slot');
    expect(slot).not.toBeNull();
    expect(FakeObserver.last?.observed).toEqual([slot]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(query).not.toHaveBeenCalled();
    expect(container.querySelector('[data-testid="country-map"]')).toBeNull();

    FakeObserver.last?.show();
    await screen.findByRole('button', { name: 'Germany: 4 visitors' });
    expect(container.querySelector('.slot')).toBeNull();
    expect(query).toHaveBeenCalledTimes(1);
  });
});
