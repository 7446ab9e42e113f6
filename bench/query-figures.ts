/**
 * The figures of one data size in the query benchmark: p50/p95 with rollups beside raw scans,
 * D1 rows read against the range's events, and how fast the cron rolled up.
 */
import { DASHBOARD_QUERIES, type Pass, type Rollup } from './query-passes.ts';
import { type Figure, percentile, ratioOf } from './report.ts';

/** 100k, 1M, 10M. */
export function formatSize(size: number): string {
  return size >= 1e6 ? `${+(size / 1e6).toFixed(1)}M` : `${+(size / 1e3).toFixed(0)}k`;
}

/** The figures of one size. Targets are the issue's, held at the largest size of the run. */
export function sizeFigures(
  group: string,
  events: number,
  raw: Pass | null,
  rolled: Pass | null,
  rollup: Rollup | null,
  largest: boolean,
  missing?: string,
  smaller?: { size: number; rawPass: Pass } | null,
): Figure[] {
  const sorted = (pass: Pass | null) => (pass ? [...pass.times.values()].flat().sort((a, b) => a - b) : []);
  const rolledTimes = sorted(rolled);
  let rawTimes = sorted(raw);
  let rawNote: string | undefined;
  if (raw && smaller && raw.skipped.length) {
    // Some raw queries did not fit: scale the smaller size's raw times by what the measured ones grew.
    // With none measured, assume raw time grows in proportion to the events: rows read do (every
    // raw query reads the range's events a fixed number of times), and sorting grows faster, so
    // the estimate flatters raw scans and understates the speed-up.
    const growth = [...raw.times]
      .map(([name, [t]]) => (t ?? 0) / (smaller.rawPass.times.get(name)?.[0] ?? Number.NaN))
      .filter(Number.isFinite);
    const scale = growth.length ? growth.reduce((a, b) => a + b, 0) / growth.length : events / smaller.size;
    rawTimes = sorted(smaller.rawPass).map((t) => t * scale);
    rawNote = growth.length
      ? `raw estimated: ${raw.times.size} of ${DASHBOARD_QUERIES.length} raw queries run, the rest scaled ×${scale.toFixed(1)} from ${formatSize(smaller.size)}`
      : `raw estimated: not run for time, ${formatSize(smaller.size)}'s raw times × ${scale.toFixed(0)} (events ratio)`;
  } else if (raw?.skipped.length) {
    rawNote = `raw: ${raw.times.size} of ${DASHBOARD_QUERIES.length} queries run (out of time)`;
  }
  const p = (times: number[], q: number) => (times.length ? percentile(times, q) : null);
  const speedup95 = ratioOf(p(rawTimes, 95), p(rolledTimes, 95));
  const maxRows = rolled?.rows.size ? Math.max(...rolled.rows.values()) : null;
  const maxRawRows = raw?.rows.size ? Math.max(...raw.rows.values()) : null;
  const rowShare = maxRows === null ? null : (maxRows / events) * 100;
  const p95 = p(rolledTimes, 95);
  const judge = (pass: boolean | null) => (largest ? pass : undefined);
  const target = (text: string, pass: boolean | null) => {
    const verdict = judge(pass);
    return verdict === undefined ? undefined : { text, pass: verdict };
  };
  const failed = [raw, rolled].flatMap((pass) => (pass ? [...pass.errors] : []));
  const note =
    missing ??
    ([
      rollup?.left ? `${rollup.left} marked hours not rolled up${rollup.failure ? `: ${rollup.failure}` : ''}` : '',
      failed.length ? `${failed.length} queries failed (${failed[0]?.[0]}: ${failed[0]?.[1]})` : '',
    ]
      .filter(Boolean)
      .join('; ') ||
      undefined);
  const withTarget = <T extends Figure>(figure: T, t: Figure['target']): T => (t ? { ...figure, target: t } : figure);
  return [
    withTarget(
      {
        id: `${group}.p95`,
        group,
        label: 'dashboard queries, p95 with rollups',
        value: p95,
        unit: 'ms',
        reference: { label: 'raw', value: p(rawTimes, 95), unit: 'ms' },
        ratio: { value: speedup95, unit: '×' },
        note: [note, rawNote].filter(Boolean).join('; ') || undefined,
      },
      target(
        '≤ 50 ms and ≥ 20× faster than raw',
        p95 === null || speedup95 === null ? null : p95 <= 50 && speedup95 >= 20,
      ),
    ),
    {
      id: `${group}.p50`,
      group,
      label: 'dashboard queries, p50 with rollups',
      value: p(rolledTimes, 50),
      unit: 'ms',
      reference: { label: 'raw', value: p(rawTimes, 50), unit: 'ms' },
      ratio: { value: ratioOf(p(rawTimes, 50), p(rolledTimes, 50)), unit: '×' },
    },
    withTarget(
      {
        id: `${group}.rows`,
        group,
        label: 'D1 rows read, worst query, with rollups',
        value: maxRows,
        unit: 'rows',
        reference: { label: 'events in range', value: events, unit: '' },
        ratio: { value: rowShare, unit: '%' },
        // Rollup rows grow with distinct values per day, not with events: the share falls as data grows.
        note: missing ?? (largest && events < 10_000_000 ? 'the target is set for 10M events' : undefined),
      },
      target('≤ 1% of the range’s events', rowShare === null ? null : rowShare <= 1),
    ),
    {
      id: `${group}.rawrows`,
      group,
      label: 'D1 rows read, worst query, raw',
      value: maxRawRows,
      unit: 'rows',
      reference: { label: 'events in range', value: events, unit: '' },
      ratio: { value: maxRawRows === null ? null : (maxRawRows / events) * 100, unit: '%' },
      note: missing,
    },
    {
      id: `${group}.rollup`,
      group,
      label: 'cron rollup of 30 days, events/s',
      value: rollup && !rollup.left ? (events / rollup.ms) * 1000 : null,
      unit: 'events/s',
      note: rollup
        ? rollup.left
          ? `only ${rollup.total - rollup.left}/${rollup.total} marked hours rolled up in ${(rollup.ms / 1000).toFixed(0)} s${rollup.failure ? `: ${rollup.failure}` : ' (out of time)'}`
          : `${(rollup.ms / 1000).toFixed(1)} s in ${rollup.runs} cron runs`
        : missing,
    },
  ];
}
