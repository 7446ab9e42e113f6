import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import FilterChips from './FilterChips.svelte';

const VIEW: DashboardState = {
  ...DEFAULT_STATE,
  filters: [
    ['is', 'page', ['/pricing', '/about']],
    ['is_not', 'source', [null]],
    ['contains', 'utm_campaign', ['<b>spring</b>']],
  ],
};

function renderChips(view: DashboardState) {
  const navigate = vi.fn<(next: DashboardState) => void>();
  const { container } = render(FilterChips, { view, navigate, onedit: vi.fn() });
  return { container, navigate };
}

describe('FilterChips', () => {
  it('says each filter in words, values as text', () => {
    const { container } = renderChips(VIEW);
    expect(screen.getByRole('button', { name: 'Remove filter: Page is /pricing or /about' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Remove filter: Source is not Direct / None' })).toBeTruthy();
    expect(screen.getByText('<b>spring</b>')).toBeTruthy();
    expect(container.querySelector('b')).toBeNull();
  });

  it('says a negative filter of several values with "nor": none of them holds', () => {
    renderChips({
      ...VIEW,
      filters: [
        ['does_not_contain', 'page', ['/admin', '/internal']],
        ['is_not', 'country', ['DE', 'AT']],
      ],
    });
    expect(
      screen.getByRole('button', { name: 'Remove filter: Page does not contain /admin nor /internal' }),
    ).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Remove filter: Country is not Germany nor Austria' })).toBeTruthy();
  });

  it('removes the chosen filter and keeps the others in order', async () => {
    const { navigate } = renderChips(VIEW);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove filter: Source is not Direct / None' }));
    expect(navigate).toHaveBeenCalledTimes(1);
    expect(navigate.mock.calls[0]?.[0]).toEqual({ ...VIEW, filters: [VIEW.filters[0], VIEW.filters[2]] });
  });

  it('clears all filters at once', async () => {
    const { navigate } = renderChips(VIEW);
    await fireEvent.click(screen.getByRole('button', { name: 'Clear all' }));
    expect(navigate.mock.calls[0]?.[0].filters).toEqual([]);
  });

  it('offers no "Clear all" for a single filter', () => {
    renderChips({ ...VIEW, filters: [['is', 'page', ['/']]] });
    expect(screen.queryByRole('button', { name: 'Clear all' })).toBeNull();
    // Its text (to edit it) and its ×.
    expect(screen.getAllByRole('button')).toHaveLength(2);
  });

  it('opens the builder on a chip’s filter', async () => {
    const onedit = vi.fn<(index: number, opener: HTMLElement) => void>();
    const navigate = vi.fn<(next: DashboardState) => void>();
    render(FilterChips, { view: VIEW, navigate, onedit });
    const edit = screen.getByRole('button', { name: 'Edit filter: Source is not Direct / None' });
    expect(edit.getAttribute('aria-haspopup')).toBe('dialog');
    await fireEvent.click(edit);
    expect(onedit).toHaveBeenCalledWith(1, edit);
    expect(navigate).not.toHaveBeenCalled();
  });

  it('renders nothing without filters', () => {
    const { container } = renderChips(DEFAULT_STATE);
    expect(container.querySelector('ul')).toBeNull();
  });
});
