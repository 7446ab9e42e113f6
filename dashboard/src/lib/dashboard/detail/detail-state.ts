/**
 * The detail view of one breakdown: which dimension it shows (and with which metrics), and its own
 * search, sort and page, kept in the URL beside the dashboard's view (`detail`, `detail_search`,
 * `detail_sort`, `detail_page`) so a reload or a shared link opens it again. The dashboard's view
 * state (url-state.ts) does not hold them: opening the view or typing in its search must not give
 * the dashboard a new view, which would ask every panel again.
 */
import { dimensionDefinition, dimensionLabel, metricColumn, PROP_PREFIX } from '@tally/sdk/catalog';
import type { QueryRequest } from '../../api/types.ts';
import type { MetricName } from '../../format.ts';
import { type DashboardState, dateRangeOf, type Filter } from '../../state/url-state.ts';
import { DEVICE_TABS, LOCATION_TABS, PAGE_TABS, SOURCE_TABS } from '../panels.ts';
import { CUSTOM_EVENTS, hasValue } from '../queries.ts';

/** Rows per page of the detail view. */
export const DETAIL_PAGE_SIZE = 50;
/** Rows of a CSV download: the stats API's largest `limit`. */
export const DETAIL_CSV_ROWS = 10_000;

/** What a detail view breaks down: a dimension, the metrics of its columns, and filters of its own. */
export interface DetailTarget {
  dimension: string;
  title: string;
  metrics: MetricName[];
  columns: string[];
  /** Filters the breakdown always carries (custom events leave pageviews out). */
  filters: Filter[];
}

/** The view's own state: what is searched, the sort, the page (from 1). */
export interface DetailState {
  dimension: string;
  search: string;
  sort: [MetricName, 'asc' | 'desc'] | null;
  page: number;
}

const PANEL_TABS = [...SOURCE_TABS, ...PAGE_TABS, ...LOCATION_TABS, ...DEVICE_TABS];

function target(dimension: string, metrics: readonly MetricName[], filters: Filter[] = []): DetailTarget {
  return {
    dimension,
    title: dimensionLabel(dimension),
    metrics: [...metrics],
    columns: metrics.map(metricColumn),
    filters,
  };
}

/**
 * The breakdown behind a dimension of the dashboard: a panel's tab (or one of a tab's options) with
 * the panel's metrics, then those its export file adds (the first sorts by default); a custom property with
 * visitors and events (of the events that carry it, as in the Properties panel), or the custom
 * events; null for anything else (a hand-edited URL).
 *
 * @example
 * ```ts
 * detailTarget('event:props:plan')?.metrics; // ['visitors', 'events']
 * ```
 */
export function detailTarget(dimension: string): DetailTarget | null {
  if (dimension.startsWith(PROP_PREFIX) && dimension.length > PROP_PREFIX.length) {
    return target(dimension, ['visitors', 'events'], [hasValue(dimension)]);
  }
  if (dimension === 'event:name')
    return { ...target(dimension, ['visitors', 'events'], [CUSTOM_EVENTS]), title: 'Custom events' };
  const tab = PANEL_TABS.find(
    (item) => item.dimension === dimension || item.options?.some((o) => o.dimension === dimension),
  );
  if (!tab) return null;
  const exported = dimensionDefinition(dimension)?.export?.metrics ?? [];
  return target(dimension, [...new Set([...tab.metrics, ...exported])]);
}

/** The URL parameters of the detail view. */
const PARAMS = ['detail', 'detail_search', 'detail_sort', 'detail_page'] as const;

/**
 * The detail view a URL's query opens, or null. Parsing never throws: an unknown dimension opens
 * nothing, a bad sort or page falls back to the default.
 */
export function parseDetail(params: URLSearchParams): DetailState | null {
  const dimension = params.get('detail');
  const found = dimension === null ? null : detailTarget(dimension);
  if (!found) return null;
  const [metric, direction] = (params.get('detail_sort') ?? '').split(',');
  const sort =
    found.metrics.includes(metric as MetricName) && (direction === 'asc' || direction === 'desc')
      ? ([metric as MetricName, direction] as DetailState['sort'])
      : null;
  const page = Number(params.get('detail_page'));
  return {
    dimension: found.dimension,
    search: (params.get('detail_search') ?? '').slice(0, 200),
    sort,
    page: Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1,
  };
}

/**
 * `search` (a URL's query, with its `?` or empty) with the detail view's parameters replaced by
 * `state`'s (removed for null). The other parameters stay exactly as they were written.
 *
 * @example
 * ```ts
 * withDetailSearch('?period=7d', { dimension: 'page', search: '', sort: null, page: 2 });
 * // '?period=7d&detail=page&detail_page=2'
 * ```
 */
export function withDetailSearch(search: string, state: DetailState | null): string {
  const kept = search
    .replace(/^\?/, '')
    .split('&')
    .filter((part) => part && !(PARAMS as readonly string[]).includes(part.split('=')[0] ?? ''));
  if (state) {
    const pairs: [string, string][] = [['detail', state.dimension]];
    if (state.search) pairs.push(['detail_search', state.search]);
    if (state.sort) pairs.push(['detail_sort', state.sort.join(',')]);
    if (state.page > 1) pairs.push(['detail_page', String(state.page)]);
    for (const [key, value] of pairs)
      kept.push(`${key}=${encodeURIComponent(value).replace(/%(2C|3A)/gi, decodeURIComponent)}`);
  }
  return kept.length ? `?${kept.join('&')}` : '';
}

/**
 * The detail view's query: the target's breakdown under the dashboard's filters and range, the
 * search as a `contains` filter on the dimension, the sort as `order_by`, one page of rows.
 */
export function detailQuery(
  project: string,
  view: DashboardState,
  found: DetailTarget,
  state: DetailState,
): QueryRequest {
  const search = state.search.trim();
  return {
    project,
    metrics: [...found.metrics],
    date_range: dateRangeOf(view),
    dimensions: [found.dimension],
    filters: [
      ...view.filters,
      ...found.filters,
      ...(search ? [['contains', found.dimension, [search]] as Filter] : []),
    ],
    ...(state.sort ? { order_by: [state.sort] } : {}),
    limit: DETAIL_PAGE_SIZE,
    page: state.page,
  };
}

/** The same breakdown as a CSV download: every row up to the API's limit, same filters and sort. */
export function detailCsvQuery(query: QueryRequest): QueryRequest & { format: 'csv' } {
  return { ...query, limit: DETAIL_CSV_ROWS, page: 1, format: 'csv' };
}

/** The sort after a click on a metric's heading: descending first, then ascending. */
export function nextSort(current: DetailState['sort'], metric: MetricName): NonNullable<DetailState['sort']> {
  return current?.[0] === metric && current[1] === 'desc' ? [metric, 'asc'] : [metric, 'desc'];
}

/** What the view is sorted by when nothing is chosen: the API's default, the first metric descending. */
export function effectiveSort(found: DetailTarget, state: DetailState): NonNullable<DetailState['sort']> {
  return state.sort ?? [found.metrics[0] ?? 'visitors', 'desc'];
}
