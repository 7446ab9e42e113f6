ALTER TABLE `project_moves` ADD `lease_until` integer;--> statement-breakpoint
-- Hand-written (drizzle cannot declare triggers): the fence of migration 0014 also refuses the cron's
-- writes of a fenced project's rollups (filtered ones too), hourly rows, rolled hours and days,
-- rollup state and marks, and the archive's records of archived and skipped days, in the writer's
-- own transaction. The rollup job, the retention purge and the archive skip fenced and moving
-- projects, but a run that read its work list before a move began would otherwise write into the
-- source after its rows were copied (worker/src/store/move.ts). Deleting is not refused: a move
-- clears the source's rows with the fence still up.
CREATE TRIGGER `rollups_fence` BEFORE INSERT ON `rollups`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rollup_hours_fence` BEFORE INSERT ON `rollup_hours`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rolled_hours_fence` BEFORE INSERT ON `rolled_hours`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rolled_days_fence` BEFORE INSERT ON `rolled_days`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rollup_state_fence` BEFORE INSERT ON `rollup_state`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rollup_state_update_fence` BEFORE UPDATE ON `rollup_state`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = OLD.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rollup_dirty_update_fence` BEFORE UPDATE ON `rollup_dirty`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = OLD.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;;--> statement-breakpoint
CREATE TRIGGER `pair_rollups_fence` BEFORE INSERT ON `pair_rollups`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `archived_days_fence` BEFORE INSERT ON `archived_days`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `archive_skipped_fence` BEFORE INSERT ON `archive_skipped`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;
