/**
 * Local time in a project's IANA timezone, exact across DST changes and odd offsets (+05:45,
 * +12:45, 30-minute DST). Every date bucket of the stats API is built here: a bucket is a
 * half-open interval [start, end) of UTC milliseconds whose instants all share one local label.
 *
 * Workers have no timezone database of their own beyond `Intl`, so everything is derived from
 * `Intl.DateTimeFormat`, with formatters cached per zone.
 */

/** A local calendar date. Months are 1-12. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** A local wall-clock time. */
export interface LocalTime extends LocalDate {
  hour: number;
  minute: number;
}

/** How finely a time series is bucketed. */
export type Interval = 'hour' | 'day' | 'week' | 'month';

/** One bucket: its label and its [start, end) in UTC ms. */
export interface Bucket {
  label: string;
  start: number;
  end: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/**
 * The IANA zone in force at an instant. A project whose timezone was changed has a calendar of
 * several, `Zone|T|Zone|…|Zone`: each zone holds until the instant (ms) after it, the last one
 * from then on. Every function here takes such a calendar wherever it takes a zone, so days counted
 * before a change keep the zone they were counted in (docs/STATS.md, "Time").
 *
 * @example
 * ```ts
 * zoneAt('UTC|1765152000000|Asia/Kolkata', Date.UTC(2025, 0, 1)); // 'UTC'
 * ```
 */
export function zoneAt(calendar: string, ms: number): string {
  if (!calendar.includes('|')) return calendar;
  const parts = calendar.split('|');
  for (let i = 1; i < parts.length; i += 2) if (ms < Number(parts[i])) return parts[i - 1] as string;
  return parts[parts.length - 1] as string;
}

/**
 * The calendar after changing to `zone` at `now`: the change takes effect at the first midnight of
 * `zone` that comes once the day in progress has ended and whose date is not earlier than the old
 * calendar's there. So no day is split or counted twice, the days already counted keep their
 * zone, and the day in progress ends as it began. A change still waiting to take effect is
 * replaced (or dropped, when `zone` is the one in force). Returns the calendar and when `zone`
 * takes over.
 */
export function changeZone(calendar: string, zone: string, now: number): { calendar: string; from: number } {
  let parts = calendar.split('|');
  if (parts.length > 1 && Number(parts[parts.length - 2]) > now) parts = parts.slice(0, -2);
  const current = parts.join('|');
  if (zoneAt(current, now) === zone)
    return { calendar: current, from: parts.length > 1 ? Number(parts[parts.length - 2]) : 0 };
  const dayEnd = firstInstantAt(addDays(localDate(now, current), 1), current);
  let day = localDate(dayEnd, zone);
  let from = firstInstantAt(day, zone);
  if (from < dayEnd) day = addDays(day, 1);
  // At most two more: zones lie at most 26 hours apart.
  for (let step = 0; step < 4; step++) {
    from = firstInstantAt(day, zone);
    if (daysBetween(localDate(from, current), day) >= 0) break;
    day = addDays(day, 1);
  }
  return { calendar: `${current}|${from}|${zone}`, from };
}

/** A project's calendar: its zones over time, or its one timezone. */
export function calendarOf(project: { timezone: string; zones: string | null }): string {
  return project.zones ?? project.timezone;
}

/** When the last timezone change of a calendar takes (or took) effect; null for one that never changed. */
export function lastZoneChange(calendar: string): number | null {
  const parts = calendar.split('|');
  return parts.length > 1 ? Number(parts[parts.length - 2]) : null;
}

/** The local wall-clock time of an instant. */
export function localTime(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(zoneAt(timeZone, ms)).formatToParts(ms)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
  };
}

/** Wall-clock time as if it were UTC: a sortable number for comparing local times. */
function wall(time: LocalDate & Partial<LocalTime>): number {
  return Date.UTC(time.year, time.month - 1, time.day, time.hour ?? 0, time.minute ?? 0);
}

/** Local minus UTC at an instant, in ms. */
export function offsetAt(ms: number, timeZone: string): number {
  return wall(localTime(ms, timeZone)) - Math.floor(ms / MINUTE) * MINUTE;
}

/**
 * The first instant whose local time is at or after `time`. For a wall time that exists this is
 * that time; for one skipped by a DST gap (02:30 on a spring-forward night, or a midnight some
 * zones skip) it is the end of the gap. For a whole hour that repeats (clocks going back) it is
 * the first occurrence.
 */
export function firstInstantAt(time: LocalDate & Partial<LocalTime>, timeZone: string): number {
  const target = wall(time);
  // Fast path: guess with the offset, correct once, and accept when no transition is near.
  const first = offsetAt(target, timeZone);
  let guess = target - first;
  const second = offsetAt(guess, timeZone);
  if (second !== first) guess = target - second;
  const settled = offsetAt(guess, timeZone);
  if (guess + settled === target && offsetAt(guess - 3 * HOUR, timeZone) === settled) return guess;
  // Near a transition: the first instant whose wall time reaches the target, by bisection
  // (offsets lie within ±15 h; wall time only ever repeats, never reverses past a repeat).
  let low = target - 15 * HOUR;
  let high = target + 15 * HOUR;
  while (high - low > MINUTE) {
    const mid = Math.floor((low + high) / 2 / MINUTE) * MINUTE;
    if (wall(localTime(mid, timeZone)) >= target) high = mid;
    else low = mid;
  }
  // Minute precision is exact: every offset in use is a whole number of minutes.
  return high;
}

