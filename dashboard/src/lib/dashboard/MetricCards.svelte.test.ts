import { fireEvent, render, screen } from '@testing-library/svelte';
import type { ComponentProps } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { GOAL_METRICS, SITE_METRICS } from '../state/url-state.ts';
import MetricCards from './MetricCards.svelte';

// visitors, visits, pageviews, views per visit, bounce rate (%), visit duration (s)
const TOTALS = [1234, 900, 4321, 2.5, 40, 245];
const PREVIOUS = [1000, 900, 0, 2.5, 30, 300];

/** The card (button) of a metric, found through its value. */
const card = (metric: string) => screen.getByTestId(`metric-${metric}`).closest('button') as HTMLButtonElement;
const change = (metric: string) => card(metric).querySelector('.change');

function renderCards(props: Partial<ComponentProps<typeof MetricCards>> = {}) {
  const onselect = vi.fn();
  render(MetricCards, {
    metrics: SITE_METRICS,
    totals: TOTALS,
    comparisonTotals: undefined,
    selected: 'visitors',
    onselect,
    compareLabel: '',
    ...props,
  });
  return { onselect };
}

describe('MetricCards', () => {
  it('formats each metric in its own unit', () => {
    renderCards();
    expect(screen.getByTestId('metric-visitors').textContent).toBe('1.2k');
    expect(screen.getByTestId('metric-visits').textContent).toBe('900');
    expect(screen.getByTestId('metric-pageviews').textContent).toBe('4.3k');
    expect(screen.getByTestId('metric-views_per_visit').textContent).toBe('2.5');
    expect(screen.getByTestId('metric-bounce_rate').textContent).toBe('40%');
    expect(screen.getByTestId('metric-visit_duration').textContent).toBe('4m 05s');
    // The full count is one hover away.
    expect(screen.getByTestId('metric-visitors').getAttribute('title')).toBe('1,234');
  });

  it('shows no change without a comparison', () => {
    renderCards();
    expect(document.querySelectorAll('.change')).toHaveLength(0);
  });

  it('shows the change against the comparison, coloured by whether it is good', () => {
    renderCards({ comparisonTotals: PREVIOUS, compareLabel: 'Previous period' });
    expect(change('visitors')?.textContent).toContain('23%');
    expect(change('visitors')?.textContent).toContain('(+23%) vs Previous period');
    expect(change('visitors')?.classList.contains('good')).toBe(true);
    expect(change('visitors')?.getAttribute('title')).toBe('Previous period: 1k');

    expect(change('visits')?.textContent).toContain('0%');
    expect(change('visits')?.classList.contains('good') || change('visits')?.classList.contains('bad')).toBe(false);

    // Nothing before: "new", not an infinite percentage.
    expect(change('pageviews')?.textContent).toContain('new');

    // A higher bounce rate is worse, and counts in percentage points.
    expect(change('bounce_rate')?.textContent).toContain('(+10 pp)');
    expect(change('bounce_rate')?.classList.contains('bad')).toBe(true);

    expect(change('visit_duration')?.textContent).toContain('(-18%)');
    expect(change('visit_duration')?.classList.contains('bad')).toBe(true);
  });

  it('charts the chosen card and marks the selected one', async () => {
    const { onselect } = renderCards({ selected: 'visits' });
    expect(card('visits').getAttribute('aria-pressed')).toBe('true');
    expect(card('visitors').getAttribute('aria-pressed')).toBe('false');
    await fireEvent.click(card('bounce_rate'));
    expect(onselect).toHaveBeenCalledWith('bounce_rate');
  });

  it('shows placeholders, not zeros, while the totals load', () => {
    renderCards({ totals: undefined });
    expect(screen.queryByTestId('metric-visitors')).toBeNull();
    expect(screen.getAllByRole('button')).toHaveLength(6);
  });

  describe('under a goal filter', () => {
    // unique conversions, total conversions, conversion rate (%), revenue (in meta.currency)
    const goal = (totals: number[] | undefined, more: Partial<ComponentProps<typeof MetricCards>> = {}) =>
      renderCards({ metrics: GOAL_METRICS, goal: true, totals, currency: 'EUR', ...more });
    const labels = () => [...document.querySelectorAll('.metric .label')].map((label) => label.textContent);

    it("shows Plausible's goal cards instead of pageviews, bounce rate and duration", () => {
      goal([120, 150, 3.456, 1234.5]);
      expect(labels()).toEqual(['Unique conversions', 'Total conversions', 'Conversion rate', 'Revenue']);
      expect(screen.getByTestId('metric-visitors').textContent).toBe('120');
      expect(screen.getByTestId('metric-events').textContent).toBe('150');
      expect(screen.getByTestId('metric-conversion_rate').textContent).toBe('3.46%');
      expect(screen.getByTestId('metric-revenue').textContent).toBe('€1,235');
      for (const metric of ['pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']) {
        expect(screen.queryByTestId(`metric-${metric}`)).toBeNull();
      }
    });

    it('leaves revenue out when none was earned', () => {
      goal([120, 150, 3.456, 0]);
      expect(labels()).toEqual(['Unique conversions', 'Total conversions', 'Conversion rate']);
      expect(screen.queryByTestId('metric-revenue')).toBeNull();
    });

    it('keeps revenue when only the compared period earned some', () => {
      goal([120, 150, 3.456, 0], { comparisonTotals: [100, 110, 3, 99], compareLabel: 'Previous period' });
      expect(screen.getByTestId('metric-revenue').textContent).toBe('€0');
      expect(change('revenue')?.getAttribute('title')).toBe('Previous period: €99');
      // The conversion rate moves in percentage points.
      expect(change('conversion_rate')?.textContent).toContain('(+0.5 pp)');
    });

    it('charts a goal card', async () => {
      const { onselect } = goal([120, 150, 3.456, 10], { selected: 'visitors' });
      expect(card('visitors').getAttribute('aria-pressed')).toBe('true');
      await fireEvent.click(card('conversion_rate'));
      expect(onselect).toHaveBeenCalledWith('conversion_rate');
    });
  });
});
