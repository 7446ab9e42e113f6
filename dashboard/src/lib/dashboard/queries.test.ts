import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE } from '../state/url-state.ts';
import { breakdownQuery, chartInterval, intervalForMonths, mainQuery } from './queries.ts';

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
