import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import type { DashboardContext } from './context.ts';
import CountryMap from './CountryMap.svelte';
import { worldMap } from './world-map.ts';

const ANSWER: QueryResponse = {
  results: [
    { dimensions: ['DE'], metrics: [40] },
    { dimensions: ['US'], metrics: [1] },
    { dimensions: [null], metrics: [3] },
  ],
  meta: {},
};

const tip = (container: Element) => container.querySelector('[data-testid="country-map-tip"]');

function renderMap(view: DashboardState = DEFAULT_STATE) {
  const query = vi.fn(async (_body: QueryRequest) => ANSWER);
  const navigate = vi.fn<(next: DashboardState) => void>();
  const ctx: DashboardContext = {
    api: { query } as unknown as Api,
    projectId: 'demo',
    view,
    navigate,
    settingsHref: null,
    tick: 0,
  };
  const { container } = render(CountryMap, { ctx });
  return { container, query, navigate };
}

describe('world map shapes', () => {
  it('draws the countries by their ISO code, without Antarctica, inside a bounded view', () => {
    const map = worldMap();
    const codes = new Set(map.countries.map((country) => country.code));
    expect(codes.size).toBeGreaterThan(170);
    for (const code of ['DE', 'US', 'BR', 'IN', 'RU', 'FJ', 'XK', 'AU']) expect(codes, code).toContain(code);
    expect(codes).not.toContain('AQ');
    for (const code of codes) expect(code).toMatch(/^[A-Z]{2}$/);
    const [x = 0, y = 0, width = 0, height = 0] = map.viewBox.split(' ').map(Number);
    expect(width).toBeGreaterThan(height * 1.8);
    // Every point lies within the view (the copies of antimeridian rings are clipped by the outline).
    for (const country of map.countries.filter((c) => c.code !== 'RU' && c.code !== 'FJ')) {
      for (const [, px, py] of country.d.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)) {
        expect(Number(px)).toBeGreaterThanOrEqual(x);
        expect(Number(px)).toBeLessThanOrEqual(x + width);
        expect(Number(py)).toBeGreaterThanOrEqual(y);
        expect(Number(py)).toBeLessThanOrEqual(y + height);
      }
    }
  });
});

describe('CountryMap', () => {
  it('asks for every country and shades those with visitors, darker for more', async () => {
    const { container, query } = renderMap();
    const germany = await screen.findByRole('button', { name: 'Germany: 40 visitors' });
    const states = screen.getByRole('button', { name: 'United States: 1 visitor' });
    expect(query.mock.calls[0]?.[0]).toMatchObject({ dimensions: ['country'], metrics: ['visitors'] });
    expect(query.mock.calls[0]?.[0].limit).toBeGreaterThanOrEqual(250);
    const share = (element: Element) => Number(/(\d+)%/.exec((element as SVGElement).style.fill)?.[1]);
    expect(share(germany)).toBe(100);
    expect(share(states)).toBeLessThan(share(germany));
    // Countries without visitors are drawn, not focusable, and not announced.
    const france = container.querySelector('path[data-country="FR"]');
    expect(france?.getAttribute('tabindex')).toBeNull();
    expect(france?.getAttribute('aria-hidden')).toBe('true');
  });

  it('names a country and its visitors on focus and hover', async () => {
    const { container } = renderMap();
    const germany = await screen.findByRole('button', { name: 'Germany: 40 visitors' });
    await fireEvent.focus(germany);
    expect(tip(container)?.textContent?.trim()).toBe('Germany: 40 visitors');
    await fireEvent.blur(germany);
    expect(tip(container)).toBeNull();
    const france = container.querySelector('path[data-country="FR"]');
    if (!france) throw new Error('France is not drawn');
    await fireEvent.pointerMove(france);
    expect(tip(container)?.textContent?.trim()).toBe('France: 0 visitors');
  });

  it('filters by a country on click and on Enter, as its row does', async () => {
    const { navigate } = renderMap();
    const germany = await screen.findByRole('button', { name: 'Germany: 40 visitors' });
    await fireEvent.click(germany);
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([['is', 'country', ['DE']]]);
    await fireEvent.keyDown(screen.getByRole('button', { name: 'United States: 1 visitor' }), { key: 'Enter' });
    expect(navigate.mock.calls[1]?.[0].filters).toEqual([['is', 'country', ['US']]]);
  });
});
