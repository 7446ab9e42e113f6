import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../api/client.ts';
import type { QueryRequest, QueryResponse } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import FilterBuilder from './FilterBuilder.svelte';

const PAGES: QueryResponse = {
  results: [
    { dimensions: ['/pricing'], metrics: [7] },
    { dimensions: ['/blog/a'], metrics: [5] },
    { dimensions: ['/blog/b'], metrics: [3] },
  ],
  meta: {},
};

function open(view: DashboardState, index: number | null, answer: QueryResponse = PAGES) {
  const query = vi.fn(async (_body: QueryRequest) => answer);
  const get = vi.fn(async (_path: string, _options?: unknown) => ({ keys: ['plan', 'tier'] }));
  const onapply = vi.fn<(next: DashboardState) => void>();
  const onclose = vi.fn();
  render(FilterBuilder, { api: { query, get } as unknown as Api, projectId: 'demo', view, index, onapply, onclose });
  return { query, get, onapply, onclose };
}

async function chooseDimension(name: string) {
  await fireEvent.change(screen.getByLabelText('Dimension'), { target: { value: name } });
}

const values = () => screen.getByRole('combobox', { name: /Values/ }) as HTMLInputElement;
const optionTexts = () =>
  screen
    .getAllByRole('option')
    .filter((option) => option.closest('[role="listbox"]'))
    .map((option) => option.textContent?.replace(/\s+/g, ' ').trim());

describe('FilterBuilder', () => {
  it('suggests the dimension’s values from its breakdown under the other filters', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, filters: [['is', 'country', ['DE']]] };
    const { query } = open(view, null);
    await screen.findByText('/pricing');
    expect(query.mock.calls[0]?.[0]).toMatchObject({
      project: 'demo',
      dimensions: ['page'],
      metrics: ['visitors'],
      filters: [['is', 'country', ['DE']]],
      limit: 100,
    });
    expect(optionTexts()).toEqual(['/pricing 7', '/blog/a 5', '/blog/b 3']);
  });

  it('adds one filter of the picked values (keyboard and click), and typed text as a value', async () => {
    const { onapply } = open(DEFAULT_STATE, null);
    await screen.findByText('/pricing');
    await fireEvent.input(values(), { target: { value: 'blog' } });
    expect(optionTexts()).toEqual(['/blog/a 5', '/blog/b 3', 'Use “blog”']);
    await fireEvent.keyDown(values(), { key: 'ArrowDown' });
    await fireEvent.keyDown(values(), { key: 'Enter' });
    await fireEvent.click(screen.getByText('/pricing'));
    await fireEvent.input(values(), { target: { value: '/free' } });
    await fireEvent.keyDown(values(), { key: 'ArrowDown' });
    await fireEvent.keyDown(values(), { key: 'ArrowDown' });
    await fireEvent.keyDown(values(), { key: 'Enter' });
    expect(screen.getByRole('list', { name: 'Chosen values' }).textContent).toMatch(/\/blog\/a.*\/pricing.*\/free/s);
    await fireEvent.submit(screen.getByRole('button', { name: 'Add filter' }).closest('form') as HTMLFormElement);
    expect(onapply.mock.calls[0]?.[0].filters).toEqual([['is', 'page', ['/blog/a', '/pricing', '/free']]]);
  });

  it('opens an existing filter with its operator and values, and applies the change in its place', async () => {
    const view: DashboardState = {
      ...DEFAULT_STATE,
      filters: [
        ['is', 'country', ['DE']],
        ['contains', 'page', ['/blog', '/docs']],
      ],
    };
    const { onapply, query } = open(view, 1);
    expect(screen.getByRole('heading', { name: 'Edit filter' })).toBeTruthy();
    expect((screen.getByRole('radio', { name: 'contains' }) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(query).toHaveBeenCalled());
    // The edited filter does not narrow its own suggestions.
    expect(query.mock.calls[0]?.[0].filters).toEqual([['is', 'country', ['DE']]]);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove value /docs' }));
    await fireEvent.click(screen.getByRole('radio', { name: 'matches' }));
    await fireEvent.submit(screen.getByRole('button', { name: 'Apply' }).closest('form') as HTMLFormElement);
    expect(onapply.mock.calls[0]?.[0].filters).toEqual([
      ['is', 'country', ['DE']],
      ['matches', 'page', ['/blog']],
    ]);
  });

  it('adds a "does not contain" filter, typed text first and the missing value on offer', async () => {
    const { onapply } = open(DEFAULT_STATE, null);
    await screen.findByText('/pricing');
    await fireEvent.click(screen.getByRole('radio', { name: 'does not contain' }));
    expect(screen.getByText(/Keeps values that contain none of these/)).toBeTruthy();
    await fireEvent.input(values(), { target: { value: '/blog' } });
    expect(optionTexts()[0]).toBe('Use “/blog”');
    await fireEvent.keyDown(values(), { key: 'Enter' });
    await fireEvent.submit(screen.getByRole('button', { name: 'Add filter' }).closest('form') as HTMLFormElement);
    expect(onapply.mock.calls[0]?.[0].filters).toEqual([['does_not_contain', 'page', ['/blog']]]);
  });

  it('removes the edited filter', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, filters: [['is', 'country', ['DE']]] };
    const { onapply } = open(view, 0);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove filter' }));
    expect(onapply.mock.calls[0]?.[0].filters).toEqual([]);
  });

  it('offers every operator of the API, and only "is" for goals', async () => {
    open(DEFAULT_STATE, null, { results: [{ dimensions: ['Signup'], metrics: [2] }], meta: {} });
    expect(screen.getAllByRole('radio').map((radio) => radio.parentElement?.textContent?.trim())).toEqual([
      'is',
      'is not',
      'contains',
      'does not contain',
      'matches',
    ]);
    await chooseDimension('event:goal');
    expect(screen.getAllByRole('radio').map((radio) => radio.parentElement?.textContent?.trim())).toEqual(['is']);
  });

  it('filters by a custom property named by its key, offering the keys of recent events', async () => {
    const { onapply, query, get } = open(DEFAULT_STATE, null, {
      results: [{ dimensions: ['pro'], metrics: [4] }],
      meta: {},
    });
    await chooseDimension('event:props:');
    await waitFor(() => expect(get).toHaveBeenCalledWith('/api/projects/demo/property-keys', expect.anything()));
    const list = document.getElementById(screen.getByLabelText('Property key').getAttribute('list') ?? '');
    await waitFor(() =>
      expect([...(list?.querySelectorAll('option') ?? [])].map((option) => option.value)).toEqual(['plan', 'tier']),
    );
    await fireEvent.input(screen.getByLabelText('Property key'), { target: { value: 'plan' } });
    await waitFor(() => expect(query.mock.calls.at(-1)?.[0].dimensions).toEqual(['event:props:plan']));
    await fireEvent.click(await screen.findByText('pro'));
    await fireEvent.submit(screen.getByRole('button', { name: 'Add filter' }).closest('form') as HTMLFormElement);
    expect(onapply.mock.calls[0]?.[0].filters).toEqual([['is', 'event:props:plan', ['pro']]]);
  });
});
