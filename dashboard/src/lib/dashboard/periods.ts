/** Names of the date ranges and comparisons in the picker. */
import { formatDate } from '../format.ts';
import type { DateSpan } from '../state/dates.ts';
import type { Comparison, Period } from '../state/url-state.ts';

export const PERIOD_LABELS: Record<Period, string> = {
  today: 'Today',
  yesterday: 'Yesterday',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  month: 'This month',
  last_month: 'Last month',
  '12mo': 'Last 12 months',
  year: 'This year',
  all: 'All time',
  custom: 'Custom range',
};

export const COMPARISON_LABELS: Record<Comparison, string> = {
  previous_period: 'Previous period',
  year_over_year: 'Year over year',
};

/** `Nov 16 – Nov 22, 2026`, or one date. */
export function spanLabel(span: DateSpan): string {
  if (span.from === span.to) return formatDate(span.from);
  const from = formatDate(span.from);
  const to = formatDate(span.to);
  return span.from.slice(0, 4) === span.to.slice(0, 4) ? `${from.replace(/, \d{4}$/, '')} – ${to}` : `${from} – ${to}`;
}
