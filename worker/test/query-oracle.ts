/**
 * A brute-force oracle for `POST /api/v1/query`: plain TypeScript over the raw event rows that
 * follows docs/STATS.md word for word, written without looking at the engine, so that the two can
 * only agree by both being right. Slow on purpose — every number is counted from the events.
 *
 * Readings of docs/STATS.md where it leaves room (decided here, listed in the oracle's report):
 *
 * 1. A visit's entry is its first event *within the date range* (not the stored `is_entry`, which
 *    may lie before the range, or be an event that arrived first but happened later), in time
 *    order: by `ts`, ties by arrival (`seq`). `exit_page` is the path of its last pageview in the
 *    range in the same order; a visit without a pageview there has none (`null`).
 * 2. `event:props:<key>`: a missing key is reported as `null` (the Dimensions section also says
 *    "`(none)`"; the next paragraph and the filter table say `null`, which is what we follow).
 * 3. `contains` and `matches` never keep a missing value, and a `null` among their values matches
 *    nothing. `matches` is case-sensitive like `contains`, anchored at both ends, and only `*`
 *    and `?` are special.
 * 4. Bounce rate = Math.round(100 × bounces ÷ visits); visit duration = Math.round(Σ(last − first)
 *    ÷ 1000 ÷ visits) with last/first the latest/earliest `ts` of the visit within the range;
 *    views per visit = Math.round(100 × pageviews ÷ visits) ÷ 100. Without visits all three are 0
 *    (the page says so for views per visit only).
 * 5. Without dimensions there is exactly one result, the metrics of all of E — also when E is
 *    empty (zeros, like `meta.totals` of an empty E). "With dimensions, the groups are the
 *    distinct values found in E" is said of dimensions only; and an aggregate that vanished
 *    would take its `comparison` with it.
 * 6. `order_by`, when given, replaces the default order (it is not followed by time/first metric);
 *    ties are then broken by the dimension values in request order, ascending. A missing value
 *    "is reported as null and listed last" — in every direction, also for `[dim, 'desc']`.
 * 7. `include.time_labels` does not add empty buckets to `results` (as in Plausible's API v2): the
 *    time groups stay the buckets that hold events, and `meta.time_labels` lists every bucket
 *    label of the range at the requested interval. Without a time dimension there is no interval
 *    to label, so `time_labels` adds nothing (the page is silent; the generators never ask it).
 * 8. `meta` holds exactly the keys asked for: `totals` (include.totals), `time_labels`
 *    (include.time_labels), `comparison_totals` (include.compare together with include.totals —
 *    the page lists it under compare, but it is the comparison's counterpart of the totals).
 *    Totals and comparison totals are metric arrays in the requested order, like a result's.
 * 9. `include.compare`: every returned result gets `comparison: { metrics }`; a group that has
 *    no events in the comparison range (or a time bucket position the comparison range does not
 *    have, e.g. a 24th hour against a 23-hour day) gets the metrics of no events: all zeros.
 *    The comparison range is filtered exactly like the main one, with entries found within it.
 * 10. Hour/day/week/month buckets, their labels (weeks by their Monday even when clipped) and the
 *    local day of `visitors` come from worker/src/query/calendar.ts; ranges from date-range.ts.
 *    A time dimension always buckets at its own interval, whatever the range's default.
 * 11. Per group, `visitors` is Σ over local days of the distinct visitor ids among the group's
 *    events (a week or month bucket adds up its days); a visit with events in several groups
 *    counts in each, for event dimensions as for time; `pageviews` of views per visit are those
 *    in E (filtered), the visits those with an event in E.
 * 12. A filter on `exit_page` keeps whole visits by their exit page, like the other visit
 *    dimensions by their entry's value.
 * 13. Goals (query-oracle-goals.ts): an `event:goal` group holds the events of E that complete
 *    the goal, also goals no goal filter names; session metrics take those events' whole visits.
 *    Two goal filters both apply, like any two filters.
 * 14. `conversion_rate`'s denominator drops every goal condition — goal filters and the goal
 *    dimension — and keeps the group's other values (time by label, or position in a comparison)
 *    and other filters. `meta.totals`: visitors of E (a goal dimension does not narrow E) ÷ those
 *    without goal filters, so 100 with a goal dimension and no goal filter.
 * 15. `exit_rate` of an `exit_page` group: its visits ÷ the pageviews of E whose page is that exit
 *    page and whose other group values are the group's (time by label, or position in a
 *    comparison), × 100, rounded; 0 without such pageviews.
 */
