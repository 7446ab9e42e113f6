/** The metric cards: their labels and what each one means, for titles and screen readers (from the catalog). */
import { METRICS } from '@tally/sdk/catalog';
import { CHART_METRICS, type ChartMetric } from '../state/url-state.ts';

export const METRIC_LABELS = Object.fromEntries(
  CHART_METRICS.map((metric) => [metric, METRICS[metric].label]),
) as Record<ChartMetric, string>;

export const METRIC_HINTS = Object.fromEntries(
  CHART_METRICS.map((metric) => [metric, METRICS[metric].definition]),
) as Record<ChartMetric, string>;

/**
 * Under a goal filter the visitors and events left are the goal's conversions, so their cards take
 * Plausible's names for them; the other goal cards keep the catalog's.
 */
const GOAL_CARDS: Partial<Record<ChartMetric, { label: string; hint: string }>> = {
  visitors: { label: 'Unique conversions', hint: 'Visitors who completed the goal' },
  events: { label: 'Total conversions', hint: 'Times the goal was completed' },
};

/** A card's (and the chart's) label; `goal` when the view is filtered by a goal. */
export function metricLabel(metric: ChartMetric, goal: boolean): string {
  return (goal ? GOAL_CARDS[metric]?.label : undefined) ?? METRIC_LABELS[metric];
}

/** What a card counts, for its title. */
export function metricHint(metric: ChartMetric, goal: boolean): string {
  return (goal ? GOAL_CARDS[metric]?.hint : undefined) ?? METRIC_HINTS[metric];
}
