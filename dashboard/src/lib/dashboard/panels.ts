/** The breakdown panels of the dashboard: which dimensions each tab shows, with which metrics (from the catalog). */
import { metricColumn, type PanelName, panelTabs, type PanelTab as CatalogTab } from '@tally/sdk/catalog';
import type { Filter } from '../state/url-state.ts';

/** One tab of a panel: a dimension, the metrics its columns show (the first sizes the bars), their headings. */
export interface PanelTab extends CatalogTab {
  columns: string[];
  /** Filters of the tab's own, beside the view's (the Properties panel keeps events with a value). */
  filters?: (dimension: string) => Filter[];
}

function tabsOf(panel: PanelName): PanelTab[] {
  return panelTabs(panel).map((tab) => ({ ...tab, columns: tab.metrics.map(metricColumn) }));
}

export const SOURCE_TABS = tabsOf('sources');
export const PAGE_TABS = tabsOf('pages');
export const LOCATION_TABS = tabsOf('locations');
export const DEVICE_TABS = tabsOf('devices');
