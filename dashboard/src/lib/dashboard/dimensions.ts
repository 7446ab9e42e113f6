/**
 * How the dashboard names dimensions and spells their values: `source` is "Source", a missing
 * source is "Direct / None", a country code is its name. Values stay plain text throughout.
 */
import {
  VISIT_DIMENSIONS as CATALOG_VISIT_DIMENSIONS,
  dimensionDefinition,
  dimensionLabel,
  noneLabel,
} from '@tally/sdk/catalog';
import { countryFlag, countryName } from '../countries.ts';

/** "Country", "UTM source", "Property plan". */
export { dimensionLabel };

/** A dimension value for people: country names, "Direct / None" for null. */
export function valueLabel(dimension: string, value: string | null): string {
  if (value === null) return noneLabel(dimension);
  const format = dimensionDefinition(dimension)?.values;
  if (format === 'country') return countryName(value);
  if (format === 'language') return languageName(value);
  if (format === 'device') return DEVICE_NAMES[value] ?? value.charAt(0).toUpperCase() + value.slice(1);
  return value;
}

/** ua-parser-js's device types as people write them; others are capitalised. */
const DEVICE_NAMES: Record<string, string> = { smarttv: 'Smart TV', xr: 'XR' };

let languages: Intl.DisplayNames | null = null;

/** "English (United States)" for `en-US`; the tag itself where the browser has no name for it. */
function languageName(tag: string): string {
  try {
    languages ??= new Intl.DisplayNames(['en'], { type: 'language' });
    return languages.of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** A prefix for a value (a country's flag), or empty. */
export function valueIcon(dimension: string, value: string | null): string {
  return dimensionDefinition(dimension)?.values === 'country' ? countryFlag(value) : '';
}

/** Operators as the filter chips say them. */
export const OPERATOR_LABELS = {
  is: 'is',
  is_not: 'is not',
  contains: 'contains',
  does_not_contain: 'does not contain',
  matches: 'matches',
} as const;

/**
 * How a chip joins a filter's values: any of them may hold, so "is DE or AT"; a negative filter
 * keeps what none of them holds for, which English says with "nor": "is not DE nor AT".
 */
export function valuesJoiner(operator: keyof typeof OPERATOR_LABELS): string {
  return operator === 'is_not' || operator === 'does_not_contain' ? ' nor ' : ' or ';
}

/**
 * Dimensions a funnel may be filtered by: visit dimensions only (docs/STATS.md, funnels). The
 * dashboard drops the others from a funnel's request and says so.
 */
export const VISIT_DIMENSIONS: ReadonlySet<string> = new Set(CATALOG_VISIT_DIMENSIONS);