import { VISIT_DIMENSIONS as VISIT_DIMENSIONS_LIST } from '../src/query/schema.ts';
import {
  type Bucket,
  bucketIndex,
  buckets,
  formatDate,
  type Interval,
  type LocalDate,
  localDate,
} from '../src/shared/calendar.ts';
import {
  type Comparison,
  comparisonRange,
  type DateRangeSpec,
  type ResolvedRange,
  resolveDateRange,
} from '../src/query/date-range.ts';
import type { Metric } from '../src/query/schema.ts';
import { goalsOf, type OracleGoal } from './query-oracle-goals.ts';

/** An `events` row as the oracle needs it (the columns a query can look at). */
export interface RawEvent {
  id: string;
  ts: number;
  name: string;
  visitor_id: string;
  session_id: string;
  seq: number;
  is_entry: boolean;
  hostname: string;
  path: string;
  referrer: string | null;
  source: string | null;
  channel: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  browser: string | null;
  browser_version: string | null;
  os: string | null;
  os_version: string | null;
  device: string | null;
  screen: string | null;
  language: string | null;
  /** As stored: JSON text of a flat object, or null. */
  props: string | null;
  /** Revenue: an amount in a currency (the project's is USD; others are not counted). */
  revenue_amount?: number | null;
  revenue_currency?: string | null;
}

/** The currency of the oracle's projects (the default of a new project). */
export const ORACLE_CURRENCY = 'USD';

export type Operator = 'is' | 'is_not' | 'contains' | 'does_not_contain' | 'matches';
export type Filter = [Operator, string, (string | null)[]];

export type OracleMetric = Metric | 'conversion_rate';

/** The request body without `project`; missing fields take the schema's defaults. */
export interface OracleQuery {
  metrics: OracleMetric[];
  date_range: DateRangeSpec;
  dimensions?: string[];
  filters?: Filter[];
  order_by?: [string, 'asc' | 'desc'][];
  limit?: number;
  page?: number;
  include?: { compare?: Comparison; time_labels?: boolean; totals?: boolean };
}

export type Value = string | null;
export interface ResultRow {
  dimensions: Value[];
  metrics: number[];
  comparison?: { metrics: number[] };
}
export interface QueryResponse {
  results: ResultRow[];
  meta: { totals?: number[]; time_labels?: string[]; comparison_totals?: number[]; currency?: string };
}

/** Where and when the query runs: `now` and `firstDay` only matter for presets. */
export interface OracleContext {
  timezone: string;
  now?: number;
  firstDay?: LocalDate;
  /** The project's goals (found by name by `event:goal`). */
  goals?: readonly OracleGoal[];
}

const TIME: Record<string, Interval> = {
  'time:hour': 'hour',
  'time:day': 'day',
  'time:week': 'week',
  'time:month': 'month',
};
const ENTRY_COLUMNS = VISIT_DIMENSIONS_LIST.filter(
  (dimension): dimension is Exclude<(typeof VISIT_DIMENSIONS_LIST)[number], 'entry_page' | 'exit_page'> =>
    dimension !== 'entry_page' && dimension !== 'exit_page',
);
const VISIT_DIMENSIONS = new Set<string>(['entry_page', 'exit_page', ...ENTRY_COLUMNS]);
const PROP_PREFIX = 'event:props:';
const GOAL = 'event:goal';

/** One visit as seen within the range: its events there, in time order. */
export interface Visit {
  events: RawEvent[];
  entry: RawEvent;
  exitPath: Value;
  durationMs: number;
  bounced: boolean;
}

/** A visit's events in the order docs/STATS.md reads them: by time, ties by arrival (`seq`). */
export function inVisitOrder(a: RawEvent, b: RawEvent): number {
  return a.ts - b.ts || a.seq - b.seq;
}

/** A visit from its events within the range (reading 1): entry, exit page, duration, bounce. */
export function visitOf(inRange: readonly RawEvent[]): Visit {
  const events = [...inRange].sort(inVisitOrder);
  const pageviews = events.filter((event) => event.name === 'pageview');
  return {
    events,
    entry: events[0] as RawEvent,
    exitPath: pageviews.at(-1)?.path ?? null,
    durationMs: (events.at(-1) as RawEvent).ts - (events[0] as RawEvent).ts,
    bounced: events.length === 1 && pageviews.length === 1,
  };
}

