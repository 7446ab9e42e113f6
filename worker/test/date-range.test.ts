import { describe, expect, it } from 'vitest';
import { localDate } from '../src/shared/calendar.ts';
import { comparisonRange, REALTIME_MS, resolveDateRange } from '../src/query/date-range.ts';

const TZ = 'America/New_York';
// 2026-03-10 15:00 in New York, two days after the spring-forward change (2026-03-08).
const NOW = Date.UTC(2026, 2, 10, 19);
const FIRST_DAY = { year: 2025, month: 11, day: 2 };
/** Local midnight (or an hour) in New York: EDT (UTC−4) from the second Sunday of March through the first Sunday of November. */
const at = (year: number, month: number, day: number, hour = 0) => {
  const date = Date.UTC(year, month - 1, day);
  const daylight =
    (date >= Date.UTC(2025, 2, 9) && date <= Date.UTC(2025, 10, 2)) ||
    (date >= Date.UTC(2026, 2, 9) && date <= Date.UTC(2026, 10, 1));
  return Date.UTC(year, month - 1, day, hour + (daylight ? 4 : 5));
};

describe('date ranges', () => {
  it('resolve every preset to whole local days in the project timezone', () => {
    const span = (spec: Parameters<typeof resolveDateRange>[0]) => {
      const range = resolveDateRange(spec, TZ, NOW, FIRST_DAY);
      return [range.start, range.end, range.interval];
    };
    expect(span('today')).toEqual([at(2026, 3, 10), at(2026, 3, 11), 'hour']);
    expect(span('yesterday')).toEqual([at(2026, 3, 9), at(2026, 3, 10), 'hour']);
    // Seven local days ending today; one of them (03-08) is 23 hours long.
    expect(span('7d')).toEqual([at(2026, 3, 4), at(2026, 3, 11), 'day']);
    expect(span('30d')).toEqual([at(2026, 2, 9), at(2026, 3, 11), 'day']);
    expect(span('month')).toEqual([at(2026, 3, 1), at(2026, 4, 1), 'day']);
    expect(span('last_month')).toEqual([at(2026, 2, 1), at(2026, 3, 1), 'day']);
    expect(span('12mo')).toEqual([at(2025, 4, 1), at(2026, 4, 1), 'month']);
    expect(span('year')).toEqual([at(2026, 1, 1), at(2027, 1, 1), 'month']);
    expect(span('all')).toEqual([at(2025, 11, 2), at(2026, 3, 11), 'week']);
    expect(span('realtime')).toEqual([NOW - REALTIME_MS, NOW + 1, 'minute']);
    expect(span(['2026-03-08', '2026-03-08'])).toEqual([at(2026, 3, 8), at(2026, 3, 9), 'hour']);
    expect(at(2026, 3, 9) - at(2026, 3, 8)).toBe(23 * 3_600_000);
  });

  it('refuse impossible custom ranges', () => {
    expect(() => resolveDateRange(['2026-02-30', '2026-03-01'], TZ, NOW, FIRST_DAY)).toThrow(/YYYY-MM-DD/);
    expect(() => resolveDateRange(['2026-03-02', '2026-03-01'], TZ, NOW, FIRST_DAY)).toThrow(/after/);
  });

  it('keep custom ranges and `all` inside 2000-01-01 … tomorrow, at most ten years', () => {
    // Tomorrow in New York is the last day allowed; the day after is not, nor 9999-12-31.
    expect(resolveDateRange(['2026-03-11', '2026-03-11'], TZ, NOW, FIRST_DAY).start).toBe(at(2026, 3, 11));
    expect(() => resolveDateRange(['2026-03-12', '2026-03-12'], TZ, NOW, FIRST_DAY)).toThrow(/2026-03-11/);
    expect(() => resolveDateRange(['9999-12-31', '9999-12-31'], TZ, NOW, FIRST_DAY)).toThrow(/after/);
    expect(() => resolveDateRange(['1999-12-31', '2000-01-01'], TZ, NOW, FIRST_DAY)).toThrow(/2000-01-01/);
    expect(() => resolveDateRange(['2010-01-01', '2020-12-31'], TZ, NOW, FIRST_DAY)).toThrow(/ten years/);
    // Data from before 2000 (a bad import) or over ten years old does not stretch `all`.
    const all = resolveDateRange('all', TZ, NOW, { year: 1970, month: 1, day: 1 });
    expect(localDate(all.start, TZ)).toEqual({ year: 2016, month: 3, day: 3 }); // 3,660 days, like the longest custom range
  });

  it('compare with the previous period of equal length, or the same dates a year before', () => {
    const week = resolveDateRange('7d', TZ, NOW, FIRST_DAY);
    const previous = comparisonRange(week, 'previous_period', TZ);
    expect([previous.start, previous.end]).toEqual([at(2026, 2, 25), at(2026, 3, 4)]);
    const leap = resolveDateRange(['2028-02-29', '2028-02-29'], TZ, Date.UTC(2028, 2, 1), FIRST_DAY);
    const yearBefore = comparisonRange(leap, 'year_over_year', TZ);
    expect([localDate(yearBefore.start, TZ), yearBefore.interval]).toEqual([{ year: 2027, month: 2, day: 28 }, 'hour']);
    const realtime = resolveDateRange('realtime', TZ, NOW, FIRST_DAY);
    expect(comparisonRange(realtime, 'previous_period', TZ).end).toBe(realtime.start);
  });
});
