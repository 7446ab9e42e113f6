CREATE TABLE `archived_days` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`key` text NOT NULL,
	`rows` integer NOT NULL,
	`checksum` text NOT NULL,
	`bytes` integer NOT NULL,
	`archived_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`)
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `archive_after_days` integer DEFAULT 62 NOT NULL;