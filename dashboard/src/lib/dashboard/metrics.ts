/** The metric cards: their labels and what each one means, for titles and screen readers (from the catalog). */
import { METRICS } from '@tally/sdk/catalog';
import { CHART_METRICS, type ChartMetric } from '../state/url-state.ts';

export const METRIC_LABELS = Object.fromEntries(
  CHART_METRICS.map((metric) => [metric, METRICS[metric].label]),
) as Record<ChartMetric, string>;

export const METRIC_HINTS = Object.fromEntries(
  CHART_METRICS.map((metric) => [metric, METRICS[metric].definition]),
) as Record<ChartMetric, string>;
