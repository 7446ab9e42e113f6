import { describe, expect, it } from 'vitest';
import type { DEFAULT_STATE } from './url-state.ts';
import { addDays, comparisonSpan, daysBetween, defaultInterval, intervalsFor, resolveSpan, todayIn } from './dates.ts';

const span = (period: (typeof DEFAULT_STATE)['period'], today: string) =>
  resolveSpan({ period, from: null, to: null }, today);

describe('resolveSpan (as docs/STATS.md defines the ranges)', () => {
  it('resolves the presets around today', () => {
    expect(span('today', '2026-03-01')).toEqual({ from: '2026-03-01', to: '2026-03-01' });
    expect(span('yesterday', '2026-03-01')).toEqual({ from: '2026-02-28', to: '2026-02-28' });
    expect(span('7d', '2026-03-01')).toEqual({ from: '2026-02-23', to: '2026-03-01' });
    expect(span('30d', '2026-03-01')).toEqual({ from: '2026-01-31', to: '2026-03-01' });
    expect(span('month', '2024-02-10')).toEqual({ from: '2024-02-01', to: '2024-02-29' });
    expect(span('last_month', '2026-01-15')).toEqual({ from: '2025-12-01', to: '2025-12-31' });
    expect(span('12mo', '2026-11-22')).toEqual({ from: '2025-12-01', to: '2026-11-30' });
    expect(span('year', '2026-11-22')).toEqual({ from: '2026-01-01', to: '2026-12-31' });
    expect(span('all', '2026-11-22')).toBeNull();
  });

  it('uses the dates of a custom range', () => {
    expect(resolveSpan({ period: 'custom', from: '2026-01-01', to: '2026-01-10' }, '2026-11-22')).toEqual({
      from: '2026-01-01',
      to: '2026-01-10',
    });
  });
});

describe('comparisonSpan', () => {
  it('takes the same number of days just before', () => {
    expect(comparisonSpan({ from: '2026-03-01', to: '2026-03-07' }, 'previous_period')).toEqual({
      from: '2026-02-22',
      to: '2026-02-28',
    });
    expect(comparisonSpan({ from: '2026-03-01', to: '2026-03-01' }, 'previous_period')).toEqual({
      from: '2026-02-28',
      to: '2026-02-28',
    });
  });

  it('takes the same dates a year back, 29 February becoming 28 February', () => {
    expect(comparisonSpan({ from: '2024-02-01', to: '2024-02-29' }, 'year_over_year')).toEqual({
      from: '2023-02-01',
      to: '2023-02-28',
    });
    expect(comparisonSpan({ from: '2026-11-16', to: '2026-11-22' }, 'year_over_year')).toEqual({
      from: '2025-11-16',
      to: '2025-11-22',
    });
  });
});

describe('intervals', () => {
  it('defaults like the API: hours for a day, days up to 92, weeks up to two years, months after', () => {
    expect(defaultInterval('today', 1)).toBe('hour');
    expect(defaultInterval('30d', 30)).toBe('day');
    expect(defaultInterval('custom', 92)).toBe('day');
    expect(defaultInterval('custom', 93)).toBe('week');
    expect(defaultInterval('custom', 732)).toBe('month');
    expect(defaultInterval('12mo', 365)).toBe('month');
    expect(defaultInterval('year', 365)).toBe('month');
  });

  it('offers only intervals with a readable number of buckets', () => {
    expect(intervalsFor(1)).toEqual(['hour']);
    expect(intervalsFor(7)).toEqual(['hour', 'day']);
    expect(intervalsFor(30)).toEqual(['day', 'week']);
    expect(intervalsFor(365)).toEqual(['day', 'week', 'month']);
    expect(intervalsFor(3000)).toEqual(['week', 'month']);
  });
});

describe('calendar helpers', () => {
  it('adds days across months and leap years', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(daysBetween('2026-01-01', '2026-12-31')).toBe(364);
  });

  it('knows today in a timezone', () => {
    const instant = Date.UTC(2026, 10, 22, 23, 30);
    expect(todayIn('UTC', instant)).toBe('2026-11-22');
    expect(todayIn('Europe/Berlin', instant)).toBe('2026-11-23');
    expect(todayIn('America/Los_Angeles', instant)).toBe('2026-11-22');
  });
});
