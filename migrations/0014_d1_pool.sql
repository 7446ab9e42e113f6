CREATE TABLE `project_fences` (
	`project_id` text PRIMARY KEY NOT NULL,
	`since` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `project_moves` (
	`project_id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`target` text NOT NULL,
	`step` text NOT NULL,
	`table_index` integer DEFAULT 0 NOT NULL,
	`cursor` text,
	`checks` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `database` text DEFAULT 'DB' NOT NULL;--> statement-breakpoint
-- Hand-written (drizzle cannot declare triggers): a fenced project's data-plane rows are refused in
-- the writer's own transaction, so a write routed by a map read before a move's switch fails and is
-- retried instead of landing in the database the project left (worker/src/store/move.ts).
CREATE TRIGGER `events_fence` BEFORE INSERT ON `events`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `rollup_dirty_fence` BEFORE INSERT ON `rollup_dirty`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;--> statement-breakpoint
CREATE TRIGGER `drop_counts_fence` BEFORE INSERT ON `drop_counts`
WHEN EXISTS (SELECT 1 FROM `project_fences` WHERE `project_id` = NEW.`project_id`)
BEGIN SELECT RAISE(ABORT, 'tally: project moving'); END;
