import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import RangeControls from './RangeControls.svelte';

const TODAY = '2026-02-10';
const CUSTOM: DashboardState = { ...DEFAULT_STATE, period: 'custom', from: '2026-01-05', to: '2026-01-20' };

function renderControls(view: DashboardState, span = { from: '2026-01-05', to: '2026-01-20' }) {
  const navigate = vi.fn<(next: DashboardState) => void>();
  render(RangeControls, { view, span, interval: 'day', today: TODAY, navigate });
  return { navigate };
}

const rangeSelect = () => screen.getByLabelText('Date range') as HTMLSelectElement;
const input = (label: string) => screen.getByLabelText(label) as HTMLInputElement;

/** Pick an option by its text, as a user does. */
async function choose(select: HTMLSelectElement, text: string) {
  const option = [...select.options].find((candidate) => candidate.textContent?.trim() === text);
  if (!option) throw new Error(`no option "${text}" in ${[...select.options].map((o) => o.textContent).join(', ')}`);
  select.value = option.value;
  await fireEvent.change(select);
}

describe('RangeControls', () => {
  it('goes to a preset at once, resetting the dates', async () => {
    const { navigate } = renderControls(CUSTOM);
    await choose(rangeSelect(), 'Last 7 days');
    expect(navigate).toHaveBeenCalledWith({ ...CUSTOM, period: '7d', from: null, to: null, interval: null });
  });

  it('opens the date form for a custom range and applies it', async () => {
    const { navigate } = renderControls({ ...DEFAULT_STATE, period: '7d' }, { from: '2026-02-04', to: TODAY });
    expect(screen.queryByLabelText('From')).toBeNull();
    await choose(rangeSelect(), 'Custom range…');
    // The form starts from the range on screen.
    expect(input('From').value).toBe('2026-02-04');
    expect(input('To').value).toBe(TODAY);
    expect(navigate).not.toHaveBeenCalled();

    await fireEvent.input(input('From'), { target: { value: '2026-01-01' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    expect(navigate).toHaveBeenCalledWith({
      ...DEFAULT_STATE,
      period: 'custom',
      from: '2026-01-01',
      to: TODAY,
      interval: null,
    });
    expect(screen.queryByLabelText('From')).toBeNull();
  });

  it('reopens the form while a custom range is already applied', async () => {
    const { navigate } = renderControls(CUSTOM);
    await choose(rangeSelect(), 'Change dates…');
    expect(input('From').value).toBe('2026-01-05');
    expect(input('To').value).toBe('2026-01-20');

    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByLabelText('From')).toBeNull();
    expect(rangeSelect().value).toBe('custom');

    // Again after a cancel: the case where the select used to see no change at all.
    await choose(rangeSelect(), 'Change dates…');
    expect(input('From').value).toBe('2026-01-05');
    expect(navigate).not.toHaveBeenCalled();
  });

  it('keeps the applied custom range when it is chosen again', async () => {
    const { navigate } = renderControls(CUSTOM);
    await choose(rangeSelect(), 'Change dates…');
    await choose(rangeSelect(), 'Custom range');
    expect(screen.queryByLabelText('From')).toBeNull();
    expect(navigate).not.toHaveBeenCalled();
  });

  it('shows the dates of "All time" once the first day with data is known', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, period: 'all' };
    const navigate = vi.fn<(next: DashboardState) => void>();
    const { rerender } = render(RangeControls, { view, span: null, interval: 'month', today: TODAY, navigate });
    // Until the API has said which day that is, no dates rather than wrong ones.
    expect(screen.queryByTestId('range-dates')).toBeNull();
    await rerender({
      view,
      span: null,
      allSpan: { from: '2025-11-03', to: TODAY },
      interval: 'month',
      today: TODAY,
      navigate,
    });
    expect(screen.getByTestId('range-dates').textContent).toBe('Nov 3, 2025 – Feb 10, 2026');
    // A custom range starts from them.
    await choose(rangeSelect(), 'Custom range…');
    expect(input('From').value).toBe('2025-11-03');
  });

  it('changes the comparison', async () => {
    const { navigate } = renderControls(CUSTOM);
    await choose(screen.getByLabelText('Compare with') as HTMLSelectElement, 'vs Previous period');
    expect(navigate).toHaveBeenCalledWith({ ...CUSTOM, compare: 'previous_period' });
  });
});
