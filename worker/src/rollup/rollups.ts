/**
 * Rollups: for each closed local day of a project, the stats API's numbers per dimension value,
 * computed by the very SQL that answers queries over raw events (`query/sql.ts`), so that a day
 * read from rollups and the same day read raw are equal by construction.
 *
 * Which days need rolling up is what the consumer marks: the UTC hours that received events
 * (`rollup_dirty`). Each run takes the oldest marked hours, recomputes every closed local day they
 * touch (`DELETE` + `INSERT … SELECT` in one transaction: idempotent, safe to run twice or
 * concurrently), and clears a mark only if no event was written to its hour since it was read.
 * The open day is never rolled up here; its closed hours are, one by one (`hours.ts`).
 */
import { type Dimension, ROLLED_DIMENSIONS } from '@tally/sdk/catalog';
import {
  bumpVersionsStatement,
  dirtyDaysOfMark,
  type HourMark,
  isComplete,
  MARK_SPAN_HOURS_SQL,
  markStaleDays,
  oldestMarksStatement,
  poolDatabase,
  poolNames,
  type ProjectDatabases,
  projectSettings,
  projectsMovingInto,
  recentlyMarkedProjectsStatement,
  settleMarksStatements,
  skippedDays,
} from '../store/index.ts';
import { dayBounds, formatDate, type LocalDate, localDate, parseDate } from '../shared/calendar.ts';
import { EVENT_GROUPINGS, groupingCaseSql, VISIT_GROUPINGS } from '../stats/segment-sql.ts';
import { EVENT_METRICS, ROLLUP_INSERT, rollupMetricsSql } from '../stats/metric-sql.ts';
import { GOAL_DIMENSION, type RollupGoal } from '../stats/goal-keys.ts';
import { goalDaySql, goalsOf } from './goal-rollups.ts';
import { FUNNEL_DIMENSION, funnelDaySql, type RollupFunnel } from '../stats/funnel-sql.ts';
import { PAIR_BUCKET_EVENTS_MAX, pairBuckets, pairDayStatements } from './pair-rollups.ts';
import { dayHead } from './day-head.ts';
import {
  compactDayStatements,
  deleteDayHoursStatements,
  HOUR_GRACE_MS,
  rolledDayStatement,
  rollUpDayHours,
  rollUpOpenDay,
} from './hours.ts';

/** The breakdown dimensions rolled up per day: the catalog's rolled dimensions. */
export const ROLLUP_DIMENSIONS: readonly Dimension[] = ROLLED_DIMENSIONS;
export type RollupDimension = (typeof ROLLED_DIMENSIONS)[number];

/** Marked hours read per run, oldest first (so that the open day's hours never starve old ones). */
const MARKS_PER_RUN = 2_000;
/** Days rolled up with an older catalog marked again per run (each is one day's work for the job). */
const STALE_DAYS_PER_RUN = 20;

/** The project facts a rollup needs. */
export interface RollupProject {
  id: string;
  timezone: string;
  currency: string;
}

/** What one run did. */
export interface RollupResult {
  /** Project days recomputed. */
  days: number;
  /** Marks cleared. */
  cleared: number;
  /** The budget ran out with closed days still marked: the next run carries on. */
  exhausted: boolean;
  /** Closed hours of open days rolled up (`hours.ts`). */
  hours: number;
}

/** Every `dimension` a day's rollup writes, as the JSON list its DELETE binds. */
const ROLLED_GROUPINGS = JSON.stringify([
  ...new Set([...VISIT_GROUPINGS, ...EVENT_GROUPINGS, GOAL_DIMENSION, FUNNEL_DIMENSION]),
]);

/**
 * The statements that write one local day's rollups (after its old rows are deleted): one for
 * the visit dimensions, one for the event dimensions, each reading the day's events once.
 *
 * They give what a raw query over the day gives (`stats/sql.ts`, held to it by the oracle
 * tests), from the same metric SQL (`stats/metric-sql.ts`), computed the cheap way that a visit
 * inside one local day allows: a visit's entry values, visitor, bounce and duration are the same
 * on all its events, so visit dimensions group one row per visit; event dimensions group per
 * (value, visit) and then per value.
 * NOTE: D1 refuses compound SELECTs of many terms, so the groupings are rows of a cross join
 * with a JSON list, not a UNION ALL; and each statement must finish within D1's query time limit.
 */
