/**
 * Where the `all` date range starts: the project's first local day with data. Data can be older
 * than the project row (imports, server-side events with past timestamps, a reset that kept
 * rollups), and raw events past retention are gone while their rollups stay, so the first day is
 * the earliest of the creation day, the first rolled-up day and the first stored event.
 */
import { type LocalDate, localDate, parseDate } from '../shared/calendar.ts';
import { type DateRangeSpec, type ResolvedRange, resolveDateRange } from './date-range.ts';

/** The project facts a date range needs. */
export interface RangeProject {
  id: string;
  timezone: string;
  createdAt: number;
}

/** The project's first local day with data, or its creation day if that is earlier. */
export async function firstDay(d1: D1Database, project: RangeProject): Promise<LocalDate> {
  // Both reads use a primary key or index prefix: (project_id, dimension) and (project_id, ts).
  const [rolled, raw] = await d1.batch<{ first: string | number | null }>([
    d1.prepare(`SELECT MIN(day) AS first FROM rollups WHERE project_id = ? AND dimension = ''`).bind(project.id),
    d1.prepare('SELECT MIN(ts) AS first FROM events WHERE project_id = ?').bind(project.id),
  ]);
  const days = [localDate(project.createdAt, project.timezone)];
  const firstRolled = rolled?.results[0]?.first;
  if (typeof firstRolled === 'string') days.push(parseDate(firstRolled) as LocalDate);
  const firstEvent = raw?.results[0]?.first;
  if (typeof firstEvent === 'number') days.push(localDate(firstEvent, project.timezone));
  return days.reduce((a, b) => (key(b) < key(a) ? b : a));
}

const key = (day: LocalDate) => day.year * 10_000 + day.month * 100 + day.day;

/**
 * Resolve a range for a project at `now`; only `all` reads D1 (for {@link firstDay}).
 *
 * @example
 * ```ts
 * const range = await resolveProjectRange(env.DB, project, 'all', Date.now());
 * ```
 */
export async function resolveProjectRange(
  d1: D1Database,
  project: RangeProject,
  spec: DateRangeSpec,
  now: number,
): Promise<ResolvedRange> {
  const first = spec === 'all' ? await firstDay(d1, project) : localDate(project.createdAt, project.timezone);
  return resolveDateRange(spec, project.timezone, now, first);
}