/** What a range and the filters select: E, the visits of the range, and the day/bucket of each event. */
interface Selection {
  range: ResolvedRange;
  events: RawEvent[];
  visits: Map<string, Visit>;
  day: Map<RawEvent, string>;
  buckets: Bucket[];
  goals: readonly OracleGoal[];
}

/** The value of a non-time dimension for an event: its own, or its visit's. */
export function dimensionValue(event: RawEvent, visit: Visit, dimension: string): Value {
  if (dimension === 'entry_page') return visit.entry.path;
  if (dimension === 'exit_page') return visit.exitPath;
  if ((ENTRY_COLUMNS as readonly string[]).includes(dimension))
    return visit.entry[dimension as (typeof ENTRY_COLUMNS)[number]];
  if (dimension === 'page') return event.path;
  if (dimension === 'hostname') return event.hostname;
  if (dimension === 'event:name') return event.name;
  if (dimension.startsWith(PROP_PREFIX)) return propText(event.props, dimension.slice(PROP_PREFIX.length));
  throw new Error(`oracle: unknown dimension ${dimension}`);
}

/** A property as text: strings as they are, numbers and booleans as their JSON text; missing → null. */
export function propText(props: string | null, key: string): Value {
  if (props === null) return null;
  const object = JSON.parse(props) as Record<string, unknown>;
  if (!Object.hasOwn(object, key)) return null;
  const value = object[key];
  return typeof value === 'string' ? value : value === undefined || value === null ? null : JSON.stringify(value);
}

/** `*` any run of characters, `?` exactly one; everything else literal; the whole value must match. */
export function wildcard(pattern: string): RegExp {
  const source = [...pattern]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 'su');
}

/** Whether a filter keeps a value (the table of docs/STATS.md). */
export function keeps(operator: Operator, values: readonly Value[], v: Value): boolean {
  const equalsOne = values.some((value) => value === v);
  switch (operator) {
    case 'is':
      return equalsOne;
    case 'is_not':
      return !equalsOne;
    case 'contains':
      return v !== null && values.some((value) => value !== null && v.includes(value));
    case 'does_not_contain':
      return v === null ? !values.includes(null) : !values.some((value) => value !== null && v.includes(value));
    case 'matches':
      return v !== null && values.some((value) => value !== null && wildcard(value).test(v));
  }
}

function select(all: readonly RawEvent[], query: OracleQuery, range: ResolvedRange, where: OracleContext): Selection {
  const { timezone, goals = [] } = where;
  const inRange = all.filter((event) => event.ts >= range.start && event.ts < range.end);
  const bySession = new Map<string, RawEvent[]>();
  for (const event of inRange) bySession.set(event.session_id, [...(bySession.get(event.session_id) ?? []), event]);
  const visits = new Map<string, Visit>();
  for (const [id, events] of bySession) visits.set(id, visitOf(events));
  const filters = query.filters ?? [];
  const visitFilters = filters.filter(([, dimension]) => VISIT_DIMENSIONS.has(dimension));
  const eventFilters = filters.filter(([, dimension]) => !VISIT_DIMENSIONS.has(dimension) && dimension !== GOAL);
  const goalFilters = filters.filter(([, dimension]) => dimension === GOAL);
  const events = inRange.filter((event) => {
    const visit = visits.get(event.session_id) as Visit;
    const completed = goalFilters.length ? goalsOf(goals, event) : [];
    return (
      visitFilters.every(([op, dim, values]) => keeps(op, values, dimensionValue(visit.entry, visit, dim))) &&
      eventFilters.every(([op, dim, values]) => keeps(op, values, dimensionValue(event, visit, dim))) &&
      // `is` only (anything else is a 400): the event completes one of the named goals.
      goalFilters.every(([, , names]) => completed.some((name) => names.includes(name)))
    );
  });
  const day = new Map(events.map((event) => [event, formatDate(localDate(event.ts, timezone))]));
  const time = query.dimensions?.find((dimension) => dimension in TIME);
  const list = time && range.from && range.to ? buckets(range.from, range.to, TIME[time] as Interval, timezone) : [];
  return { range, events, visits, day, buckets: list, goals };
}

/**
 * The metrics of a set of events of E, in the requested order; `baseline` is the visitors of the
 * same group without the goal condition, for `conversion_rate` (reading 14).
 */
