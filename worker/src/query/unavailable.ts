/**
 * What an answer cannot know, said rather than answered as zero (`meta.unavailable`, docs/STATS.md
 * "History"): days whose raw events a raw read needed are purged, days rolled up before a
 * dimension existed, days whose raw events were gone before a goal was defined.
 */
import { dimensionDefinition, type Unavailable } from '@tally/sdk/catalog';
import { addDays, firstInstantAt, formatDate, type LocalDate, localDate } from '../shared/calendar.ts';
import type { Goal } from '../stats/goals.ts';
import { type Freshness, isComplete } from '../store/index.ts';
import type { Span } from './budget.ts';
import type { Query } from './schema.ts';

/** The first local day that starts at or after `instant`: the first one whose raw events were all kept. */
function firstDayFrom(instant: number, timeZone: string): LocalDate {
  const day = localDate(instant, timeZone);
  return firstInstantAt(day, timeZone) < instant ? addDays(day, 1) : day;
}

/**
 * The days of a range for which part of the answer is not known (docs/STATS.md, "History"): raw
 * reads over days the retention purge cut into, dimensions newer than a day's rollups whose raw
 * events are gone, and goals defined after a day's raw events were gone.
 */
export function unavailableDays(
  query: Query,
  range: { from: LocalDate; to: LocalDate },
  timeZone: string,
  context: { freshness: Freshness; goals: Goal[] },
  scans: readonly Span[],
): Unavailable[] {
  const { freshness, goals } = context;
  const list: Unavailable[] = [];
  const [first, last] = [formatDate(range.from), formatDate(range.to)];
  /** The range's days before `day`, if any. */
  const before = (day: LocalDate) => {
    const end = formatDate(addDays(day, -1));
    // Day labels sort as text (four-digit years): the earlier of the two.
    return end < first ? null : { from: first, to: [end, last].sort()[0] as string };
  };
  if (freshness.rawFrom !== null) {
    const complete = firstDayFrom(freshness.rawFrom, timeZone);
    const cut = firstInstantAt(complete, timeZone);
    const days = before(complete);
    if (days && scans.some(([start]) => start < cut)) list.push({ ...days, reason: 'retention' });
  }
  const named = new Set([...query.dimensions, ...query.filters.map(([, dimension]) => dimension)]);
  for (const name of named) {
    const since = dimensionDefinition(name)?.since ?? 1;
    const lacking = [...freshness.stale]
      .filter(([day, version]) => version < since && day >= first && day <= last)
      .filter(([day]) => !isComplete(day, timeZone, freshness.rawFrom))
      .map(([day]) => day)
      .sort();
    if (lacking.length)
      list.push({ from: lacking[0] as string, to: lacking[lacking.length - 1] as string, reason: 'dimension', name });
  }
  if (named.has('event:goal')) {
    const asked = query.filters.flatMap(([, dimension, values]) => (dimension === 'event:goal' ? values : []));
    for (const goal of goals) {
      if (goal.historyFrom === null || (asked.length && !asked.includes(goal.name))) continue;
      const days = before(firstDayFrom(goal.historyFrom, timeZone));
      if (days) list.push({ ...days, reason: 'goal', name: goal.name });
    }
  }
  return list;
}
