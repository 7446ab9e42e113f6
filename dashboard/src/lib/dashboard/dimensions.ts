/**
 * How the dashboard names dimensions and spells their values: `source` is "Source", a missing
 * source is "Direct / None", a country code is its name. Values stay plain text throughout.
 */
import { countryFlag, countryName } from '../countries.ts';

const LABELS: Record<string, string> = {
  page: 'Page',
  entry_page: 'Entry page',
  exit_page: 'Exit page',
  hostname: 'Hostname',
  source: 'Source',
  referrer: 'Referrer',
  utm_source: 'UTM source',
  utm_medium: 'UTM medium',
  utm_campaign: 'UTM campaign',
  utm_term: 'UTM term',
  utm_content: 'UTM content',
  country: 'Country',
  region: 'Region',
  city: 'City',
  browser: 'Browser',
  browser_version: 'Browser version',
  os: 'OS',
  os_version: 'OS version',
  device: 'Device',
  screen: 'Screen',
  'event:name': 'Event',
  'event:goal': 'Goal',
};

const PROP = 'event:props:';

/** "Country", "UTM source", "Property plan". */
export function dimensionLabel(dimension: string): string {
  if (dimension.startsWith(PROP)) return `Property ${dimension.slice(PROP.length)}`;
  return LABELS[dimension] ?? dimension;
}

/** What a missing value is called in each dimension. */
function noneLabel(dimension: string): string {
  if (dimension === 'source' || dimension === 'referrer') return 'Direct / None';
  if (dimension.startsWith('utm_')) return '(not set)';
  if (dimension.startsWith(PROP)) return '(no value)';
  return 'Unknown';
}

/** A dimension value for people: country names, "Direct / None" for null. */
export function valueLabel(dimension: string, value: string | null): string {
  if (value === null) return noneLabel(dimension);
  if (dimension === 'country') return countryName(value);
  return value;
}

/** A prefix for a value (a country's flag), or empty. */
export function valueIcon(dimension: string, value: string | null): string {
  return dimension === 'country' ? countryFlag(value) : '';
}

/** Operators as the filter chips say them. */
export const OPERATOR_LABELS = { is: 'is', is_not: 'is not', contains: 'contains', matches: 'matches' } as const;

/**
 * Dimensions a funnel may be filtered by: visit dimensions only (docs/STATS.md, funnels). The
 * dashboard drops the others from a funnel's request and says so.
 */
export const VISIT_DIMENSIONS = new Set([
  'entry_page',
  'exit_page',
  'source',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'country',
  'region',
  'city',
  'browser',
  'browser_version',
  'os',
  'os_version',
  'device',
  'screen',
]);
