/**
 * Calendar arithmetic on local dates (`YYYY-MM-DD`) for the date-range picker and the comparison
 * series of the main chart. It mirrors `worker/src/query/date-range.ts` (docs/STATS.md, "Date
 * ranges"): the API resolves ranges itself, the dashboard only needs the dates to label the picker
 * and to ask for the comparison period's buckets explicitly.
 */
import type { Interval } from '../format.ts';
import type { Comparison, DashboardState } from './url-state.ts';

/** An inclusive run of local dates. */
export interface DateSpan {
  from: string;
  to: string;
}

function toUtc(date: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d));
}

function fromUtc(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** `date` moved by `days` (negative: back). */
export function addDays(date: string, days: number): string {
  const value = toUtc(date);
  value.setUTCDate(value.getUTCDate() + days);
  return fromUtc(value);
}

/** The first of the month `months` away from the month of `date`. */
export function addMonths(date: string, months: number): string {
  const value = toUtc(date);
  return fromUtc(new Date(Date.UTC(value.getUTCFullYear(), value.getUTCMonth() + months, 1)));
}

/** Days from `from` to `to` (0 when equal). */
export function daysBetween(from: string, to: string): number {
  return Math.round((toUtc(to).getTime() - toUtc(from).getTime()) / 86_400_000);
}

/** Today's date on the wall clocks of `timeZone`. */
export function todayIn(timeZone: string, now: number): string {
  try {
    // en-CA spells dates as YYYY-MM-DD.
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
      now,
    );
  } catch {
    return new Date(now).toISOString().slice(0, 10);
  }
}

/**
 * The local dates a state's range covers, or null for `all` (its start is the project's first day
 * with data, which only the API knows).
 */
export function resolveSpan(state: Pick<DashboardState, 'period' | 'from' | 'to'>, today: string): DateSpan | null {
  const firstOfMonth = `${today.slice(0, 8)}01`;
  switch (state.period) {
    case 'custom':
      return state.from && state.to ? { from: state.from, to: state.to } : null;
    case 'today':
      return { from: today, to: today };
    case 'yesterday':
      return { from: addDays(today, -1), to: addDays(today, -1) };
    case '7d':
      return { from: addDays(today, -6), to: today };
    case '30d':
      return { from: addDays(today, -29), to: today };
    case 'month':
      return { from: firstOfMonth, to: addDays(addMonths(firstOfMonth, 1), -1) };
    case 'last_month':
      return { from: addMonths(firstOfMonth, -1), to: addDays(firstOfMonth, -1) };
    case '12mo':
      return { from: addMonths(firstOfMonth, -11), to: addDays(addMonths(firstOfMonth, 1), -1) };
    case 'year':
      return { from: `${today.slice(0, 4)}-01-01`, to: `${today.slice(0, 4)}-12-31` };
    case 'all':
      return null;
  }
}

/** The period a comparison looks at: the same number of days just before, or the same dates a year back. */
export function comparisonSpan(span: DateSpan, comparison: Comparison): DateSpan {
  if (comparison === 'previous_period') {
    const length = daysBetween(span.from, span.to) + 1;
    return { from: addDays(span.from, -length), to: addDays(span.to, -length) };
  }
  const yearBefore = (date: string) => {
    const shifted = `${Number(date.slice(0, 4)) - 1}${date.slice(4)}`;
    // 29 February has no twin in a common year: it becomes 28 February.
    return shifted.endsWith('-02-29') && addDays(shifted, 0) !== shifted ? `${shifted.slice(0, 8)}28` : shifted;
  };
  return { from: yearBefore(span.from), to: yearBefore(span.to) };
}

/** The interval the API would pick for a span (docs/STATS.md, "Default intervals"). */
export function defaultInterval(period: DashboardState['period'], days: number): Interval {
  if (period === '12mo' || period === 'year') return 'month';
  return days <= 1 ? 'hour' : days <= 92 ? 'day' : days <= 731 ? 'week' : 'month';
}

/** Intervals worth offering for a span of `days`: few enough buckets to read, more than one. */
export function intervalsFor(days: number): Interval[] {
  const options: Interval[] = [];
  if (days <= 7) options.push('hour');
  if (days >= 2 && days <= 731) options.push('day');
  if (days >= 14) options.push('week');
  if (days >= 60) options.push('month');
  return options.length ? options : ['hour'];
}