function metricsOf(
  events: readonly RawEvent[],
  selection: Selection,
  metrics: readonly OracleMetric[],
  baseline = 0,
  /** For `exit_rate` (reading 15): the pageviews of the group's exit page. */
  pageViews = 0,
): number[] {
  const sessions = [...new Set(events.map((event) => event.session_id))].map((id) => selection.visits.get(id) as Visit);
  const visitors = new Set(events.map((event) => `${selection.day.get(event)} ${event.visitor_id}`)).size;
  const pageviews = events.filter((event) => event.name === 'pageview').length;
  const visits = sessions.length;
  const bounces = sessions.filter((visit) => visit.bounced).length;
  const durationMs = sessions.reduce((sum, visit) => sum + visit.durationMs, 0);
  const value: Record<OracleMetric, number> = {
    visitors,
    visits,
    pageviews,
    events: events.length,
    views_per_visit: visits ? Math.round((100 * pageviews) / visits) / 100 : 0,
    bounce_rate: visits ? Math.round((100 * bounces) / visits) : 0,
    visit_duration: visits ? Math.round(durationMs / 1000 / visits) : 0,
    conversion_rate: baseline ? Math.round((visitors / baseline) * 100 * 100) / 100 : 0,
    exit_rate: pageViews ? Math.round((100 * visits) / pageViews) : 0,
    revenue:
      Math.round(
        events.reduce(
          (sum, event) => sum + (event.revenue_currency === ORACLE_CURRENCY ? (event.revenue_amount ?? 0) : 0),
          0,
        ) * 100,
      ) / 100,
  };
  return metrics.map((metric) => value[metric]);
}

/**
 * Group E by the requested dimensions; the time dimension by bucket label, or by bucket position.
 * An event falls in one group per goal it completes (none if it completes none).
 */
function groupsOf(
  selection: Selection,
  dimensions: readonly string[],
  timeAs: 'label' | 'position',
): Map<string, { key: Value[]; events: RawEvent[] }> {
  const groups = new Map<string, { key: Value[]; events: RawEvent[] }>();
  for (const event of selection.events) {
    const visit = selection.visits.get(event.session_id) as Visit;
    const choices = dimensions.map((dimension): Value[] => {
      if (dimension === GOAL) return goalsOf(selection.goals, event);
      if (!(dimension in TIME)) return [dimensionValue(event, visit, dimension)];
      const index = bucketIndex(selection.buckets, event.ts);
      if (index < 0) throw new Error(`oracle: event ${event.id} outside the buckets of its range`);
      return [timeAs === 'label' ? (selection.buckets[index] as Bucket).label : String(index)];
    });
    const keys = choices.reduce<Value[][]>(
      (partial, values) => partial.flatMap((key) => values.map((v) => [...key, v])),
      [[]],
    );
    for (const key of keys) {
      const id = JSON.stringify(key);
      const group = groups.get(id) ?? { key, events: [] };
      group.events.push(event);
      groups.set(id, group);
    }
  }
  return groups;
}

/**
 * Visitors without the goal condition (reading 14), by the group key (time as `timeAs`): the
 * `event:goal` filters dropped, and the `event:goal` dimension's value left out of the key.
 */
function baselineOf(
  all: readonly RawEvent[],
  query: OracleQuery,
  range: ResolvedRange,
  where: OracleContext,
  dimensions: readonly string[],
  timeAs: 'label' | 'position',
): { total: number; of: (key: readonly Value[]) => number } {
  const filters = (query.filters ?? []).filter(([, dimension]) => dimension !== GOAL);
  const selection = select(all, { ...query, filters }, range, where);
  const others = dimensions.filter((dimension) => dimension !== GOAL);
  const groups = groupsOf(selection, others, timeAs);
  const visitorsOf = (events: readonly RawEvent[]) => metricsOf(events, selection, ['visitors'])[0] as number;
  return {
    total: visitorsOf(selection.events),
    of: (key) => {
      const id = JSON.stringify(key.filter((_, index) => dimensions[index] !== GOAL));
      return visitorsOf(groups.get(id)?.events ?? []);
    },
  };
}

/** Ascending, `null` last whatever the direction (reading 6). */
function compareValues(a: Value, b: Value, direction: 'asc' | 'desc'): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const order = a < b ? -1 : 1;
  return direction === 'asc' ? order : -order;
}

