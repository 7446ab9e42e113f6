/**
 * Number, duration, change and date formatting for the dashboard. Everything here is pure (no DOM,
 * no current time unless passed in) so it is unit-tested, and every number on screen goes through it.
 */

import type { MetricName } from '@tally/sdk/catalog';

const UNITS: readonly [divisor: number, suffix: string][] = [
  [1e3, 'k'],
  [1e6, 'M'],
  [1e9, 'B'],
  [1e12, 'T'],
];

/**
 * A count, short: `999`, `1.2k`, `12.3k`, `123k`, `4.5M`. Three significant figures at most, so
 * cards and table columns keep their width.
 *
 * @example
 * ```ts
 * formatNumber(1234); // '1.2k'
 * ```
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  if (abs < 999.5) return `${sign}${Math.round(abs)}`;
  for (const [divisor, suffix] of UNITS) {
    const scaled = abs / divisor;
    const text = scaled.toFixed(scaled < 99.95 ? 1 : 0);
    // 999,600 rounds to "1000k": move on to "1M".
    if (Number(text) < 1000 || suffix === 'T') return `${sign}${trimZero(text)}${suffix}`;
  }
  return `${sign}${Math.round(abs)}`;
}

function trimZero(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** A count in full with thousands separators, for tooltips and titles: `12,345`. */
export function formatFull(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

/**
 * A duration in seconds: `0s`, `45s`, `4m 05s`, `1h 02m`.
 *
 * @example
 * ```ts
 * formatDuration(245); // '4m 05s'
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0s';
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Metrics the stats API knows (the catalog's). */
export type { MetricName };

/**
 * A metric's value in its unit: counts short, rates in percent, durations in minutes and seconds,
 * revenue in `currency` (the answer's `meta.currency`: the project's) when it is known.
 *
 * @example
 * ```ts
 * formatMetric('revenue', 1234.5, 'EUR'); // '€1,235'
 * ```
 */
export function formatMetric(metric: MetricName, value: number, currency?: string): string {
  switch (metric) {
    case 'revenue':
      return currency ? formatMoney(value, currency) : formatNumber(value);
    case 'bounce_rate':
      return `${Math.round(value)}%`;
    case 'conversion_rate':
      return `${trimZero(value.toFixed(value >= 10 ? 1 : 2))}%`;
    case 'visit_duration':
      return formatDuration(value);
    case 'views_per_visit':
      return trimZero(value.toFixed(2));
    default:
      return formatNumber(value);
  }
}

/** How a metric moved against the comparison period, and whether that is good news. */
export interface Change {
  /** `+12%`, `-3%`, `+4 pp` (bounce rate moves in percentage points), or `new`. */
  text: string;
  direction: 'up' | 'down' | 'flat';
  /** Up is good for every metric but bounce rate; null when flat. */
  good: boolean | null;
}

/**
 * The change of a metric from `previous` to `current`. Bounce rate changes in percentage points
 * and going down is good; everything else changes in percent and going up is good.
 */
export function formatChange(metric: MetricName, current: number, previous: number): Change {
  const lowerIsBetter = metric === 'bounce_rate';
  let delta: number;
  let text: string;
  if (metric === 'bounce_rate' || metric === 'conversion_rate') {
    delta = Math.round((current - previous) * 10) / 10;
    text = `${delta > 0 ? '+' : ''}${trimZero(delta.toFixed(1))} pp`;
  } else if (previous === 0) {
    if (current === 0) return { text: '0%', direction: 'flat', good: null };
    return { text: 'new', direction: 'up', good: !lowerIsBetter };
  } else {
    delta = Math.round(((current - previous) / previous) * 100);
    text = `${delta > 0 ? '+' : ''}${delta}%`;
  }
  if (delta === 0)
    return {
      text: metric === 'bounce_rate' || metric === 'conversion_rate' ? '0 pp' : '0%',
      direction: 'flat',
      good: null,
    };
  const direction = delta > 0 ? 'up' : 'down';
  return { text, direction, good: (direction === 'up') !== lowerIsBetter };
}

/**
 * An amount of money in its currency, short for large sums, cents only when there are some:
 * `$9.99`, `$500`, `€1,234`, `$12.3k`.
 *
 * @example
 * ```ts
 * formatMoney(1234.5, 'EUR'); // '€1,235'
 * ```
 */
export function formatMoney(amount: number, currency: string): string {
  try {
    if (Math.abs(amount) >= 10_000) {
      const symbol = new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: 0 })
        .formatToParts(0)
        .find((part) => part.type === 'currency')?.value;
      return `${symbol ?? `${currency} `}${formatNumber(amount)}`;
    }
    const cents = Math.abs(amount) < 1000 && !Number.isInteger(amount);
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      minimumFractionDigits: cents ? 2 : 0,
      maximumFractionDigits: cents ? 2 : 0,
    }).format(amount);
  } catch {
    return `${formatNumber(amount)} ${currency}`;
  }
}

/** Buckets of the main chart, as the stats API names them. */
export type Interval = 'hour' | 'day' | 'week' | 'month';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Parse `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` (a local wall-clock time of the project). */
function parseLabel(label: string): { y: number; mo: number; d: number; time: string | null } | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}:\d{2}))?$/.exec(label);
  if (!match) return null;
  return { y: Number(match[1]), mo: Number(match[2]), d: Number(match[3]), time: match[4] ?? null };
}

/**
 * A time bucket label of the stats API, for an axis (`short`) or a tooltip (`long`). Labels are
 * already wall-clock times in the project's timezone, so they are only re-spelled, never converted.
 *
 * @example
 * ```ts
 * formatBucket('2026-03-29 02:00', 'hour', 'short'); // '02:00'
 * formatBucket('2026-03-29', 'day', 'long'); // 'Sun, Mar 29 2026'
 * ```
 */
export function formatBucket(label: string, interval: Interval, style: 'short' | 'long' = 'short'): string {
  const parts = parseLabel(label);
  if (!parts) return label;
  const month = MONTHS[parts.mo - 1] ?? '';
  const weekday = WEEKDAYS[new Date(Date.UTC(parts.y, parts.mo - 1, parts.d)).getUTCDay()] ?? '';
  switch (interval) {
    case 'hour':
      return style === 'short' ? (parts.time ?? label) : `${weekday}, ${month} ${parts.d}, ${parts.time ?? ''}`;
    case 'day':
      return style === 'short' ? `${month} ${parts.d}` : `${weekday}, ${month} ${parts.d} ${parts.y}`;
    case 'week':
      return style === 'short' ? `${month} ${parts.d}` : `Week of ${month} ${parts.d} ${parts.y}`;
    case 'month':
      return style === 'short' ? `${month} ${parts.y}` : `${month} ${parts.y}`;
  }
}

/** A `YYYY-MM-DD` date for people: `Nov 22, 2026`. */
export function formatDate(date: string): string {
  const parts = parseLabel(date);
  return parts ? `${MONTHS[parts.mo - 1]} ${parts.d}, ${parts.y}` : date;
}

/** A moment as the wall clock of a timezone shows it: `14:03:05`. */
export function formatClock(ms: number, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    }).format(ms);
  } catch {
    return new Date(ms).toISOString().slice(11, 19);
  }
}

/** How long ago, coarse: `just now`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(ms: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}
