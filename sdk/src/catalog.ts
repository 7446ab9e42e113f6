/**
 * Tally's vocabulary: every dimension and metric the stats API answers, defined once. The query
 * schema and its OpenAPI, the rollups, the export, the dashboard's panels, labels and filters, the
 * bench and the demo all derive from these two tables (Plausible's metric registry and Umami's
 * column constants are the models); `worker/test/catalog.test.ts` fails when a list elsewhere
 * disagrees with them. No dependencies: the worker, the dashboard and the SDK import it alike.
 *
 * Adding a dimension is the recipe in ARCHITECTURE.md ("Adding a dimension").
 */

/**
 * The catalog's version. Bump it when a rolled-up dimension is added, or when a day's rollup
 * holds rows of a new kind: every rolled day records the version it was rolled with, so a
 * dimension newer than a day's rollup answers "not available for these days" instead of zero, and
 * the cron rolls such days again while their raw events remain (`markStaleDays`). 1: the
 * dimensions before `language`; 2: `language`; 3: `channel`, and funnel step rows (`funnel:step`);
 * 4: filtered rows (`pair_rollups`, {@link PAIR_FILTERS} beside {@link PAIR_BREAKDOWNS}); 5: filtered
 * goal and funnel rows (each goal's numbers, each funnel step's visits, per {@link PAIR_FILTERS}
 * value); 6: filtered rows by the tabs with few values (`paired`).
 */
export const CATALOG_VERSION = 6;

/**
 * The newest catalog version whose rows an unfiltered read may need (rolled dimensions, goal and
 * funnel rows): a day rolled at it or later is read from rollups by every read but a filtered one,
 * which needs {@link CATALOG_VERSION} 4 (5 beside goals, 6 by a `paired` tab). Moving to 4, 5 and
 * 6 added filtered rows only, so days rolled at 3 keep answering unfiltered views from rollups
 * while the cron re-rolls them. Bump it with {@link CATALOG_VERSION} when any other kind of row or
 * rolled dimension is added.
 */
export const UNFILTERED_VERSION = 3;

/** How a metric's value reads. */
export type MetricFormat = 'count' | 'decimal' | 'percent' | 'duration' | 'money';

/** A metric: its label, how its values read, and what it counts (docs/STATS.md says it in full). */
export interface MetricDefinition {
  label: string;
  /** The heading of a table column, where the label is too long for one. */
  column?: string;
  format: MetricFormat;
  /** One line, for tooltips and the API description. */
  definition: string;
}