function order(rows: ResultRow[], query: OracleQuery, dimensions: readonly string[]): void {
  const time = dimensions.find((dimension) => dimension in TIME);
  const keys = query.order_by ?? (time ? [[time, 'asc'] as const] : [[query.metrics[0] as string, 'desc'] as const]);
  rows.sort((a, b) => {
    for (const [key, direction] of keys) {
      const metric = query.metrics.indexOf(key as Metric);
      const dimension = dimensions.indexOf(key);
      const result =
        metric >= 0
          ? ((a.metrics[metric] as number) - (b.metrics[metric] as number)) * (direction === 'asc' ? 1 : -1)
          : compareValues(a.dimensions[dimension] as Value, b.dimensions[dimension] as Value, direction);
      if (result !== 0) return result;
    }
    for (let index = 0; index < dimensions.length; index++) {
      const result = compareValues(a.dimensions[index] as Value, b.dimensions[index] as Value, 'asc');
      if (result !== 0) return result;
    }
    return 0;
  });
}

/**
 * Answer a query over raw events exactly as docs/STATS.md defines it.
 *
 * @example
 * ```ts
 * runOracle(events, { metrics: ['visitors'], date_range: ['2026-03-29', '2026-03-29'], dimensions: ['time:hour'] }, { timezone: 'Europe/Berlin' });
 * ```
 */
export function runOracle(all: readonly RawEvent[], query: OracleQuery, context: OracleContext): QueryResponse {
  const { timezone } = context;
  const dimensions = query.dimensions ?? [];
  const include = query.include ?? {};
  const limit = query.limit ?? 100;
  const page = query.page ?? 1;
  const range = resolveDateRange(
    query.date_range,
    timezone,
    context.now ?? Date.now(),
    context.firstDay ?? { year: 2026, month: 1, day: 1 },
  );
  if (!range.from || !range.to) throw new Error('oracle: realtime is not modelled');

  const rate = query.metrics.includes('conversion_rate');
  const main = select(all, query, range, context);
  const base = rate ? baselineOf(all, query, range, context, dimensions, 'label') : null;
  // Without dimensions the one group is all of E, empty or not (reading 5).
  const groups = dimensions.length
    ? [...groupsOf(main, dimensions, 'label').values()]
    : [{ key: [], events: main.events }];
  // Reading 15: the pageviews of each exit page, grouped by `page` in its place.
  const exits = query.metrics.includes('exit_rate');
  const asPages = dimensions.map((dimension) => (dimension === 'exit_page' ? 'page' : dimension));
  const pageViewsIn = (selection: Selection, timeAs: 'label' | 'position') => {
    const byKey = exits ? groupsOf(selection, asPages, timeAs) : new Map<string, { events: RawEvent[] }>();
    return (key: Value[]) =>
      (byKey.get(JSON.stringify(key))?.events ?? []).filter((event) => event.name === 'pageview').length;
  };
  const pageViews = pageViewsIn(main, 'label');
  const rows: ResultRow[] = groups.map((group) => ({
    dimensions: group.key,
    metrics: metricsOf(group.events, main, query.metrics, base?.of(group.key), pageViews(group.key)),
  }));
  order(rows, query, dimensions);
  const results = rows.slice((page - 1) * limit, page * limit);

  const meta: QueryResponse['meta'] = {};
  if (include.totals) meta.totals = metricsOf(main.events, main, query.metrics, base?.total);
  const time = dimensions.find((dimension) => dimension in TIME);
  if (include.time_labels && time) {
    meta.time_labels = buckets(range.from, range.to, TIME[time] as Interval, timezone).map((bucket) => bucket.label);
  }
  if (include.compare) {
    const previousRange = comparisonRange(range, include.compare, timezone);
    const previous = select(all, query, previousRange, context);
    const compared = groupsOf(previous, dimensions, 'position');
    const previousBase = rate ? baselineOf(all, query, previousRange, context, dimensions, 'position') : null;
    const labels = main.buckets.map((bucket) => bucket.label);
    const previousPageViews = pageViewsIn(previous, 'position');
    for (const row of results) {
      const key = row.dimensions.map((value, index) =>
        (dimensions[index] as string) in TIME ? String(labels.indexOf(value as string)) : value,
      );
      const events = dimensions.length ? (compared.get(JSON.stringify(key))?.events ?? []) : previous.events;
      row.comparison = {
        metrics: metricsOf(events, previous, query.metrics, previousBase?.of(key), previousPageViews(key)),
      };
    }
    if (include.totals) {
      meta.comparison_totals = metricsOf(previous.events, previous, query.metrics, previousBase?.total);
    }
  }
  if (query.metrics.includes('revenue')) meta.currency = ORACLE_CURRENCY;
  return { results, meta };
}
