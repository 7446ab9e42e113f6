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
} from '../shared/calendar.ts';
import { ApiError } from '../shared/errors.ts';

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

/** The first day any range may start on: no analytics data is older. */
export const EARLIEST_DATE: LocalDate = { year: 2000, month: 1, day: 1 };
/** The longest custom range, in days (ten years). */
export const MAX_RANGE_DAYS = 366 * 10;

/**
 * Why a custom range is invalid, or null. Without `today` only what holds at any time is checked
 * (the schema's part); with it, also that the range ends no later than the day after today (a
 * visitor ahead of the project's timezone may already be there). Every loop over a range's days,
 * hours or buckets relies on these bounds: a range ending on 9999-12-31 once looped for minutes.
 */
export function customRangeProblem(spec: readonly [string, string], today?: LocalDate): string | null {
  const [from, to] = spec.map(parseDate);
  if (!from || !to) return 'dates must be YYYY-MM-DD';
  if (daysBetween(from, to) < 0) return 'the first date must not be after the second';
  if (daysBetween(from, to) >= MAX_RANGE_DAYS) return 'at most ten years';
  if (daysBetween(EARLIEST_DATE, from) < 0) return `the first date must not be before ${formatDate(EARLIEST_DATE)}`;
  if (today && daysBetween(addDays(today, 1), to) > 0) {
    return `the last date must not be after ${formatDate(addDays(today, 1))}, the day after today in the project's timezone`;
  }
  return null;
}

/**
 * Resolve a range at `now` in `timeZone`. `all` starts at `firstDay` (the project's first day with
 * data, or its creation day), at most ten years back. A custom range outside the window of
 * {@link customRangeProblem} is a 400 naming `date_range`.
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
  const today = localDate(now, timeZone);
  if (typeof spec !== 'string') {
    const problem = customRangeProblem(spec, today);
    if (problem) throw new ApiError(400, 'invalid_input', problem, [{ path: ['date_range'], message: problem }]);
    return days(parseDate(spec[0]) as LocalDate, parseDate(spec[1]) as LocalDate, timeZone);
  }
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
    case 'all': {
      // Bounded like a custom range: at most ten years, and never before the earliest date.
      const earliest = [firstDay, addDays(today, 1 - MAX_RANGE_DAYS), EARLIEST_DATE].reduce((a, b) =>
        daysBetween(a, b) > 0 ? b : a,
      );
      return days(daysBetween(earliest, today) < 0 ? today : earliest, today, timeZone);
    }
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
