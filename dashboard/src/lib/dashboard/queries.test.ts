import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, type DashboardState, parseState, stateToSearch } from '../state/url-state.ts';
import {
  breakdownQuery,
  chartInterval,
  chartMetric,
  comparisonSeriesQuery,
  intervalForMonths,
  mainQuery,
} from './queries.ts';

/** The view of issue 17: one goal filtered. */
const GOAL_VIEW: DashboardState = { ...DEFAULT_STATE, filters: [['is', 'event:goal', ['Pro signup']]] };

describe('mainQuery', () => {
  it('asks for cards and chart in one request', () => {
    const query = mainQuery('demo', { ...DEFAULT_STATE, compare: 'previous_period' }, 'day');
    expect(query).toEqual({
      project: 'demo',
      metrics: ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'],
      date_range: '30d',
      dimensions: ['time:day'],
      filters: [],
      include: { totals: true, time_labels: true, compare: 'previous_period' },
      limit: 10_000,
    });
  });

  it('sends a custom range as its two dates', () => {
    const state = { ...DEFAULT_STATE, period: 'custom' as const, from: '2026-01-01', to: '2026-01-31' };
    expect(mainQuery('demo', state, 'day').date_range).toEqual(['2026-01-01', '2026-01-31']);
  });

  it('asks for conversions, conversion rate and revenue when a goal is filtered', () => {
    const query = mainQuery('demo', GOAL_VIEW, 'day');
    expect(query.metrics).toEqual(['visitors', 'events', 'conversion_rate', 'revenue']);
    expect(query.filters).toEqual([['is', 'event:goal', ['Pro signup']]]);
    // The dashed line's buckets carry the same metrics, in the same order.
    const span = { from: '2026-01-01', to: '2026-01-30' };
    expect(comparisonSeriesQuery('demo', GOAL_VIEW, span, 'day').metrics).toEqual(query.metrics);
    // Other event filters keep the site's cards.
    const byName = { ...DEFAULT_STATE, filters: [['is', 'event:name', ['signup']] as ['is', string, string[]]] };
    expect(mainQuery('demo', byName, 'day').metrics).toContain('bounce_rate');
  });
});

describe('chartMetric', () => {
  it('plots unique conversions by default under a goal filter, and any goal card chosen', () => {
    expect(chartMetric(GOAL_VIEW)).toBe('visitors');
    expect(chartMetric({ ...GOAL_VIEW, metric: 'conversion_rate' })).toBe('conversion_rate');
    expect(chartMetric({ ...DEFAULT_STATE, metric: 'bounce_rate' })).toBe('bounce_rate');
  });

  it('falls back to the first card when the chosen metric has no card in this view', () => {
    expect(chartMetric({ ...GOAL_VIEW, metric: 'bounce_rate' })).toBe('visitors');
    expect(chartMetric({ ...DEFAULT_STATE, metric: 'revenue' })).toBe('visitors');
  });

  it('keeps a chosen goal card in the link', () => {
    const state = { ...GOAL_VIEW, metric: 'revenue' as const };
    expect(parseState(new URLSearchParams(stateToSearch(state)))).toEqual(state);
  });
});

describe('chartInterval', () => {
  it('keeps a chosen interval only when it suits the range', () => {
    expect(chartInterval({ ...DEFAULT_STATE, interval: 'week' }, { from: '2026-01-01', to: '2026-01-30' })).toBe(
      'week',
    );
    expect(chartInterval({ ...DEFAULT_STATE, interval: 'hour' }, { from: '2026-01-01', to: '2026-01-30' })).toBe('day');
    expect(chartInterval({ ...DEFAULT_STATE, period: 'today' }, { from: '2026-01-01', to: '2026-01-01' })).toBe('hour');
  });

  it('picks days, weeks or months for `all` by its length', () => {
    expect(intervalForMonths(2)).toBe('day');
    expect(intervalForMonths(12)).toBe('week');
    expect(intervalForMonths(40)).toBe('month');
  });
});

describe('breakdownQuery', () => {
  it("adds a panel's own filters after the view's", () => {
    const state = { ...DEFAULT_STATE, filters: [['is', 'country', ['DE']] as ['is', string, string[]]] };
    const query = breakdownQuery('demo', state, 'event:name', ['visitors', 'events'], 10, [
      ['is_not', 'event:name', ['pageview']],
    ]);
    expect(query.filters).toEqual([
      ['is', 'country', ['DE']],
      ['is_not', 'event:name', ['pageview']],
    ]);
    expect(query).toMatchObject({ dimensions: ['event:name'], limit: 10 });
  });
});
