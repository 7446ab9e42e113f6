import { describe, expect, it } from 'vitest';
import {
  formatBucket,
  formatChange,
  formatClock,
  formatDuration,
  formatMetric,
  formatMoney,
  formatNumber,
} from './format.ts';

describe('formatNumber', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [999.4, '999'],
    [999.5, '1k'],
    [1000, '1k'],
    [1234, '1.2k'],
    [1250, '1.3k'],
    [12_345, '12.3k'],
    [99_949, '99.9k'],
    [99_950, '100k'],
    [123_456, '123k'],
    [999_499, '999k'],
    [999_500, '1M'],
    [4_500_000, '4.5M'],
    [2_000_000_000, '2B'],
    [-1234, '-1.2k'],
  ])('%d → %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('never prints more than three significant digits plus a unit', () => {
    for (let value = 1; value < 1e13; value = Math.ceil(value * 1.37)) {
      expect(formatNumber(value)).toMatch(/^\d{1,3}(\.\d)?[kMBT]?$/);
    }
  });

  it('shows a dash for what is not a number', () => {
    expect(formatNumber(Number.NaN)).toBe('–');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [-3, '0s'],
    [0.4, '0s'],
    [45, '45s'],
    [59.6, '1m 00s'],
    [60, '1m 00s'],
    [245, '4m 05s'],
    [3599, '59m 59s'],
    [3600, '1h 00m'],
    [3725, '1h 02m'],
    [90_000, '25h 00m'],
  ])('%d s → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('formatMetric', () => {
  it('spells each metric in its unit', () => {
    expect(formatMetric('visitors', 1234)).toBe('1.2k');
    expect(formatMetric('bounce_rate', 41)).toBe('41%');
    expect(formatMetric('visit_duration', 150)).toBe('2m 30s');
    expect(formatMetric('views_per_visit', 2.7)).toBe('2.7');
    expect(formatMetric('views_per_visit', 3)).toBe('3');
    expect(formatMetric('conversion_rate', 4.25)).toBe('4.25%');
    expect(formatMetric('conversion_rate', 44.8)).toBe('44.8%');
  });

  it('spells revenue in the currency of the answer', () => {
    expect(formatMetric('revenue', 49.5, 'EUR')).toBe('€49.50');
    expect(formatMetric('revenue', 1234.5, 'GBP')).toBe('£1,235');
    expect(formatMetric('revenue', 12_345, 'JPY')).toBe('¥12.3k');
    // Without a currency (never in an answer that has revenue), a plain number rather than a wrong symbol.
    expect(formatMetric('revenue', 1234)).toBe('1.2k');
  });
});

describe('formatMoney', () => {
  it('spells amounts in their currency, short when large', () => {
    expect(formatMoney(9.99, 'USD')).toBe('$9.99');
    expect(formatMoney(1234.5, 'EUR')).toBe('€1,235');
    expect(formatMoney(12_345, 'USD')).toBe('$12.3k');
    expect(formatMoney(0, 'GBP')).toBe('£0');
    // Whole amounts, as on a chart's axis, without cents.
    expect(formatMoney(500, 'EUR')).toBe('€500');
    expect(formatMoney(0.5, 'USD')).toBe('$0.50');
  });
});

describe('formatChange', () => {
  it('gives the change in percent, up being good', () => {
    expect(formatChange('visitors', 120, 100)).toEqual({ text: '+20%', direction: 'up', good: true });
    expect(formatChange('visitors', 80, 100)).toEqual({ text: '-20%', direction: 'down', good: false });
    expect(formatChange('visitors', 100, 100)).toEqual({ text: '0%', direction: 'flat', good: null });
  });

  it('says "new" when there was nothing before, and flat when there is nothing at all', () => {
    expect(formatChange('pageviews', 5, 0)).toEqual({ text: 'new', direction: 'up', good: true });
    expect(formatChange('pageviews', 0, 0)).toEqual({ text: '0%', direction: 'flat', good: null });
  });

  it('moves bounce rate in percentage points, down being good', () => {
    expect(formatChange('bounce_rate', 40, 45)).toEqual({ text: '-5 pp', direction: 'down', good: true });
    expect(formatChange('bounce_rate', 47, 45)).toEqual({ text: '+2 pp', direction: 'up', good: false });
    expect(formatChange('bounce_rate', 45, 45).direction).toBe('flat');
  });

  it('rounds the percent change', () => {
    expect(formatChange('visits', 1001, 1000).text).toBe('0%');
    expect(formatChange('visits', 1006, 1000).text).toBe('+1%');
  });
});

describe('formatBucket', () => {
  it('re-spells API labels without converting them', () => {
    expect(formatBucket('2026-03-29 02:00', 'hour')).toBe('02:00');
    expect(formatBucket('2026-03-29 02:00', 'hour', 'long')).toBe('Sun, Mar 29, 02:00');
    expect(formatBucket('2026-11-22', 'day')).toBe('Nov 22');
    expect(formatBucket('2026-11-22', 'day', 'long')).toBe('Sun, Nov 22 2026');
    expect(formatBucket('2026-11-16', 'week', 'long')).toBe('Week of Nov 16 2026');
    expect(formatBucket('2026-11-01', 'month')).toBe('Nov 2026');
  });

  it('leaves anything else as it is', () => {
    expect(formatBucket('<b>x</b>', 'day')).toBe('<b>x</b>');
  });
});

describe('formatClock', () => {
  it('shows the wall clock of the project timezone', () => {
    const instant = Date.UTC(2026, 10, 22, 13, 4, 5);
    expect(formatClock(instant, 'UTC')).toBe('13:04:05');
    expect(formatClock(instant, 'Asia/Kolkata')).toBe('18:34:05');
  });
});
