/**
 * The dashboard's view state — date range, comparison, interval, chart metric and filters — lives
 * in the URL, so every view is a shareable link and the back button walks through filter changes.
 * Parsing never throws: a hand-edited or stale link falls back to defaults, field by field.
 *
 * Filters are written like Plausible's: `f=is,country,DE,AT` (operator, dimension, values). Inside
 * a part, `%` and `,` are escaped as `%25` and `%2C`; an empty value means "no value" (`null`:
 * direct traffic, a missing property).
 */
import { FILTER_OPERATORS } from '@tally/sdk/catalog';
import type { Interval, MetricName } from '../format.ts';

export const PERIODS = ['today', 'yesterday', '7d', '30d', 'month', 'last_month', '12mo', 'year', 'all'] as const;
export type Preset = (typeof PERIODS)[number];
export type Period = Preset | 'custom';

export const COMPARISONS = ['previous_period', 'year_over_year'] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** The API's filter operators (the catalog's): there is no "does not contain". */
export const OPERATORS = FILTER_OPERATORS;
export type Operator = (typeof OPERATORS)[number];

/** `[operator, dimension, values]`, exactly as `POST /api/v1/query` takes it. */
export type Filter = [Operator, string, (string | null)[]];

/** The metric cards of a view without a goal filter, in order. */
export const SITE_METRICS = [
  'visitors',
  'visits',
  'pageviews',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
] as const satisfies readonly MetricName[];

/**
 * The metric cards of a view filtered by a goal, as Plausible shows them: unique and total
 * conversions, the conversion rate, revenue. Pageviews, bounce rate and duration of goal events
 * mean nothing there, and `conversion_rate` needs the goal filter (docs/STATS.md).
 */
export const GOAL_METRICS = [
  'visitors',
  'events',
  'conversion_rate',
  'revenue',
] as const satisfies readonly MetricName[];

/** Metrics the main chart can plot: any card's. */
export const CHART_METRICS = [...SITE_METRICS, 'events', 'conversion_rate', 'revenue'] as const;
export type ChartMetric = (typeof CHART_METRICS)[number];

/** Whether a view is filtered by a goal (and so shows the goal cards). */
export function hasGoalFilter(filters: readonly Filter[]): boolean {
  return filters.some(([, dimension]) => dimension === 'event:goal');
}

/** The metric cards of a view with these filters, in order; also the main query's metrics. */
export function cardMetrics(filters: readonly Filter[]): readonly ChartMetric[] {
  return hasGoalFilter(filters) ? GOAL_METRICS : SITE_METRICS;
}

const INTERVALS = ['hour', 'day', 'week', 'month'] as const satisfies readonly Interval[];

export interface DashboardState {
  period: Period;
  /** Inclusive local dates of a custom range (`YYYY-MM-DD`). */
  from: string | null;
  to: string | null;
  compare: Comparison | null;
  /** A chosen chart interval; null lets the range decide. */
  interval: Interval | null;
  metric: ChartMetric;
  filters: Filter[];
}

export const DEFAULT_PERIOD: Preset = '30d';

export const DEFAULT_STATE: DashboardState = {
  period: DEFAULT_PERIOD,
  from: null,
  to: null,
  compare: null,
  interval: null,
  metric: 'visitors',
  filters: [],
};

/** At most this many filters: the stats API takes 20, and panels add up to two of their own. */
export const MAX_FILTERS = 18;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isDate(value: string | null): value is string {
  if (value === null || !DATE.test(value)) return false;
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function oneOf<T extends string>(list: readonly T[], value: string | null): T | null {
  return value !== null && (list as readonly string[]).includes(value) ? (value as T) : null;
}

function escapePart(part: string): string {
  return part.replaceAll('%', '%25').replaceAll(',', '%2C');
}

function unescapePart(part: string): string {
  return part.replace(/%2C/gi, ',').replace(/%25/g, '%');
}

/** One `f` parameter: `op,dimension,value,…`; null for anything malformed. */
export function parseFilter(text: string): Filter | null {
  const parts = text.split(',');
  if (parts.length < 3) return null;
  const operator = oneOf(OPERATORS, parts[0] ?? null);
  const dimension = unescapePart(parts[1] ?? '');
  if (!operator || !dimension || dimension.startsWith('time:')) return null;
  const values = parts.slice(2).map((part) => (part === '' ? null : unescapePart(part)));
  if (dimension === 'event:goal' && (operator !== 'is' || values.includes(null))) return null;
  return [operator, dimension, values.slice(0, 50)];
}

/** The `f` parameter of a filter. */
export function formatFilter([operator, dimension, values]: Filter): string {
  return [operator, escapePart(dimension), ...values.map((value) => (value === null ? '' : escapePart(value)))].join(
    ',',
  );
}

/**
 * Read the view state from a URL's query.
 *
 * @example
 * ```ts
 * parseState(new URLSearchParams('period=7d&f=is,country,DE')).filters; // [['is', 'country', ['DE']]]
 * ```
 */
export function parseState(params: URLSearchParams): DashboardState {
  let period: Period = oneOf(PERIODS, params.get('period')) ?? DEFAULT_PERIOD;
  let from: string | null = null;
  let to: string | null = null;
  if (params.get('period') === 'custom') {
    const a = params.get('from');
    const b = params.get('to');
    if (isDate(a) && isDate(b)) {
      period = 'custom';
      [from, to] = a <= b ? [a, b] : [b, a];
    }
  }
  const filters: Filter[] = [];
  for (const text of params.getAll('f')) {
    const filter = parseFilter(text);
    if (filter && filters.length < MAX_FILTERS) filters.push(filter);
  }
  return {
    period,
    from,
    to,
    compare: oneOf(COMPARISONS, params.get('compare')),
    interval: oneOf(INTERVALS, params.get('interval')),
    // A metric only the other set of cards has (`revenue` without a goal filter) falls back.
    metric: oneOf(cardMetrics(filters), params.get('metric')) ?? 'visitors',
    filters,
  };
}

/** Percent-encode a query value, but leave the characters that read well in a URL bar alone. */
function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(/%(2C|2F|3A|40|21|2A|27|28|29)/gi, (sequence) =>
    decodeURIComponent(sequence),
  );
}

