/**
 * Date ranges of the stats API, resolved in the project's timezone: the presets (today, 7d, 30d,
 * month, …), custom ranges, and the period a range is compared with. Every range but `realtime`
 * is a run of whole local days, so that day buckets never straddle its edges.
 */
import {
  addDays,
  addMonths,
  daysBetween,
  firstInstantAt,
  formatDate,
  type Interval,
  type LocalDate,
  localDate,
  parseDate,
} from './calendar.ts';

/** The named ranges. */
export const DATE_RANGE_PRESETS = [
  'realtime',
  'today',
  'yesterday',
  '7d',
  '30d',
  'month',
  'last_month',
  '12mo',
  'year',
  'all',
] as const;
export type DateRangePreset = (typeof DATE_RANGE_PRESETS)[number];

/** A preset, or a custom range of two local dates (inclusive). */
export type DateRangeSpec = DateRangePreset | readonly [string, string];

/** What a comparison compares with. */
export type Comparison = 'previous_period' | 'year_over_year';

/** A resolved range: [start, end) in UTC ms, its local dates, and the interval that suits it. */
export interface ResolvedRange {
  start: number;
  end: number;
  /** First and last local date (inclusive); null for realtime. */
  from: LocalDate | null;
  to: LocalDate | null;
  interval: Interval | 'minute';
}

/** The realtime window: the last 30 minutes. */
export const REALTIME_MS = 30 * 60_000;

function days(from: LocalDate, to: LocalDate, timeZone: string): ResolvedRange {
  const length = daysBetween(from, to) + 1;
  const interval: Interval = length <= 1 ? 'hour' : length <= 92 ? 'day' : length <= 731 ? 'week' : 'month';
  return { start: firstInstantAt(from, timeZone), end: firstInstantAt(addDays(to, 1), timeZone), from, to, interval };
}

/** Why a custom range is invalid, or null. */
export function customRangeProblem(spec: readonly [string, string]): string | null {
  const [from, to] = spec.map(parseDate);
  if (!from || !to) return 'dates must be YYYY-MM-DD';
  if (daysBetween(from, to) < 0) return 'the first date must not be after the second';
  if (daysBetween(from, to) > 366 * 10) return 'at most ten years';
  return null;
}

/**
 * Resolve a range at `now` in `timeZone`. `all` starts at `firstDay` (the project's first day with
 * data, or its creation day).
 *
 * @example
 * ```ts
 * resolveDateRange('7d', 'Europe/Berlin', Date.now(), firstDay); // today and the six days before
 * ```
 */
export function resolveDateRange(
  spec: DateRangeSpec,
  timeZone: string,
  now: number,
  firstDay: LocalDate,
): ResolvedRange {
  if (typeof spec !== 'string') {
    const problem = customRangeProblem(spec);
    if (problem) throw new RangeError(problem);
    return days(parseDate(spec[0]) as LocalDate, parseDate(spec[1]) as LocalDate, timeZone);
  }
  const today = localDate(now, timeZone);
  const firstOfMonth = { ...today, day: 1 };
  switch (spec) {
    case 'realtime':
      return { start: now - REALTIME_MS, end: now + 1, from: null, to: null, interval: 'minute' };
    case 'today':
      return days(today, today, timeZone);
    case 'yesterday':
      return days(addDays(today, -1), addDays(today, -1), timeZone);
    case '7d':
      return days(addDays(today, -6), today, timeZone);
    case '30d':
      return days(addDays(today, -29), today, timeZone);
    case 'month':
      return days(firstOfMonth, addDays(addMonths(firstOfMonth, 1), -1), timeZone);
    case 'last_month':
      return days(addMonths(firstOfMonth, -1), addDays(firstOfMonth, -1), timeZone);
    case '12mo':
      return {
        ...days(addMonths(firstOfMonth, -11), addDays(addMonths(firstOfMonth, 1), -1), timeZone),
        interval: 'month',
      };
    case 'year':
      return {
        ...days({ year: today.year, month: 1, day: 1 }, { year: today.year, month: 12, day: 31 }, timeZone),
        interval: 'month',
      };
    case 'all':
      return days(daysBetween(firstDay, today) < 0 ? today : firstDay, today, timeZone);
  }
}

/**
 * The range a comparison looks at: the same number of local days just before (previous period),
 * or the same local dates a year earlier (year over year; 29 February becomes 28 February).
 */
export function comparisonRange(range: ResolvedRange, comparison: Comparison, timeZone: string): ResolvedRange {
  if (!range.from || !range.to) {
    const length = range.end - range.start;
    const shift = comparison === 'previous_period' ? length : 365 * 86_400_000;
    return { ...range, start: range.start - shift, end: range.end - shift };
  }
  if (comparison === 'previous_period') {
    const length = daysBetween(range.from, range.to) + 1;
    return { ...days(addDays(range.from, -length), addDays(range.to, -length), timeZone), interval: range.interval };
  }
  const yearBefore = (date: LocalDate): LocalDate => {
    const shifted = { ...date, year: date.year - 1 };
    return parseDate(formatDate(shifted)) ?? { ...shifted, day: 28 };
  };
  return { ...days(yearBefore(range.from), yearBefore(range.to), timeZone), interval: range.interval };
}
