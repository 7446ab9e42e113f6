/**
 * The store: the only code that writes events and their freshness marks, re-marks hours, bumps
 * versions, moves old days to the R2 archive and deletes a project's data. `query/`, `rollup/`, `pipeline/` and `projects/` depend
 * on it; it depends on none of them. Its contract is in ARCHITECTURE.md ("The store").
 */
export { DATA_TABLES, deleteProject, PROJECT_TABLES, resetProjectData } from './delete.ts';
export { markStaleDays, purgeCutoffStatement } from './history.ts';
export { continueMoves, type MoveProgress, moveProject, type MoveStep } from './move.ts';
export {
  ARCHIVE_LAYOUT,
  ARCHIVE_MAX_ROWS,
  type ArchiveProject,
  ArchiveRefused,
  archiveKey,
  archivedDay,
  bounds,
  type DayArchive,
  DayTooBig,
  deleteArchivedRows,
  verifyDayArchive,
  type WrittenDay,
  writeDayArchive,
} from './archive.ts';
export { commitDayArchive, dayReady, skippedDays, skipTooBigDay } from './archive-commit.ts';
export {
  type ArchiveLease,
  claimArchiveLease,
  LEASE_MS,
  releaseArchiveLease,
  rememberRefusal,
} from './archive-lease.ts';
export { type ArchivePool, archivedDaysBetween, purgeExpiredArchives, purgePoolArchives } from './archive-objects.ts';
export { eventProblem, insertEventStatements, type PendingEvent, type StoredEvent } from './events.ts';
export {
  bumpVersionsStatement,
  daysOfHour,
  dirtyDaysOfMark,
  type Freshness,
  freshnessStatements,
  type HourMark,
  hourlyRolledThrough,
  MARK_EVENT_HOURS_SQL,
  markAllEventHoursStatement,
  MARK_SPAN_HOURS_SQL,
  markSpanHoursSqlText,
  type Marks,
  markedDays,
  staleBefore,
  isComplete,
  oldestMarksStatement,
  recentlyMarkedProjectsStatement,
  readFreshness,
  remarkEventHoursStatements,
  settleMarksStatements,
} from './freshness.ts';
export {
  CONTROL_DATABASE,
  databaseOf,
  databasesOf,
  pickDatabase,
  poolDatabase,
  poolNames,
  type ProjectDatabases,
  type ProjectSettings,
  projectDatabases,
  projectDb,
  projectSettings,
  projectsMovingInto,
} from './pool.ts';
export {
  FAULT_FRESH_MS,
  recentStoreFaults,
  reportD1Fault,
  reportD1Recovered,
  type StoreFault,
} from './faults.ts';