/** Every metric, in the order the API lists them. */
export const METRICS = {
  visitors: {
    label: 'Visitors',
    format: 'count',
    definition: 'Unique visitors per day, summed over the days of the range',
  },
  visits: { label: 'Visits', format: 'count', definition: 'Sessions: a visitor’s events without a 30-minute gap' },
  pageviews: { label: 'Pageviews', column: 'Views', format: 'count', definition: 'Pages viewed' },
  views_per_visit: { label: 'Views per visit', format: 'decimal', definition: 'Pageviews per visit' },
  bounce_rate: {
    label: 'Bounce rate',
    format: 'percent',
    definition: 'Visits with a single pageview and nothing else',
  },
  visit_duration: {
    label: 'Visit duration',
    format: 'duration',
    definition: 'Average time from the first to the last event of a visit',
  },
  events: { label: 'Events', format: 'count', definition: 'Events of every name, pageviews included' },
  conversion_rate: {
    label: 'Conversion rate',
    format: 'percent',
    definition: 'Visitors who completed the goal, as a share of the visitors of the same group',
  },
  revenue: { label: 'Revenue', format: 'money', definition: "Revenue amounts in the project's currency" },
  exit_rate: {
    label: 'Exit rate',
    format: 'percent',
    definition: 'Visits that left from the page, as a share of its pageviews',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** A metric's table-column heading: "Visitors", "Views". */
export function metricColumn(name: MetricName): string {
  const metric: MetricDefinition = METRICS[name];
  return metric.column ?? metric.label;
}

/** The dashboard's breakdown panels. */
export type PanelName = 'sources' | 'pages' | 'locations' | 'devices';

/**
 * How a dimension's values are shown: as they are, as a country or language name, or as a device
 * type spelt like the screen classes beside it (`desktop` → "Desktop", `smarttv` → "Smart TV").
 */
export type ValueFormat = 'text' | 'country' | 'language' | 'device';

/** A dimension: where its value comes from, how it reads, and where it appears. */
export interface DimensionDefinition {
  /** `visit`: the value of the visit's first event (its entry); `event`: each event's own. */
  kind: 'visit' | 'event';
  /** The `events` column it reads; null where it is computed (`exit_page`, `event:goal`). */
  column: string | null;
  label: string;
  /** What a missing value is called. */
  none: string;
  values: ValueFormat;
  /** Rolled up per closed day, so that a breakdown of closed days reads rollups. */
  rolled: boolean;
  /**
   * Rolled up per value beside every {@link PAIR_BREAKDOWNS} dimension (`pair_rollups`), so that a
   * view filtered to one of its values (a click on a panel's row) reads rollups for its closed days.
   * Each costs the cron part of a statement per day, and D1 a row per (value, breakdown value) a day.
   */
  filtered: boolean;
  /**
   * For a panel tab other than the first: the {@link CATALOG_VERSION} since which a filtered view
   * breaks down by it from `pair_rollups` ({@link PAIR_BREAKDOWNS}); null: such views read it raw.
   * Given to tabs with few values a day (channels, operating systems, screens, devices, languages),
   * whose rows cost little; first tabs have them since catalog 4.
   */
  paired: number | null;
  /** The {@link CATALOG_VERSION} that introduced it: days rolled up before it do not hold it. */
  since: number;
  /** Its file in the export zip, and the metrics of that file's columns. */
  export: { file: string; metrics: readonly MetricName[] } | null;
  /**
   * Where the dashboard shows it: a tab of a panel, with the metrics of its columns (the first
   * sizes the bars) and its place among the panel's tabs. Dimensions that share a tab id are one tab
   * with a select (UTM).
   */
  panel: { panel: PanelName; tab: string; order: number; tabLabel: string; metrics: readonly MetricName[] } | null;
  /** One line: what the value is. */
  definition: string;
}

const VISIT_METRICS = ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'] as const;
const VISITORS = ['visitors'] as const;

/** A dimension of `kind` with the common defaults: rolled up, no export, no panel, "Unknown" for none. */
function define<K extends 'visit' | 'event'>(
  kind: K,
  column: string | null,
  label: string,
  definition: string,
  more: Partial<Omit<DimensionDefinition, 'kind'>> = {},
): DimensionDefinition & { kind: K } {
  return {
    kind,
    column,
    label,
    none: 'Unknown',
    values: 'text',
    rolled: true,
    filtered: false,
    paired: null,
    since: 1,
    export: null,
    panel: null,
    definition,
    ...more,
  };
}
const visit = (column: string | null, label: string, definition: string, more?: Partial<DimensionDefinition>) =>
  define('visit', column, label, definition, more);
const event = (column: string | null, label: string, definition: string, more?: Partial<DimensionDefinition>) =>
  define('event', column, label, definition, more);

const utm = (name: string, label: string, term: string) =>
  visit(name, label, `The \`${name}\` parameter (${term}) of the entry page's URL`, {
    none: '(not set)',
    export: { file: `${name}s.csv`, metrics: VISIT_METRICS },
    panel: { panel: 'sources', tab: 'utm', order: 2, tabLabel: 'UTM', metrics: VISITORS },
  });

/** Every dimension but the time buckets and custom properties, in the order the API lists them. */
export const DIMENSIONS = {
  entry_page: visit('path', 'Entry page', 'The path of the visit’s first event', {
    export: { file: 'entry_pages.csv', metrics: VISIT_METRICS },
    panel: { panel: 'pages', tab: 'entry', order: 1, tabLabel: 'Entry', metrics: ['visitors', 'visits'] },
  }),
  exit_page: visit(null, 'Exit page', 'The path of the visit’s last pageview', {
    // Exit rate: in the detail view and the export (the panel keeps two columns for a phone's width).
    export: { file: 'exit_pages.csv', metrics: ['visitors', 'visits', 'exit_rate'] },
    panel: { panel: 'pages', tab: 'exit', order: 2, tabLabel: 'Exit', metrics: ['visitors', 'visits'] },
  }),
  source: visit('source', 'Source', 'A known name for the referrer (Google), its host, or utm_source', {
    none: 'Direct / None',
    filtered: true,
    export: { file: 'sources.csv', metrics: VISIT_METRICS },
    panel: { panel: 'sources', tab: 'source', order: 0, tabLabel: 'Sources', metrics: VISITORS },
  }),
  referrer: visit('referrer', 'Referrer', 'The referring URL, without query string or fragment', {
    none: 'Direct / None',
    export: { file: 'referrers.csv', metrics: VISIT_METRICS },
    panel: { panel: 'sources', tab: 'referrer', order: 1, tabLabel: 'Referrers', metrics: VISITORS },
  }),
  channel: visit(
    'channel',
    'Channel',
    'The acquisition channel (Organic Search, Paid Social, Email, …) from the source and utm_* values',
    {
      since: 3,
      paired: 6,
      export: { file: 'channels.csv', metrics: VISIT_METRICS },
      panel: { panel: 'sources', tab: 'channel', order: 3, tabLabel: 'Channels', metrics: VISITORS },
    },
  ),
  utm_source: utm('utm_source', 'UTM source', 'the campaign’s source'),
  utm_medium: utm('utm_medium', 'UTM medium', 'the campaign’s medium'),
  utm_campaign: utm('utm_campaign', 'UTM campaign', 'the campaign’s name'),
  utm_term: utm('utm_term', 'UTM term', 'the paid search term'),
  utm_content: utm('utm_content', 'UTM content', 'the ad variant'),
  country: visit('country', 'Country', 'ISO 3166-1 alpha-2 code, from Cloudflare’s edge', {
    values: 'country',
    filtered: true,
    export: { file: 'countries.csv', metrics: VISITORS },
    panel: { panel: 'locations', tab: 'country', order: 0, tabLabel: 'Countries', metrics: VISITORS },
  }),
  region: visit('region', 'Region', 'The region (state, province) from Cloudflare’s edge', {
    export: { file: 'regions.csv', metrics: VISITORS },
    panel: { panel: 'locations', tab: 'region', order: 1, tabLabel: 'Regions', metrics: VISITORS },
  }),
  city: visit('city', 'City', 'The city from Cloudflare’s edge', {
    export: { file: 'cities.csv', metrics: VISITORS },
    panel: { panel: 'locations', tab: 'city', order: 2, tabLabel: 'Cities', metrics: VISITORS },
  }),
  language: visit(
    'language',
    'Language',
    'The first language of the browser’s Accept-Language header, as a BCP 47 tag (`en`, `pt-BR`)',
    {
      values: 'language',
      since: 2,
      paired: 6,
      export: { file: 'languages.csv', metrics: VISITORS },
      panel: { panel: 'locations', tab: 'language', order: 3, tabLabel: 'Languages', metrics: VISITORS },
    },
  ),
  browser: visit('browser', 'Browser', 'The browser’s name, from the user agent', {
    export: { file: 'browsers.csv', metrics: VISITORS },
    panel: { panel: 'devices', tab: 'browser', order: 0, tabLabel: 'Browser', metrics: VISITORS },
  }),
  browser_version: visit('browser_version', 'Browser version', 'The browser’s major version', {
    export: { file: 'browser_versions.csv', metrics: VISITORS },
  }),
  os: visit('os', 'OS', 'The operating system’s name, from the user agent', {
    paired: 6,
    export: { file: 'operating_systems.csv', metrics: VISITORS },
    panel: { panel: 'devices', tab: 'os', order: 1, tabLabel: 'OS', metrics: VISITORS },
  }),
  os_version: visit('os_version', 'OS version', 'The operating system’s version', {
    export: { file: 'operating_system_versions.csv', metrics: VISITORS },
  }),
  device: visit('device', 'Device', 'The device type from the user agent: desktop, mobile, tablet, …', {
    values: 'device',
    filtered: true,
    paired: 6,
    export: { file: 'devices.csv', metrics: VISITORS },
    panel: { panel: 'devices', tab: 'device', order: 3, tabLabel: 'Device', metrics: VISITORS },
  }),
  screen: visit('screen', 'Screen', 'The screen class from its width: Mobile, Tablet, Laptop, Desktop', {
    paired: 6,
    export: { file: 'screens.csv', metrics: VISITORS },
    panel: { panel: 'devices', tab: 'screen', order: 2, tabLabel: 'Screen', metrics: VISITORS },
  }),
  page: event('path', 'Page', 'The path of the event’s page', {
    // Per-page bounce rate: in the detail view and the export (the panel keeps two columns).
    export: { file: 'pages.csv', metrics: ['visitors', 'pageviews', 'bounce_rate'] },
    panel: { panel: 'pages', tab: 'page', order: 0, tabLabel: 'Top', metrics: ['visitors', 'pageviews'] },
  }),
  hostname: event('hostname', 'Hostname', 'The hostname of the event’s page'),
  'event:name': event('name', 'Event', 'The event’s name: `pageview` or a custom name', {
    export: { file: 'custom_events.csv', metrics: ['visitors', 'events'] },
  }),
  'event:goal': event(null, 'Goal', 'Each goal the event completes', {
    // Goal rows are rolled up per goal (the goal rollups), not as a dimension of their own.
    rolled: false,
    export: { file: 'goals.csv', metrics: ['visitors', 'events', 'conversion_rate', 'revenue'] },
  }),
} as const satisfies Record<string, DimensionDefinition>;

export type NamedDimension = keyof typeof DIMENSIONS;
export const DIMENSION_NAMES = Object.keys(DIMENSIONS) as NamedDimension[];

type OfKind<K extends 'visit' | 'event'> = {
  [N in NamedDimension]: (typeof DIMENSIONS)[N]['kind'] extends K ? N : never;
}[NamedDimension];

/** Dimensions a visit takes from its first event (its entry), and `exit_page`. */
export type VisitDimension = OfKind<'visit'>;
export const VISIT_DIMENSIONS = DIMENSION_NAMES.filter((name) => DIMENSIONS[name].kind === 'visit') as VisitDimension[];

/** Dimensions every event has of its own. */
export type EventDimension = OfKind<'event'>;
export const EVENT_DIMENSIONS = DIMENSION_NAMES.filter((name) => DIMENSIONS[name].kind === 'event') as EventDimension[];

/** Time buckets, local to the project's timezone. */
export const TIME_DIMENSIONS = ['time:hour', 'time:day', 'time:week', 'time:month'] as const;
export type TimeDimension = (typeof TIME_DIMENSIONS)[number];

/** `event:props:<key>`: a custom property. */
export const PROP_PREFIX = 'event:props:';

/** Any dimension a query may name. */
export type Dimension = NamedDimension | TimeDimension | `event:props:${string}`;

/** How a filter compares a dimension with its values. */
export const FILTER_OPERATORS = ['is', 'is_not', 'contains', 'does_not_contain', 'matches'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** `[operator, dimension, values]`: `null` among the values stands for "no value". */
export type Filter = readonly [operator: FilterOperator, dimension: Dimension, values: readonly (string | null)[]];

/** The definition of a named dimension, or null (time buckets, properties). */
export function dimensionDefinition(name: string): DimensionDefinition | null {
  return Object.hasOwn(DIMENSIONS, name) ? DIMENSIONS[name as NamedDimension] : null;
}

/** "Country", "UTM source", "Property plan", "Day". */
export function dimensionLabel(name: string): string {
  if (name.startsWith(PROP_PREFIX)) return `Property ${name.slice(PROP_PREFIX.length)}`;
  if (name.startsWith('time:')) return name.slice(5, 6).toUpperCase() + name.slice(6);
  return dimensionDefinition(name)?.label ?? name;
}

/** What a missing value is called in a dimension: "Direct / None", "(not set)", "(no value)". */
export function noneLabel(name: string): string {
  if (name.startsWith(PROP_PREFIX)) return '(no value)';
  return dimensionDefinition(name)?.none ?? 'Unknown';
}

/** The visit dimensions that read a column of the visit's entry event, with that column. */
export const ENTRY_COLUMNS = VISIT_DIMENSIONS.flatMap((name) => {
  const column = DIMENSIONS[name].column;
  return column === null ? [] : [[name, column] as const];
});

/** The dimensions rolled up per closed day. */
export const ROLLED_DIMENSIONS = DIMENSION_NAMES.filter((name) => DIMENSIONS[name].rolled);

/** The dimensions rolled up per value beside {@link PAIR_BREAKDOWNS} (`filtered`): a filter a view can read rollups with. */
export const PAIR_FILTERS = DIMENSION_NAMES.filter((name) => DIMENSIONS[name].rolled && DIMENSIONS[name].filtered);

/**
 * What a filtered view breaks down by (`pair_rollups`): each panel's first tab (what the dashboard
 * asks on load), the tabs with few values a day (`paired`; other tabs read raw), the custom events panel's `event:name`, and the chart's hours
 * (a day's, week's or month's come from the filter's own rows). Measured at 100k events, every
 * panel dimension beside 19 filter dimensions wrote 28 rows per event; this set beside three, 1.3.
 * The goals panel has filtered rows too, one per goal (`event:goal`, written by the goal rollups' SQL).
 */
export const PAIR_BREAKDOWNS: readonly Dimension[] = [
  ...DIMENSION_NAMES.filter(
    (name) => DIMENSIONS[name].rolled && (DIMENSIONS[name].panel?.order === 0 || DIMENSIONS[name].paired !== null),
  ),
  'event:name',
  'time:hour',
];

/** The export zip's files: the time series, then one per exported dimension. */
export const EXPORT_FILES: readonly { file: string; dimension: Dimension; metrics: readonly MetricName[] }[] = [
  {
    file: 'visitors.csv',
    dimension: 'time:day',
    metrics: ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'],
  },
  ...DIMENSION_NAMES.flatMap((name) => {
    const exported = DIMENSIONS[name].export;
    return exported ? [{ file: exported.file, dimension: name as Dimension, metrics: exported.metrics }] : [];
  }),
];

/** One tab of a dashboard panel: its dimension (or a select of several) and its columns' metrics. */
export interface PanelTab {
  id: string;
  label: string;
  dimension: NamedDimension;
  metrics: readonly MetricName[];
  /** Alternative dimensions behind a select (the UTM tab). */
  options?: { dimension: NamedDimension; label: string }[];
}

/** The tabs of a panel, in their order. */
export function panelTabs(panel: PanelName): PanelTab[] {
  const tabs: (PanelTab & { order: number })[] = [];
  for (const name of DIMENSION_NAMES) {
    const place = DIMENSIONS[name].panel;
    if (!place || place.panel !== panel) continue;
    const existing = tabs.find((tab) => tab.id === place.tab);
    if (!existing) {
      tabs.push({ id: place.tab, label: place.tabLabel, dimension: name, metrics: place.metrics, order: place.order });
      continue;
    }
    existing.options ??= [{ dimension: existing.dimension, label: DIMENSIONS[existing.dimension].label }];
    existing.options.push({ dimension: name, label: DIMENSIONS[name].label });
  }
  return tabs.sort((a, b) => a.order - b.order).map(({ order: _order, ...tab }) => tab);
}

/** One group of a `POST /api/v1/query` answer: its dimension values and metrics, in the order asked. */
export interface QueryResult {
  dimensions: (string | null)[];
  metrics: number[];
  comparison?: { metrics: number[] };
}

/**
 * Days of a range for which part of an answer is not known, and why (docs/STATS.md, "History"):
 * `retention`: their raw events are purged and the answer needed them (a filter, a property…);
 * `dimension`: they were rolled up before the dimension `name` existed, and their raw events are
 * gone; `goal`: the goal `name` was defined after their raw events were gone.
 */
export interface Unavailable {
  from: string;
  to: string;
  reason: 'retention' | 'dimension' | 'goal';
  name?: string;
}

/** The answer of `POST /api/v1/query` (docs/STATS.md, "Query results"). */
export interface QueryResponse {
  results: QueryResult[];
  meta: {
    time_labels?: string[];
    totals?: number[];
    comparison_totals?: number[];
    currency?: string;
    unavailable?: Unavailable[];
  };
}
