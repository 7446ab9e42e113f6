/**
 * How the main chart draws its line, kept apart from `chart.ts` so that Chart.js stays out of the
 * page's first bundle (the chart loads it when it mounts).
 */
/**
 * The bucket still in progress (today, this week), to draw dashed as Plausible does: the last one
 * with a value, when the range reaches today; null otherwise.
 */
export function openBucket(current: readonly (number | null)[], includesToday: boolean): number | null {
  if (!includesToday) return null;
  for (let index = current.length - 1; index >= 0; index--) if (current[index] !== null) return index;
  return null;
}

/** A line segment's dash: dashed into the bucket in progress, solid elsewhere (Chart.js `segment`). */
export function segmentDash(open: number | null) {
  return (context: { p1DataIndex: number }): number[] | undefined =>
    open !== null && open > 0 && context.p1DataIndex === open ? [6, 4] : undefined;
}
