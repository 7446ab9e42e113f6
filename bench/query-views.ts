/**
 * The dashboard views the bench measures, written as the URLs a user opens, and the stats requests
 * the dashboard sends for each. The requests are built by the dashboard's own code — its URL state,
 * date spans, panel tabs and request builders (`dashboard/src/lib/dashboard/queries.ts`) — so the
 * bench asks what the page asks, and follows it when the page changes.
 */
import { VISIT_DIMENSIONS } from '@tally/sdk/catalog';
import {
  DEVICE_TABS,
  LOCATION_TABS,
  PAGE_TABS,
  type PanelTab,
  SOURCE_TABS,
} from '../dashboard/src/lib/dashboard/panels.ts';
import {
  breakdownQuery,
  chartInterval,
  comparisonSeriesQuery,
  mainQuery,
} from '../dashboard/src/lib/dashboard/queries.ts';
import { comparisonSpan, resolveSpan, todayIn } from '../dashboard/src/lib/state/dates.ts';
import { type DashboardState, dateRangeOf, type Filter, parseState } from '../dashboard/src/lib/state/url-state.ts';
import type { QueryProject } from './query-data.ts';

/** A view of the dashboard: a name for the table, and its URL's query string. */
export interface View {
  name: string;
  search: string;
}

/**
 * The views of issue 15, most telling first (a run short of time measures these before the rest):
 * the open day, 30 days, 30 days with one filter, with two, and with an `is_not`, then the other
 * ranges and the comparison.
 */
export const VIEWS: readonly View[] = [
  { name: 'today', search: 'period=today' },
  { name: 'last 30 days', search: 'period=30d' },
  { name: '30 days, source is Google', search: 'period=30d&f=is,source,Google' },
  { name: '30 days, country DE, page /pricing', search: 'period=30d&f=is,country,DE&f=is,page,/pricing' },
  { name: '30 days, country is not US', search: 'period=30d&f=is_not,country,US' },
  { name: 'yesterday', search: 'period=yesterday' },
  { name: 'last 7 days', search: 'period=7d' },
  { name: 'this month', search: 'period=month' },
  { name: '30 days vs previous period', search: 'period=30d&compare=previous_period' },
];

/** One request of a view. */
export interface DashboardRequest {
  name: string;
  path: '/api/v1/query' | '/api/v1/funnel' | '/api/v1/drops';
  body: object;
  /** Sent when the page opens (cards, chart, each panel's first tab, …); other tabs on a click. */
  onLoad: boolean;
}

// The panels' sizes and extra filters, as their components (dashboard/src/lib/dashboard/*.svelte) ask.
/** BreakdownPanel: nine rows shown, one more asked to tell whether there are more. */
const PANEL_LIMIT = 10;
/** GoalsPanel and EventsPanel list up to 50. */
const LIST_LIMIT = 50;
const GOAL_METRICS = ['visitors', 'events', 'conversion_rate', 'revenue'] as const;
const NOT_PAGEVIEWS: Filter = ['is_not', 'event:name', ['pageview']];

const PANELS: readonly [title: string, tabs: readonly PanelTab[]][] = [
  ['Sources', SOURCE_TABS],
  ['Pages', PAGE_TABS],
  ['Locations', LOCATION_TABS],
  ['Devices', DEVICE_TABS],
];

/** The state a view's URL gives the page. */
export function viewState(view: View): DashboardState {
  return parseState(new URLSearchParams(view.search));
}

/**
 * Every stats request of one view for `project` at `now` (the project's timezone is UTC): those the
 * page sends when it opens, then each panel's other tabs.
 */
export function dashboardRequests(view: View, project: QueryProject, now: number): DashboardRequest[] {
  const state = viewState(view);
  const span = resolveSpan(state, todayIn('UTC', now));
  const interval = chartInterval(state, span);
  const query = (name: string, body: object, onLoad = true): DashboardRequest => ({
    name,
    path: '/api/v1/query',
    body,
    onLoad,
  });
  const requests: DashboardRequest[] = [query('cards + chart', mainQuery(project.id, state, interval))];
  if (state.compare && span) {
    const other = comparisonSpan(span, state.compare);
    requests.push(query('comparison line', comparisonSeriesQuery(project.id, state, other, interval)));
  }
  const tabs = PANELS.flatMap(([title, list]) =>
    list.map((tab, index) => {
      const dimension = tab.options?.[0]?.dimension ?? tab.dimension;
      const body = breakdownQuery(project.id, state, dimension, tab.metrics, PANEL_LIMIT);
      return query(`${title} · ${tab.label}`, body, index === 0);
    }),
  );
  requests.push(...tabs.filter((request) => request.onLoad));
  requests.push(
    query('goals', breakdownQuery(project.id, state, 'event:goal', GOAL_METRICS, LIST_LIMIT)),
    query(
      'custom events',
      breakdownQuery(project.id, state, 'event:name', ['visitors', 'events'], LIST_LIMIT, [NOT_PAGEVIEWS]),
    ),
    {
      name: 'funnel',
      path: '/api/v1/funnel',
      // Funnels take visit filters only; the panel leaves the others out (FunnelsPanel.svelte).
      body: {
        project: project.id,
        funnel: project.funnelId,
        date_range: dateRangeOf(state),
        filters: state.filters.filter(([, dimension]) => (VISIT_DIMENSIONS as readonly string[]).includes(dimension)),
      },
      onLoad: true,
    },
    {
      name: 'drop counts',
      path: '/api/v1/drops',
      body: { project: project.id, date_range: dateRangeOf(state) },
      onLoad: true,
    },
  );
  requests.push(...tabs.filter((request) => !request.onLoad));
  return requests;
}

/** The UTC spans [start, end) of a view's range and of the period it is compared with. */
export function viewSpans(view: View, now: number): [number, number][] {
  const state = viewState(view);
  const span = resolveSpan(state, todayIn('UTC', now));
  if (!span) return [];
  const ms = (date: string) => Date.parse(`${date}T00:00:00Z`);
  const spans: [number, number][] = [[ms(span.from), ms(span.to) + 86_400_000]];
  if (state.compare) {
    const other = comparisonSpan(span, state.compare);
    spans.push([ms(other.from), ms(other.to) + 86_400_000]);
  }
  return spans;
}
