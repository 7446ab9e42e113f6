CREATE TABLE `archive_skipped` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`rows` integer NOT NULL,
	`skipped_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`)
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `archive_hot_days` integer;