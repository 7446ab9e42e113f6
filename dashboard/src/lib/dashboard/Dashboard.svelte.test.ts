import { render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import Dashboard from './Dashboard.svelte';

// Chart.js needs a real canvas; the chart's drawing is the e2e tests' business.
vi.mock('./chart.ts', () => ({
  Chart: class {
    options = { scales: { x: {}, y: {} }, plugins: { tooltip: {} } };
    data = { labels: [], datasets: [] };
    update() {}
    destroy() {}
  },
}));

/** An API whose answers arrive only when the test says so: the old view's numbers stay on screen meanwhile. */
function slowApi() {
  const waiting: (() => void)[] = [];
  const later = <T>(value: T) => new Promise<T>((resolve) => waiting.push(() => resolve(value)));
  /** Unfiltered, the site had 100 visitors; filtered, 7. */
  const answer = (body: QueryRequest): QueryResponse => {
    const visitors = body.filters?.length ? 7 : 100;
    const metrics = body.metrics.map(() => visitors);
    if (body.include?.totals) return { results: [], meta: { totals: metrics, time_labels: [] } };
    return { results: [{ dimensions: [`value-${visitors}`], metrics }], meta: {} };
  };
  const api = {
    query: vi.fn((body: QueryRequest) => later(answer(body))),
    get: vi.fn((path: string) =>
      later(
        path.endsWith('/funnels')
          ? { funnels: [{ id: 'f1', name: 'Signup', steps: [], createdAt: 0 }] }
          : path.endsWith('/property-keys')
            ? { keys: ['plan'] }
            : { goals: [] },
      ),
    ),
    post: vi.fn((path: string, body: { filters?: unknown[] }) =>
      later(
        path === '/api/v1/funnel'
          ? { steps: [{ name: 'Pricing', visits: body.filters?.length ? 7 : 100, conversion_rate: 100, drop_off: 0 }] }
          : { totals: { bot: 0, spam: 0, invalid_host: 0, rate_limited: 0 } },
      ),
    ),
  };
  /** Answer everything asked so far, and whatever those answers make the page ask next. */
  async function answerAll() {
    for (let round = 0; round < 5; round++) {
      for (const resolve of waiting.splice(0)) resolve();
      await tick();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return { api: api as unknown as Api, answerAll };
}

const busy = (element: Element) => element.getAttribute('aria-busy') === 'true' && element.classList.contains('stale');

/** Everything on the page that shows numbers of the view: the cards, the chart, every panel. */
function numbers(container: HTMLElement) {
  return {
    cards: screen.getByRole('group', { name: /^Metrics/ }),
    chart: container.querySelector('.chart-area') as HTMLElement,
    panels: [...container.querySelectorAll<HTMLElement>('section.panel')].map((panel) => ({
      title: panel.querySelector('h2')?.textContent,
      body: panel.querySelector('.panel-body') as HTMLElement,
    })),
  };
}

describe('Dashboard after a view change', () => {
  it('marks every number of the old view stale (dimmed, aria-busy) until the new answers arrive', async () => {
    const { api, answerAll } = slowApi();
    const props = {
      api,
      projectId: 'demo',
      project: { name: 'Demo', timezone: 'UTC' },
      view: DEFAULT_STATE,
      navigate: () => {},
    };
    const { container, rerender } = render(Dashboard, props);
    await answerAll();

    const before = numbers(container);
    expect(screen.getByTestId('metric-visitors').textContent).toBe('100');
    expect(before.panels.map((panel) => panel.title)).toEqual([
      'Sources',
      'Pages',
      'Locations',
      'Devices',
      'Goals',
      'Custom events',
      'Properties',
      'Funnels',
    ]);
    expect(busy(before.cards) || busy(before.chart) || before.panels.some(({ body }) => busy(body))).toBe(false);

    // A filter is applied: its chip is on screen at once, the numbers still belong to the unfiltered view.
    const filtered: DashboardState = { ...DEFAULT_STATE, filters: [['is', 'country', ['DE']]] };
    await rerender({ ...props, view: filtered });
    await tick();
    expect(screen.getByRole('list', { name: 'Filters' }).textContent).toContain('Germany');
    const during = numbers(container);
    expect(screen.getByTestId('metric-visitors').textContent).toBe('100');
    expect(busy(during.cards), 'cards').toBe(true);
    expect(busy(during.chart), 'chart').toBe(true);
    for (const { title, body } of during.panels) expect(busy(body), title ?? '').toBe(true);

    await answerAll();
    const after = numbers(container);
    expect(screen.getByTestId('metric-visitors').textContent).toBe('7');
    expect(busy(after.cards) || busy(after.chart) || after.panels.some(({ body }) => busy(body))).toBe(false);
  });
});
