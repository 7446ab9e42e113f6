/** Query results as CSV: what a spreadsheet opens, safely. */
import type { QueryResponse } from './run.ts';
import type { Query } from './schema.ts';

/**
 * One CSV field. Quotes, commas and line breaks are quoted; and a text that a spreadsheet would
 * run as a formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'` — the values are pages,
 * referrers and properties from the open internet (CSV injection).
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The results of a query as CSV: a header of dimension and metric names (comparison metrics as
 * `<metric>_comparison`), then a row per result.
 *
 * @example
 * ```ts
 * toCsv(query, response); // 'source,visitors\r\nGoogle,12\r\n,3\r\n'
 * ```
 */
export function toCsv(query: Query, response: QueryResponse): string {
  const compared = response.results.some((result) => result.comparison);
  const header = [
    ...query.dimensions,
    ...query.metrics,
    ...(compared ? query.metrics.map((metric) => `${metric}_comparison`) : []),
  ];
  const rows = response.results.map((result) => [
    ...result.dimensions,
    ...result.metrics,
    ...(compared ? (result.comparison?.metrics ?? query.metrics.map(() => 0)) : []),
  ]);
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
