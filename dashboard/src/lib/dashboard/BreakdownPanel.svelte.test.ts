import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import BreakdownPanel from './BreakdownPanel.svelte';
import type { DashboardContext } from './context.ts';
import { SOURCE_TABS } from './panels.ts';

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
