import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import BreakdownPanel from './BreakdownPanel.svelte';
import type { DashboardContext } from './context.ts';
import { PAGE_TABS, SOURCE_TABS } from './panels.ts';

// Values as a hostile site can send them: they must reach the page as text, never as markup or links.
const MARKUP = '<img src=x onerror="window.hacked=1">';
const SCRIPT_URL = 'javascript:alert(document.cookie)';
const SAFE_URL = 'https://news.example.com/a?b=1';

const ANSWER: QueryResponse = {
  results: [
    { dimensions: [MARKUP], metrics: [40] },
    { dimensions: [SCRIPT_URL], metrics: [30] },
    { dimensions: [SAFE_URL], metrics: [20] },
    { dimensions: ['data:text/html,<script>alert(1)</script>'], metrics: [10] },
    { dimensions: [null], metrics: [5] },
  ],
  meta: {},
};

function renderPanel(view: DashboardState = DEFAULT_STATE) {
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
  const { container } = render(BreakdownPanel, { title: 'Sources', tabs: SOURCE_TABS, ctx });
  return { container, query, navigate };
}

async function openReferrers() {
  await fireEvent.click(screen.getByRole('tab', { name: 'Referrers' }));
  await screen.findByText(SAFE_URL);
}

describe('BreakdownPanel', () => {
  it('asks for the tab’s dimension', async () => {
    const { query } = renderPanel();
    await screen.findByText(MARKUP);
    expect(query.mock.calls[0]?.[0]).toMatchObject({ project: 'demo', dimensions: ['source'], metrics: ['visitors'] });
    await openReferrers();
    expect(query.mock.calls.at(-1)?.[0]).toMatchObject({ dimensions: ['referrer'] });
  });

  it('renders untrusted values as text', async () => {
    const { container } = renderPanel();
    await openReferrers();
    // The label is the value after an icon (empty here): the characters arrive unchanged, as text.
    expect(screen.getByText(MARKUP).textContent?.trim()).toBe(MARKUP);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(screen.getByText('Direct / None')).toBeTruthy();
  });

  it('links a referrer only when it is an http(s) URL', async () => {
    const { container } = renderPanel();
    await openReferrers();
    const hrefs = [...container.querySelectorAll('a')].map((link) => link.getAttribute('href'));
    expect(hrefs).toEqual([SAFE_URL]);
    expect(container.querySelector('a[href^="javascript:"], a[href^="data:"]')).toBeNull();
    const link = container.querySelector('a') as HTMLAnchorElement;
    expect(link.rel.split(' ')).toEqual(expect.arrayContaining(['noopener', 'noreferrer']));
  });

  it('does not link the values of other dimensions, even URLs', async () => {
    const { container } = renderPanel();
    await screen.findByText(SAFE_URL);
    expect(container.querySelectorAll('a')).toHaveLength(0);
  });

  it('filters the dashboard by the clicked row, replacing a filter on the same dimension', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, filters: [['is', 'referrer', ['https://old.example']]] };
    const { navigate } = renderPanel(view);
    await openReferrers();
    await fireEvent.click(screen.getByTitle(`Filter by Referrer: ${SCRIPT_URL}`));
    expect(navigate).toHaveBeenCalledTimes(1);
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([['is', 'referrer', [SCRIPT_URL]]]);
  });

  it('filters by "no value" for the direct row', async () => {
    const { navigate } = renderPanel();
    await fireEvent.click(await screen.findByTitle('Filter by Source: Direct / None'));
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([['is', 'source', [null]]]);
  });
});

describe('BreakdownPanel for screen readers', () => {
  it('gives each tab its panel (aria-controls, aria-selected) and names the panel by the active tab', async () => {
    renderPanel();
    await screen.findByText(MARKUP);
    const tabpanel = screen.getByRole('tabpanel');
    for (const tab of screen.getAllByRole('tab')) expect(tab.getAttribute('aria-controls')).toBe(tabpanel.id);
    expect(screen.getByRole('tabpanel', { name: 'Sources' })).toBe(tabpanel);
    await openReferrers();
    expect(screen.getByRole('tab', { name: 'Referrers' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('tab', { name: 'Sources' }).getAttribute('aria-selected')).toBe('false');
    expect(screen.getByRole('tabpanel', { name: 'Referrers' })).toBe(tabpanel);
  });

  it('reads each number of a row after its column’s heading', async () => {
    const query = vi.fn(
      async (_body: QueryRequest): Promise<QueryResponse> => ({
        results: [{ dimensions: ['/pricing'], metrics: [1234, 56] }],
        meta: {},
      }),
    );
    const ctx: DashboardContext = {
      api: { query } as unknown as Api,
      projectId: 'demo',
      view: DEFAULT_STATE,
      navigate: vi.fn(),
      settingsHref: null,
      tick: 0,
    };
    render(BreakdownPanel, { title: 'Pages', tabs: PAGE_TABS, ctx });
    await screen.findByText('/pricing');
    expect(screen.getByRole('button', { name: '/pricing Visitors 1.2k Views 56' })).toBeTruthy();
  });
});