/**
 * The query string (with its `?`, or empty) of a state; defaults are left out so links stay short.
 *
 * @example
 * ```ts
 * stateToSearch({ ...DEFAULT_STATE, period: '7d' }); // '?period=7d'
 * ```
 */
export function stateToSearch(state: DashboardState): string {
  const pairs: [string, string][] = [];
  if (state.period === 'custom' && state.from && state.to) {
    pairs.push(['period', 'custom'], ['from', state.from], ['to', state.to]);
  } else if (state.period !== DEFAULT_PERIOD && state.period !== 'custom') {
    pairs.push(['period', state.period]);
  }
  if (state.compare) pairs.push(['compare', state.compare]);
  if (state.interval) pairs.push(['interval', state.interval]);
  if (state.metric !== 'visitors') pairs.push(['metric', state.metric]);
  for (const filter of state.filters) pairs.push(['f', formatFilter(filter)]);
  return pairs.length ? `?${pairs.map(([key, value]) => `${key}=${encodeValue(value)}`).join('&')}` : '';
}

/** The `date_range` of a state, as the stats API takes it. */
export function dateRangeOf(state: DashboardState): Preset | [string, string] {
  return state.period === 'custom' && state.from && state.to ? [state.from, state.to] : (state.period as Preset);
}

/**
 * The state with `dimension` filtered to exactly `value` (clicking a row). An `is` filter already on
 * that dimension is replaced rather than stacked, since two would match nothing.
 */
export function withFilter(state: DashboardState, dimension: string, value: string | null): DashboardState {
  const filters = state.filters.filter(([operator, d]) => !(d === dimension && operator === 'is'));
  if (filters.length >= MAX_FILTERS) return state;
  return { ...state, filters: [...filters, ['is', dimension, [value]]] };
}

/** Values one filter may hold (the stats API's limit). */
export const MAX_VALUES = 50;

/**
 * The state with `filter` put in place of filter number `index` (editing a chip), or added when
 * `index` is null (the filter builder). An added filter with the operator and dimension of one
 * already there joins its values instead (OR), since two would be ANDed. A filter without values
 * removes the edited one.
 *
 * @example
 * ```ts
 * withFilterAt(state, null, ['is', 'country', ['DE', 'AT']]).filters.at(-1); // ['is', 'country', ['DE', 'AT']]
 * ```
 */
export function withFilterAt(state: DashboardState, index: number | null, filter: Filter): DashboardState {
  const [operator, dimension, values] = filter;
  const kept = [...new Set(values)].slice(0, MAX_VALUES);
  if (!dimension || dimension.startsWith('time:')) return state;
  if (index !== null) {
    if (!state.filters[index]) return state;
    if (kept.length === 0) return withoutFilter(state, index);
    return { ...state, filters: state.filters.map((old, i) => (i === index ? [operator, dimension, kept] : old)) };
  }
  if (kept.length === 0) return state;
  const same = state.filters.findIndex(([o, d]) => o === operator && d === dimension);
  if (same >= 0) {
    const joined = [...new Set([...(state.filters[same]?.[2] ?? []), ...kept])].slice(0, MAX_VALUES);
    return { ...state, filters: state.filters.map((old, i) => (i === same ? [operator, dimension, joined] : old)) };
  }
  if (state.filters.length >= MAX_FILTERS) return state;
  return { ...state, filters: [...state.filters, [operator, dimension, kept]] };
}

/** The state without its filter number `index`. */
export function withoutFilter(state: DashboardState, index: number): DashboardState {
  return { ...state, filters: state.filters.filter((_, i) => i !== index) };
}

/** The state with a different range; a chosen interval is reset since it may not suit the new one. */
export function withPeriod(state: DashboardState, period: Period, from?: string, to?: string): DashboardState {
  if (period === 'custom') {
    if (!isDate(from ?? null) || !isDate(to ?? null)) return state;
    const [a, b] = (from as string) <= (to as string) ? [from as string, to as string] : [to as string, from as string];
    return { ...state, period, from: a, to: b, interval: null };
  }
  return { ...state, period, from: null, to: null, interval: null };
}