export function rollupDaySql(project: RollupProject, day: LocalDate): { sql: string; params: unknown[] }[] {
  const head = dayHead(project, day);
  const label = formatDate(day);
  const byVisit = `${head}
${ROLLUP_INSERT}
SELECT ?, ?, v.grouping, json_quote(v.value), ${rollupMetricsSql('v', 'v')}
FROM (SELECT *, ${groupingCaseSql(VISIT_GROUPINGS)} AS value
  FROM (SELECT visits.*, g.value AS grouping FROM visits CROSS JOIN json_each(?) AS g)) AS v
GROUP BY v.grouping, v.value`;
  const byEvent = `${head},
per_visit AS (
  SELECT grouping, ${groupingCaseSql(EVENT_GROUPINGS.slice(1))} AS value, session_id, ${EVENT_METRICS}
  FROM (SELECT day_events.*, g.value AS grouping FROM day_events CROSS JOIN json_each(?) AS g)
  GROUP BY grouping, value, session_id
)
${ROLLUP_INSERT}
SELECT ?, ?, p.grouping, json_quote(p.value), ${rollupMetricsSql('v', 'p')}
FROM per_visit p JOIN visits v ON v.session_id = p.session_id
GROUP BY p.grouping, p.value`;
  const base = [project.currency, project.id];
  return [
    { sql: byVisit, params: [...base, project.id, label, JSON.stringify(VISIT_GROUPINGS)] },
    { sql: byEvent, params: [...base, JSON.stringify(EVENT_GROUPINGS), project.id, label] },
  ];
}

/** A project's goals with the keys of their rollup rows. */
export type KeyedGoal = RollupGoal & { key: string };
/** A project's funnels with the keys of their rollup rows. */
export type KeyedFunnel = RollupFunnel & { key: string };

/**
 * Statements that replace one day's rollups, in one batch (one transaction): its totals, hours and
 * breakdowns, one row per goal (`goal-rollups.ts`) and one per funnel step (`stats/funnel-sql.ts`),
 * and its filtered rows (`pair-rollups.ts`);
 * `dayPaths` are the day's distinct pageview paths, which pageview goals and steps are matched against.
 */
export function replaceDayStatements(
  d1: D1Database,
  project: RollupProject,
  day: LocalDate,
  goals: { list: readonly KeyedGoal[]; funnels?: readonly KeyedFunnel[]; dayPaths: readonly string[] } = {
    list: [],
    dayPaths: [],
  },
  /** The visitor buckets its filtered rows are rolled in (`pairBuckets` of its events). */
  buckets = 1,
): D1PreparedStatement[] {
  const bounds = { label: formatDate(day), ...dayBounds(day, project.timezone) };
  const goalRows = [
    ...(goals.list.length ? [goalDaySql(project, day, goals.list, goals.dayPaths)] : []),
    ...(goals.funnels ?? []).map((funnel) => funnelDaySql(project, bounds, funnel, goals.dayPaths)),
  ];
  return [
    // Naming the dimensions lets SQLite seek (project_id, dimension, day) in the primary key
    // instead of reading every rollup row the project has ever had.
    d1
      .prepare(
        'DELETE FROM rollups WHERE project_id = ?1 AND dimension IN (SELECT value FROM json_each(?3)) AND day = ?2',
      )
      .bind(project.id, formatDate(day), ROLLED_GROUPINGS),
    ...[...rollupDaySql(project, day), ...goalRows].map(({ sql, params }) => d1.prepare(sql).bind(...params)),
    ...pairDayStatements(d1, project, day, buckets, goals),
    rolledDayStatement(d1, project.id, formatDate(day)),
  ];
}

type Mark = HourMark;

const HOUR_MS = 3_600_000;

/**
 * Events past which a closed day is rolled again hour by hour rather than whole: its whole-day
 * statements read ~28 µs an event in Node (a 330k-event day's longest, 7.1 s; a 3M-event day's,
 * 83 s), workerd about twice that, so 500k stays well within D1's 30 s.
 */
export const HOURLY_FROM_EVENTS = 500_000;

