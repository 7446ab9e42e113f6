/**
 * The work budget of one stats request. Reads of rollups are small and bounded by the range; what
 * grows with traffic is reading raw events, so a request may scan at most a fixed number of them
 * (summed over every statement that scans a span: a span read by three statements counts three
 * times). Before any raw statement runs, its span's events are counted through the
 * `(project_id, ts)` index with a LIMIT just past what is left, so the count itself is bounded
 * too; a request that would pass the budget is refused with a 400 that says what to narrow,
 * never left to run into D1's 30 s statement limit or to hold a single-threaded database.
 */
import { ApiError } from '../shared/errors.ts';

/** A span of time, [start, end) in UTC ms. */
export type Span = readonly [start: number, end: number];

/**
 * Raw events one request may scan. Measured here, the slowest raw aggregation reads ~44k events
 * a second (bench, 1M events over 30 days), so a query or a funnel stays within ~12 s and far from
 * D1's 30 s per statement; an export (18 breakdowns of one range) gets four times as much.
 */
export const RAW_EVENT_BUDGET = { query: 500_000, funnel: 500_000, export: 2_000_000 } as const;

/**
 * One request's allowance of raw event scans.
 *
 * @example
 * ```ts
 * const budget = new RawBudget(env.DB, project.id, RAW_EVENT_BUDGET.query);
 * await budget.charge([[range.start, range.end]]); // before the raw statement runs; 400 when over
 * ```
 */
export class RawBudget {
  private used = 0;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly d1: D1Database,
    private readonly projectId: string,
    readonly limit: number,
  ) {}

  /** Raw events scanned so far. */
  get spent(): number {
    return this.used;
  }

  /**
   * Charge the scans of `spans` (one scan each; list a span twice for two statements that read
   * it). Spans counted before are not counted again. Throws the 400 when the total passes the limit.
   */
  async charge(spans: readonly Span[]): Promise<void> {
    if (!spans.length) return;
    const keyOf = ([start, end]: Span) => `${start}:${end}`;
    const unknown = [...new Map(spans.filter((span) => !this.counts.has(keyOf(span))).map((s) => [keyOf(s), s]))];
    if (unknown.length) {
      // At most limit + 1 index entries per span: enough to know it is over.
      const cap = this.limit - this.used + 1;
      const answers = await this.d1.batch<{ n: number }>(
        unknown.map(([, [start, end]]) =>
          this.d1
            .prepare(
              'SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE project_id = ? AND ts >= ? AND ts < ? LIMIT ?)',
            )
            .bind(this.projectId, start, end, Math.max(cap, 1)),
        ),
      );
      for (const [index, [key]] of unknown.entries()) this.counts.set(key, answers[index]?.results[0]?.n ?? 0);
    }
    const total = spans.reduce((sum, span) => sum + (this.counts.get(keyOf(span)) ?? 0), 0);
    if (this.used + total > this.limit) {
      const message =
        `This question would read more than ${this.limit.toLocaleString('en-US')} raw events; ` +
        'narrow the date range, or remove filters, property or multi-dimension breakdowns (those are read raw)';
      throw new ApiError(400, 'too_expensive', message, [{ path: ['date_range'], message }]);
    }
    this.used += total;
  }
}
