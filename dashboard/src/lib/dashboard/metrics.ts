/** The metric cards: their labels and what each one means, for titles and screen readers. */
import type { ChartMetric } from '../state/url-state.ts';

export const METRIC_LABELS: Record<ChartMetric, string> = {
  visitors: 'Visitors',
  visits: 'Visits',
  pageviews: 'Pageviews',
  views_per_visit: 'Views per visit',
  bounce_rate: 'Bounce rate',
  visit_duration: 'Visit duration',
};

export const METRIC_HINTS: Record<ChartMetric, string> = {
  visitors: 'Unique visitors per day, summed over the days of the range',
  visits: 'Sessions: a visitor’s events without a 30-minute gap',
  pageviews: 'Pages viewed',
  views_per_visit: 'Pageviews per visit',
  bounce_rate: 'Visits with a single pageview and nothing else',
  visit_duration: 'Average time from the first to the last event of a visit',
};