/** How many events a local day holds, counted over the `(project_id, ts)` index no further than buckets need. */
async function dayEvents(d1: D1Database, project: RollupProject, day: LocalDate): Promise<number> {
  const { start, end } = dayBounds(day, project.timezone);
  const row = await d1
    .prepare(
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE project_id = ? AND ts >= ? AND ts < ? LIMIT ${PAIR_BUCKET_EVENTS_MAX})`,
    )
    .bind(project.id, start, end)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Roll up the closed days that marked hours touch, oldest first, within a budget of days and of
 * wall time (each day is one transaction; what is left stays marked for the next run), in every
 * database of the pool: each gets an equal share of the budget, so a backlog in one cannot starve
 * the others.
 *
 * @example
 * ```ts
 * await rollUp(env, scheduledTime); // in the cron: bounded, resumes next run
 * ```
 */
export async function rollUp(
  env: Env,
  now: number,
  budget: { days: number; ms: number; hourlyFrom?: number } = { days: 40, ms: 20_000 },
): Promise<RollupResult> {
  const names = poolNames(env);
  const share = {
    days: Math.ceil(budget.days / names.length),
    ms: budget.ms / names.length,
    hourlyFrom: budget.hourlyFrom ?? HOURLY_FROM_EVENTS,
  };
  const total: RollupResult = { days: 0, cleared: 0, exhausted: false, hours: 0 };
  for (const name of names) {
    const run = await rollUpDatabase(env, name, now, share);
    total.days += run.days;
    total.cleared += run.cleared;
    total.hours += run.hours;
    total.exhausted ||= run.exhausted;
  }
  return total;
}

/** {@link rollUp} in one pool database; the projects' settings and goals come from the control database. */
async function rollUpDatabase(
  env: Env,
  name: string,
  now: number,
  budget: { days: number; ms: number; hourlyFrom: number },
): Promise<RollupResult> {
  const dbs: ProjectDatabases = { control: env.DB, data: poolDatabase(env, name) };
  const d1 = dbs.data;
  const settingsOf = (ids: string[]) => projectSettings(env, name, ids);
  const started = Date.now();
  const deadline = started + budget.ms;
  // A project being copied here is left out of the bounded reads below: its copied rows would
  // take the places of this database's own projects until the switch.
  const movingIn = await projectsMovingInto(env, name);
  // Days rolled up before a dimension was added are marked again (a few a run) while complete.
  await markStaleDays(d1, STALE_DAYS_PER_RUN, settingsOf, movingIn);
  const { results: stored } = await oldestMarksStatement(d1, MARKS_PER_RUN, movingIn).all<
    Omit<Mark, 'timezone' | 'currency'>
  >();
  // Marks of a project this database does not hold (deleted, moved or moving) are not rolled up.
  const settings = await settingsOf(stored.map((mark) => mark.projectId));
  const marks = stored.flatMap((mark) => {
    const project = settings.get(mark.projectId);
    return project ? [{ ...mark, timezone: project.timezone, currency: project.currency }] : [];
  });
  const result: RollupResult = { days: 0, cleared: 0, exhausted: false, hours: 0 };

  // Per project, the closed days its marks touch (oldest first) and the marks touching each.
  const byProject = new Map<
    string,
    { project: RollupProject; rawFrom: number | null; days: Map<string, Mark[]>; marks: Mark[] }
  >();
  for (const mark of marks) {
    const entry = byProject.get(mark.projectId) ?? {
      project: { id: mark.projectId, timezone: mark.timezone, currency: mark.currency },
      rawFrom: mark.rawFrom,
      days: new Map<string, Mark[]>(),
      marks: [],
    };
    byProject.set(mark.projectId, entry);
    entry.marks.push(mark);
    for (const day of dirtyDaysOfMark(mark, mark.timezone)) entry.days.set(day, [...(entry.days.get(day) ?? []), mark]);
  }

  for (const { project, rawFrom, days } of byProject.values()) {
    const today = formatDate(localDate(now, project.timezone));
    const rolled = new Set<string>();
    // Days before `raw_from` that the archive skipped as too big still have all their raw events.
    const before = [...days.keys()].filter((label) => !isComplete(label, project.timezone, rawFrom));
    const retentionDays = settings.get(project.id)?.retentionDays ?? 0;
    const skipped = before.length
      ? await skippedDays(d1, { id: project.id, retentionDays }, before, now)
      : new Set<string>();
    // Read once per project and run: a goal changed since then marked its hours again, so a day
    // rolled with the old definition stays marked (and its rows' key is the old one).
    let goals: Awaited<ReturnType<typeof goalsOf>> | null = null;
    for (const [label, dayMarks] of [...days].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (label >= today) continue;
      if (result.days >= budget.days || Date.now() - started >= budget.ms) {
        result.exhausted = true;
        return result;
      }
      const day = parseDate(label) as LocalDate;
      const complete = isComplete(label, project.timezone, rawFrom) || skipped.has(label);
      // A day rolled hour by hour while it was open (`rolled_hours`): its remaining hours too, and
      // then its rollups are their sum, so no statement reads more than an hour's visitors. Until
      // its last hour can be rolled (`HOUR_GRACE_MS`), it waits, marked.
      const hourly = complete
        ? await rollUpDayHours(dbs, project, day, now - HOUR_GRACE_MS, deadline, { onlyIfStarted: true })
        : null;
      if (hourly?.started && !hourly.complete) continue;
      // Read before the batch: an event written to the day since then marks its hour, so the
      // day's mark is not cleared and it is rolled again.
      const events = complete ? await dayEvents(d1, project, day) : 0;
      // A big day not rolled hour by hour is rolled again that way (a late event, a goal or
      // catalog change): its whole-day statements would each read all of it, past D1's 30 s (a
      // 3M-event day's took 83 s in Node). Every hour of it with events is marked first, and it is
      // closed in a later run, whose marks are those (this run's would not be cleared).
      // NOTE: only a day whose midnights fall on whole UTC hours. Where a midnight cuts an hour
      // (Asia/Kathmandu), that hour's mark is cleared only by a run that rolls both its days, and
      // a day closed from its hours in one run and its neighbour in the next would be marked again
      // for ever: such a day is still rolled whole.
      const { start, end } = dayBounds(day, project.timezone);
      if (complete && !hourly?.started && events > budget.hourlyFrom && start % HOUR_MS === 0 && end % HOUR_MS === 0) {
        await d1.prepare(MARK_SPAN_HOURS_SQL).bind(project.id, start, end).run();
        await rollUpDayHours(dbs, project, day, now - HOUR_GRACE_MS, deadline);
        continue;
      }
      rolled.add(label);
      // A mark is cleared once every day its hour touches is rolled up, and only if unchanged.
      // An hour that today also touches (a midnight at :30 or :45) stays marked for today, but
      // records that its closed day is done, so that day is neither read raw nor rolled again.
      const dirty = (mark: Mark) => dirtyDaysOfMark(mark, project.timezone);
      const done = dayMarks.filter((mark) => dirty(mark).every((d) => rolled.has(d)));
      const settled = dayMarks.filter(
        (mark) => !done.includes(mark) && dirty(mark).every((d) => rolled.has(d) || d >= today),
      );
      // A day the retention purge cut into keeps the rollups it has: recomputing it would count
      // only what is left of it. Its marks are settled all the same.
      const compact = hourly?.started === true;
      // A compacted day's goal rows come from its hours, its filtered goal rows from its events.
      goals ??= complete ? await goalsOf(dbs, project) : null;
      const buckets = complete ? pairBuckets(events) : 1;
      const dayPaths = complete && goals ? await goals.dayPaths(day) : [];
      // Filtered rows are never hourly: a day compacted from its hours gets them from its events.
      const replace = !(complete && goals)
        ? []
        : compact
          ? [
              ...compactDayStatements(d1, project.id, label, ROLLED_GROUPINGS),
              ...pairDayStatements(d1, project, day, buckets, { list: goals.list, funnels: goals.funnels, dayPaths }),
            ]
          : replaceDayStatements(d1, project, day, { list: goals.list, funnels: goals.funnels, dayPaths }, buckets);
      // The day's hourly rows, if it was rolled hour by hour while open: its daily rows replace them.
      const forget = deleteDayHoursStatements(d1, project.id, label);
      const answers = await d1.batch([
        ...replace,
        ...forget,
        ...settleMarksStatements(d1, project.id, done, settled),
        bumpVersionsStatement(d1, [project.id], now),
      ]);
      result.days += 1;
      const settledFrom = replace.length + forget.length;
      result.cleared += answers
        .slice(settledFrom, settledFrom + done.length)
        .reduce((sum, answer) => sum + answer.meta.changes, 0);
    }
  }
  // The open days' closed hours, once the closed days are done: every project with recent marks,
  // not only those among the oldest marks read above.
  const { results: recent } = await recentlyMarkedProjectsStatement(d1, now).all<{
    id: string;
    rawFrom: number | null;
  }>();
  const recentSettings = await settingsOf(recent.map((project) => project.id));
  for (const { id, rawFrom } of recent) {
    const project = recentSettings.get(id);
    if (!project) continue;
    if (Date.now() > deadline) break;
    result.hours += await rollUpOpenDay(dbs, { ...project, rawFrom }, now, deadline);
  }
  return result;
}

/** Every closed day that is still marked, rolled up however many runs it takes (tests, the demo seed). */
export async function rollUpAll(env: Env, now: number): Promise<number> {
  let days = 0;
  for (;;) {
    const run = await rollUp(env, now, { days: 1_000, ms: Number.POSITIVE_INFINITY });
    days += run.days;
    if (!run.exhausted && run.days === 0) return days;
  }
}
