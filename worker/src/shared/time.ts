import { zoneAt } from './calendar.ts';

const DAY_MS = 86_400_000;

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The calendar day (`YYYY-MM-DD`) of an instant in an IANA timezone. Formatters are cached per
 * timezone because building one costs far more than using it.
 *
 * @example
 * ```ts
 * dayInTimeZone(Date.UTC(2026, 0, 1, 3), 'America/New_York'); // '2025-12-31'
 * ```
 */
export function dayInTimeZone(ms: number, calendar: string): string {
  // A project's calendar may hold several zones over time (`calendar.ts`, `zoneAt`).
  const timeZone = zoneAt(calendar, ms);
  let format = dayFormatters.get(timeZone);
  if (!format) {
    // en-CA formats dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormatters.set(timeZone, format);
  }
  return format.format(ms);
}

/** The UTC day (`YYYY-MM-DD`) of an instant: the unit salts rotate by. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day before `day` (`YYYY-MM-DD`). */
export function previousUtcDay(day: string): string {
  return utcDay(Date.parse(`${day}T00:00:00Z`) - DAY_MS);
}

/** Whether a string names a timezone this runtime knows. */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}
