/** The breakdown panels of the dashboard: which dimensions each tab shows, with which metrics. */
import type { MetricName } from '../format.ts';

/** One tab of a panel: a dimension and the metrics its columns show (the first sizes the bars). */
export interface PanelTab {
  id: string;
  label: string;
  dimension: string;
  metrics: MetricName[];
  columns: string[];
  /** Alternative dimensions behind a select (the UTM tab). */
  options?: { dimension: string; label: string }[];
}

export const SOURCE_TABS: PanelTab[] = [
  { id: 'source', label: 'Sources', dimension: 'source', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'referrer', label: 'Referrers', dimension: 'referrer', metrics: ['visitors'], columns: ['Visitors'] },
  {
    id: 'utm',
    label: 'UTM',
    dimension: 'utm_source',
    metrics: ['visitors'],
    columns: ['Visitors'],
    options: [
      { dimension: 'utm_source', label: 'UTM source' },
      { dimension: 'utm_medium', label: 'UTM medium' },
      { dimension: 'utm_campaign', label: 'UTM campaign' },
      { dimension: 'utm_term', label: 'UTM term' },
      { dimension: 'utm_content', label: 'UTM content' },
    ],
  },
];
export const PAGE_TABS: PanelTab[] = [
  { id: 'page', label: 'Top', dimension: 'page', metrics: ['visitors', 'pageviews'], columns: ['Visitors', 'Views'] },
  {
    id: 'entry',
    label: 'Entry',
    dimension: 'entry_page',
    metrics: ['visitors', 'visits'],
    columns: ['Visitors', 'Visits'],
  },
  {
    id: 'exit',
    label: 'Exit',
    dimension: 'exit_page',
    metrics: ['visitors', 'visits'],
    columns: ['Visitors', 'Visits'],
  },
];
export const LOCATION_TABS: PanelTab[] = [
  { id: 'country', label: 'Countries', dimension: 'country', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'region', label: 'Regions', dimension: 'region', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'city', label: 'Cities', dimension: 'city', metrics: ['visitors'], columns: ['Visitors'] },
];
export const DEVICE_TABS: PanelTab[] = [
  { id: 'browser', label: 'Browser', dimension: 'browser', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'os', label: 'OS', dimension: 'os', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'screen', label: 'Screen', dimension: 'screen', metrics: ['visitors'], columns: ['Visitors'] },
  { id: 'device', label: 'Device', dimension: 'device', metrics: ['visitors'], columns: ['Visitors'] },
];