/** `YYYY-MM-DD`. */
export function formatDate(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/** Parse `YYYY-MM-DD`; null unless it is a real calendar date. */
export function parseDate(text: string): LocalDate | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  const date = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
  const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
  return check.getUTCFullYear() === date.year &&
    check.getUTCMonth() === date.month - 1 &&
    check.getUTCDate() === date.day
    ? date
    : null;
}

/** A date plus `days` (calendar arithmetic, no timezone involved). */
export function addDays(date: LocalDate, days: number): LocalDate {
  const next = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
}

/** The first day of the month `months` after the month of `date`. */
export function addMonths(date: LocalDate, months: number): LocalDate {
  const next = new Date(Date.UTC(date.year, date.month - 1 + months, 1));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: 1 };
}

/** The Monday on or before a date (weeks start on Monday, ISO 8601). */
export function startOfWeek(date: LocalDate): LocalDate {
  const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

/** Days from `a` to `b` (calendar arithmetic). */
export function daysBetween(a: LocalDate, b: LocalDate): number {
  return Math.round((wall(b) - wall(a)) / (24 * HOUR));
}

/** The local date of an instant. */
export function localDate(ms: number, timeZone: string): LocalDate {
  const { year, month, day } = localTime(ms, timeZone);
  return { year, month, day };
}

/** [start, end) of a local day: 23, 24 or 25 hours long (or another length where a zone moved). */
export function dayBounds(date: LocalDate, timeZone: string): { start: number; end: number } {
  return { start: firstInstantAt(date, timeZone), end: firstInstantAt(addDays(date, 1), timeZone) };
}

/**
 * A local day cut at every UTC hour inside it: each part [lo, hi) lies in one UTC hour (the first
 * and last may be parts of one, where a zone's midnight is not on the hour).
 */
export function hourSegments(date: LocalDate, timeZone: string): { lo: number; hi: number }[] {
  const HOUR = 3_600_000;
  const { start, end } = dayBounds(date, timeZone);
  const segments: { lo: number; hi: number }[] = [];
  for (let lo = start; lo < end; ) {
    const hi = Math.min(end, (Math.floor(lo / HOUR) + 1) * HOUR);
    segments.push({ lo, hi });
    lo = hi;
  }
  return segments;
}

/**
 * The buckets of `interval` that cover local dates `from` … `to` (inclusive), in order,
 * contiguous, each labelled by its first local date (hours: `YYYY-MM-DD HH:00`). A week or month
 * bucket may begin before `from`; its start is clipped to `from`, so that buckets never reach
 * outside the range. Hours skipped by DST have no bucket; a repeated hour is one bucket of two.
 */
export function buckets(from: LocalDate, to: LocalDate, interval: Interval, timeZone: string): Bucket[] {
  const rangeStart = firstInstantAt(from, timeZone);
  const rangeEnd = firstInstantAt(addDays(to, 1), timeZone);
  const result: Bucket[] = [];
  if (interval === 'hour') {
    for (let date = from; wall(date) <= wall(to); date = addDays(date, 1)) result.push(...hourBuckets(date, timeZone));
    return result;
  }
  let first = interval === 'week' ? startOfWeek(from) : interval === 'month' ? { ...from, day: 1 } : from;
  while (wall(first) <= wall(to)) {
    const next = interval === 'day' ? addDays(first, 1) : interval === 'week' ? addDays(first, 7) : addMonths(first, 1);
    result.push({
      label: formatDate(first),
      start: Math.max(rangeStart, firstInstantAt(first, timeZone)),
      end: Math.min(rangeEnd, firstInstantAt(next, timeZone)),
    });
    first = next;
  }
  return result;
}

/** The hours of one local day; ordinary days need no more than their two bounds. */
function hourBuckets(date: LocalDate, timeZone: string): Bucket[] {
  const { start, end } = dayBounds(date, timeZone);
  const uniform = end - start === 24 * HOUR && offsetAt(start, timeZone) === offsetAt(end - 1, timeZone);
  const starts = Array.from({ length: 24 }, (_, hour) =>
    uniform ? start + hour * HOUR : firstInstantAt({ ...date, hour }, timeZone),
  );
  starts.push(end);
  const result: Bucket[] = [];
  for (let hour = 0; hour < 24; hour++) {
    const [bucketStart, bucketEnd] = [starts[hour] as number, starts[hour + 1] as number];
    if (bucketEnd > bucketStart) {
      result.push({
        label: `${formatDate(date)} ${String(hour).padStart(2, '0')}:00`,
        start: bucketStart,
        end: bucketEnd,
      });
    }
  }
  return result;
}

/** The index of the bucket holding `ms`, or -1 (binary search over contiguous buckets). */
export function bucketIndex(list: readonly Bucket[], ms: number): number {
  let low = 0;
  let high = list.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const bucket = list[mid] as Bucket;
    if (ms < bucket.start) high = mid - 1;
    else if (ms >= bucket.end) low = mid + 1;
    else return mid;
  }
  return -1;
}
