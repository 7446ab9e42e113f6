/**
 * Figures and how they are shown: each measured value beside its reference from the same run,
 * the ratio of the two, the target it is held to, and a pass/short mark. The same figures go to
 * the terminal, to `bench/results.json`, and (as Markdown) to the README's Benchmarks section.
 */

/** How a figure is held to its target. */
export interface Target {
  /** As printed: `≥ 0.5× hello-world`, `≤ 50 ms`. */
  text: string;
  /** Whether the figure meets it; null when it could not be measured. */
  pass: boolean | null;
}

/** One measured figure. */
export interface Figure {
  id: string;
  /** The group it is listed under (Ingest, Drain, Queries 1M, …). */
  group: string;
  label: string;
  value: number | null;
  unit: string;
  reference?: { label: string; value: number | null; unit: string };
  /** The ratio the target speaks about, already oriented (e.g. raw ÷ rollups for a speed-up). */
  ratio?: { value: number | null; unit: '×' | '%' };
  target?: Target;
  /** Why a value is missing or how it was obtained (`n/a (not built)`, `estimated`, …). */
  note?: string;
}

/** An event count as the groups name it: 100k, 1M, 10M. */
export function formatSize(size: number): string {
  return size >= 1e6 ? `${+(size / 1e6).toFixed(1)}M` : `${+(size / 1e3).toFixed(0)}k`;
}

/** A number for a table cell: thousands separated, few digits. */
export function formatNumber(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

function ratioText(ratio: Figure['ratio']): string {
  if (!ratio) return '';
  if (ratio.value === null || !Number.isFinite(ratio.value)) return 'n/a';
  return ratio.unit === '%' ? `${formatNumber(ratio.value)}%` : `${formatNumber(ratio.value)}×`;
}

/** The mark of a figure: pass, short, or nothing to judge. */
export function mark(figure: Figure): string {
  if (!figure.target) return '';
  if (figure.target.pass === null) return 'n/a';
  return figure.target.pass ? 'pass' : 'SHORT';
}

/** A note on one line, cut to `length` characters (the closing note and results.json keep more). */
export function shortNote(note: string, length = 70): string {
  const line = note.replace(/\s+/g, ' ').trim();
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}

/** Table rows: Figure | Measured | Reference | Ratio | Target | Mark. */
function rows(figures: readonly Figure[]): string[][] {
  return figures.map((f) => [
    `${f.group}: ${f.label}`,
    f.value === null && f.note
      ? shortNote(f.note)
      : formatNumber(f.value, f.unit) + (f.note && f.value !== null ? ` (${shortNote(f.note)})` : ''),
    f.reference ? `${f.reference.label} ${formatNumber(f.reference.value, f.reference.unit)}` : '',
    ratioText(f.ratio),
    f.target?.text ?? '',
    mark(f),
  ]);
}

const HEADER = ['Figure', 'Measured', 'Reference (same run)', 'Ratio', 'Target', 'Mark'];

/** The table for a terminal: padded columns. */
export function textTable(figures: readonly Figure[]): string {
  const body = rows(figures);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  return [line(HEADER), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The table as Markdown (for the README). */
export function markdownTable(figures: readonly Figure[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows(figures).map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

/** The closing note: every target that is short, with the reason the run measured. */
export function shortfalls(figures: readonly Figure[]): string[] {
  return figures
    .filter((f) => f.target && f.target.pass !== true)
    .map((f) => {
      const measured = f.value === null ? (f.note ?? 'not measured') : formatNumber(f.value, f.unit);
      const ratio = f.ratio ? `, ratio ${ratioText(f.ratio)}` : '';
      const why = f.note && f.value !== null ? ` — ${f.note}` : '';
      return shortNote(`${f.group}: ${f.label} is ${measured}${ratio}; target ${f.target?.text}${why}`, 400);
    });
}

/** Percentile of a sorted list (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** A ratio, or null when either side is missing or the divisor is zero. */
export function ratioOf(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator === 0) return null;
  return numerator / denominator;
}
