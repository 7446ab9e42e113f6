/**
 * The dashboard's lists agree with the catalog (`@tally/sdk/catalog`): its panel tabs, the
 * dimensions a funnel may be filtered by, the labels and the filter operators. A dimension added to
 * the catalog with a `panel` appears here without an edit; one shown here but missing there fails.
 */
import {
  DIMENSION_NAMES,
  DIMENSIONS,
  FILTER_OPERATORS,
  METRICS,
  VISIT_DIMENSIONS as CATALOG_VISIT_DIMENSIONS,
} from '@tally/sdk/catalog';
import { describe, expect, it } from 'vitest';
import { dimensionLabel, OPERATOR_LABELS, VISIT_DIMENSIONS, valueLabel } from './dimensions.ts';
import { METRIC_HINTS, METRIC_LABELS } from './metrics.ts';
import { DEVICE_TABS, LOCATION_TABS, PAGE_TABS, SOURCE_TABS } from './panels.ts';

describe('the dashboard and the catalog', () => {
  it('show every dimension the catalog places in a panel, in that panel, and no other', () => {
    const shown = (tabs: typeof SOURCE_TABS) =>
      tabs.flatMap((tab) => (tab.options ? tab.options.map((option) => option.dimension) : [tab.dimension]));
    const placed = (panel: string) => DIMENSION_NAMES.filter((name) => DIMENSIONS[name].panel?.panel === panel);
    const sorted = (list: string[]) => [...list].sort();
    expect(sorted(shown(SOURCE_TABS))).toEqual(sorted(placed('sources')));
    expect(sorted(shown(PAGE_TABS))).toEqual(sorted(placed('pages')));
    expect(sorted(shown(LOCATION_TABS))).toEqual(sorted(placed('locations')));
    expect(sorted(shown(DEVICE_TABS))).toEqual(sorted(placed('devices')));
    // Each panel opens on its first tab: Top pages, Sources, Countries, Browser.
    expect(PAGE_TABS.map((tab) => tab.label)).toEqual(['Top', 'Entry', 'Exit']);
    expect(SOURCE_TABS.map((tab) => tab.label)).toEqual(['Sources', 'Referrers', 'UTM', 'Channels']);
    expect(DEVICE_TABS.map((tab) => tab.label)).toEqual(['Browser', 'OS', 'Screen', 'Device']);
    expect(LOCATION_TABS.map((tab) => tab.label)).toContain('Languages');
    for (const tab of [...SOURCE_TABS, ...PAGE_TABS, ...LOCATION_TABS, ...DEVICE_TABS]) {
      expect(tab.columns).toHaveLength(tab.metrics.length);
    }
  });

  it('filter funnels by the catalog’s visit dimensions', () => {
    expect([...VISIT_DIMENSIONS].sort()).toEqual([...CATALOG_VISIT_DIMENSIONS].sort());
  });

  it('label every dimension, metric and operator as the catalog does', () => {
    for (const name of DIMENSION_NAMES) expect(dimensionLabel(name)).toBe(DIMENSIONS[name].label);
    for (const [metric, label] of Object.entries(METRIC_LABELS)) {
      expect(label).toBe(METRICS[metric as keyof typeof METRICS].label);
      expect(METRIC_HINTS[metric as keyof typeof METRIC_HINTS]).toBe(
        METRICS[metric as keyof typeof METRICS].definition,
      );
    }
    expect(Object.keys(OPERATOR_LABELS)).toEqual([...FILTER_OPERATORS]);
    expect(valueLabel('language', 'pt-BR')).toBe('Brazilian Portuguese');
    expect(valueLabel('language', null)).toBe('Unknown');
    expect(valueLabel('utm_term', null)).toBe('(not set)');
    // Device types read like the screen classes beside them, not in lower case.
    expect(valueLabel('device', 'desktop')).toBe('Desktop');
    expect(valueLabel('device', 'smarttv')).toBe('Smart TV');
  });
});
