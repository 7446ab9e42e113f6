/**
 * The stats requests of the dashboard page, built from the URL state.
 *
 * Round trips to the first screen of numbers: the page sends, at once and in parallel,
 * `GET /api/projects/:id` (name, timezone) and ONE `POST /api/v1/query` that carries the metric
 * cards and the main chart together — the time dimension for the chart, `include.totals` (and
 * `comparison_totals`) for the cards, `include.time_labels` for empty buckets. The panels'
 * queries go out in the same moment. So cards and chart arrive after one API round trip.
 * A second round trip happens only (a) for the dashed comparison line, whose dates need the
 * project's timezone (the cards' comparison numbers are already in the first answer), and (b) for
 * the range `all`, whose length — and so its interval — the first answer reveals. An expired
 * access token adds a refresh and a retry; that is the cost of 15-minute tokens, not of the page.
 */
import type { Interval, MetricName } from '../format.ts';
import type { QueryRequest } from '../api/types.ts';
import { type DateSpan, daysBetween, defaultInterval, intervalsFor } from '../state/dates.ts';
import { type ChartMetric, cardMetrics, type DashboardState, dateRangeOf, type Filter } from '../state/url-state.ts';

/**
 * The metric the main chart plots: the chosen one when the view shows its card, else the first card
 * (visitors, or unique conversions under a goal filter).
 */
export function chartMetric(state: DashboardState): ChartMetric {
  const cards = cardMetrics(state.filters);
  return cards.includes(state.metric) ? state.metric : (cards[0] ?? 'visitors');
}

/** Buckets of a time series are never cut by the default limit of 100 rows. */
const SERIES_LIMIT = 10_000;

/** The chart's interval: the one chosen in the URL when it suits the span, else the API's default. */
export function chartInterval(state: DashboardState, span: DateSpan | null): Interval {
  if (!span) return state.interval ?? 'month';
  const days = daysBetween(span.from, span.to) + 1;
  if (state.interval && intervalsFor(days).includes(state.interval)) return state.interval;
  return defaultInterval(state.period, days);
}

/** For `all`: the interval that suits a range of `months` calendar months. */
export function intervalForMonths(months: number): Interval {
  return months <= 3 ? 'day' : months <= 24 ? 'week' : 'month';
}

/**
 * Cards and chart in one request (see the top of this file). It asks for every card's metric — the
 * goal cards under a goal filter (`cardMetrics`) — so switching the chart's metric never refetches.
 */
export function mainQuery(project: string, state: DashboardState, interval: Interval): QueryRequest {
  return {
    project,
    metrics: [...cardMetrics(state.filters)],
    date_range: dateRangeOf(state),
    dimensions: [`time:${interval}`],
    filters: state.filters,
    include: { totals: true, time_labels: true, ...(state.compare ? { compare: state.compare } : {}) },
    limit: SERIES_LIMIT,
  };
}

/** The comparison period's buckets, for the dashed line (buckets where the current range is empty included). */
export function comparisonSeriesQuery(
  project: string,
  state: DashboardState,
  span: DateSpan,
  interval: Interval,
): QueryRequest {
  return {
    project,
    metrics: [...cardMetrics(state.filters)],
    date_range: [span.from, span.to],
    dimensions: [`time:${interval}`],
    filters: state.filters,
    include: { time_labels: true },
    limit: SERIES_LIMIT,
  };
}

/**
 * The project's first day with data, for the dates of `all`: the earliest day of its day-by-day
 * series (time dimensions sort ascending; days without events have no row). No filters: the range
 * is the project's, and the answer is read from rollups.
 */
export function firstDayQuery(project: string): QueryRequest {
  return { project, metrics: ['events'], date_range: 'all', dimensions: ['time:day'], limit: 1 };
}

/** A panel's breakdown: the top `limit` values of one dimension. */
export function breakdownQuery(
  project: string,
  state: DashboardState,
  dimension: string,
  metrics: readonly MetricName[],
  limit: number,
  extraFilters: Filter[] = [],
): QueryRequest {
  return {
    project,
    metrics: [...metrics],
    date_range: dateRangeOf(state),
    dimensions: [dimension],
    filters: [...state.filters, ...extraFilters],
    limit,
  };
}

/** Custom events: every event but pageviews (the Custom events panel and its detail view). */
export const CUSTOM_EVENTS: Filter = ['is_not', 'event:name', ['pageview']];

/** Only events that carry a value of `dimension`: a property's values, without every other event. */
export function hasValue(dimension: string): Filter {
  return ['is_not', dimension, [null]];
}
