/**
 * The figures of the query benchmark (issue 15's targets): each request's p95 beside the empty
 * project's time, D1 rows read per dashboard load beside the range's events, and what one
 * dashboard tab left open on today costs a month at D1's list price.
 */
import { PRICES } from './prices.ts';
import type { Measured } from './query-passes.ts';
import { type Figure, formatNumber, percentile } from './report.ts';

/** Every stats request answers within this, at 10M events a month. */
const P95_TARGET_MS = 50;
/** A dashboard load reads at most this share of its range's events (per cent). */
const LOAD_TARGET_PERCENT = 0.1;
/**
 * The size the row targets are set for: rollup rows grow with distinct values, not with events,
 * so a share of a small dataset's events says nothing; smaller runs print them unjudged.
 */
const TARGET_EVENTS = 10_000_000;
/** The dashboard asks again every 60 s while visible (Dashboard.svelte): refreshes in 30 days. */
const REFRESHES_PER_MONTH = 30 * 24 * 60;

/**
 * One request's figure: p95 with its p50 and rows read, beside the empty project's p50. A refusal
 * (`too_expensive`) is short of the target: the panel shows an error instead of numbers.
 */
export function requestFigure(group: string, id: string, measured: Measured, repeats: number): Figure {
  const sorted = [...measured.times].sort((a, b) => a - b);
  const p95 = measured.error ? null : percentile(sorted, 95);
  const samples = sorted.length < repeats ? `, ${sorted.length} of ${repeats} samples` : '';
  const rows = measured.rowsRead === null ? '' : `, ${formatNumber(measured.rowsRead)} rows read`;
  const note = measured.skipped
    ? 'not measured: out of time'
    : measured.error
      ? `${measured.error}${rows}`
      : `p50 ${formatNumber(percentile(sorted, 50), 'ms')}${rows}${samples}`;
  return {
    id: `${id}.${measured.name}`,
    group,
    label: `${measured.name}${measured.onLoad ? '' : ' (tab)'}, p95`,
    value: p95,
    unit: 'ms',
    reference: { label: 'empty project', value: measured.floorMs, unit: 'ms' },
    target: {
      text: `≤ ${P95_TARGET_MS} ms`,
      pass: measured.error ? false : p95 === null ? null : p95 <= P95_TARGET_MS,
    },
    note,
  };
}

/**
 * Rows read by the requests the page sends when it opens — refused ones included, D1 bills what
 * they read — or null when one of them was not run; and how many were refused.
 */
function loadRows(measured: readonly Measured[]): {
  rows: number | null;
  requests: number;
  note?: string;
  refused: boolean;
} {
  const load = measured.filter((m) => m.onLoad);
  const unmeasured = load.filter((m) => m.rowsRead === null);
  const refused = load.filter((m) => m.error);
  const first = (list: Measured[]) => `${list[0]?.name}: ${list[0]?.error ?? 'not measured (out of time)'}`;
  const notes = [
    unmeasured.length ? `${unmeasured.length} of ${load.length} requests not measured (${first(unmeasured)})` : '',
    refused.length ? `${refused.length} of ${load.length} refused (${first(refused)})` : '',
  ].filter(Boolean);
  return {
    rows: unmeasured.length ? null : load.reduce((sum, m) => sum + (m.rowsRead ?? 0), 0),
    requests: load.length,
    refused: refused.length > 0,
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

/** A row target's verdict: held at {@link TARGET_EVENTS}; a load with refused panels is short at any size. */
function judged(events: number, pass: boolean | null, refused: boolean): { pass: boolean | null; note?: string } {
  if (refused) return { pass: false };
  if (events >= TARGET_EVENTS) return { pass };
  return { pass: null, note: `judged at ${formatNumber(TARGET_EVENTS)} events` };
}

/** D1 rows read by one full dashboard load, against the range's events. */
export function loadFigure(
  group: string,
  id: string,
  measured: readonly Measured[],
  rangeEvents: number,
  datasetEvents: number,
): Figure {
  const { rows, requests, note, refused } = loadRows(measured);
  const share = rows === null || rangeEvents === 0 ? null : (rows / rangeEvents) * 100;
  const verdict = judged(datasetEvents, share === null ? null : share <= LOAD_TARGET_PERCENT, refused);
  const notes = [note, verdict.note].filter(Boolean).join('; ');
  return {
    id: `${id}.load`,
    group,
    label: `D1 rows read per dashboard load (${requests} requests)`,
    value: rows,
    unit: 'rows',
    reference: { label: 'events in range', value: rangeEvents, unit: '' },
    ratio: { value: share, unit: '%' },
    target: { text: `≤ ${LOAD_TARGET_PERCENT}% of the range’s events`, pass: verdict.pass },
    ...(notes ? { note: notes } : {}),
  };
}

/**
 * What one tab left open on today costs a month: each refresh recomputes (a site with traffic
 * writes between two refreshes, and every write can change the answer), so it reads what a load
 * reads, {@link REFRESHES_PER_MONTH} times. The target is the load target's rows at the same price.
 */
export function openTabFigure(
  group: string,
  today: readonly Measured[],
  todayEvents: number,
  datasetEvents: number,
): Figure {
  const { rows, note, refused } = loadRows(today);
  const dollars = (perRefresh: number) => perRefresh * REFRESHES_PER_MONTH * PRICES.d1RowRead.usd;
  const target = dollars((todayEvents * LOAD_TARGET_PERCENT) / 100);
  const cost = rows === null ? null : dollars(rows);
  const verdict = judged(datasetEvents, cost === null ? null : cost <= target, refused);
  const price = `${formatNumber(REFRESHES_PER_MONTH)} refreshes × $${formatNumber(PRICES.d1RowRead.usd * 1e6)} per million rows read`;
  return {
    id: `${group}.openTab`,
    group,
    label: 'USD a month for one dashboard tab left open on today',
    value: cost,
    unit: 'USD',
    reference: { label: 'rows read per refresh', value: rows, unit: '' },
    target: {
      text: `≤ ${target.toPrecision(2)} USD (${LOAD_TARGET_PERCENT}% of today’s events a refresh)`,
      pass: verdict.pass,
    },
    note: [note, price, verdict.note].filter(Boolean).join('; '),
  };
}
