CREATE TABLE `rollup_dirty` (
	`project_id` text NOT NULL,
	`hour` integer NOT NULL,
	`mark` integer DEFAULT 1 NOT NULL,
	PRIMARY KEY(`project_id`, `hour`)
);
--> statement-breakpoint
CREATE TABLE `rollup_state` (
	`project_id` text PRIMARY KEY NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollups` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`dimension` text NOT NULL,
	`value` text NOT NULL,
	`visitors` integer NOT NULL,
	`visits` integer NOT NULL,
	`pageviews` integer NOT NULL,
	`events` integer NOT NULL,
	`bounces` integer NOT NULL,
	`duration` integer NOT NULL,
	`revenue` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `dimension`, `day`, `value`)
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `currency` text DEFAULT 'USD' NOT NULL;--> statement-breakpoint
-- Events stored before rollups existed: their hours are marked, so they are read raw until rolled up.
INSERT INTO `rollup_dirty` (`project_id`, `hour`, `mark`) SELECT `project_id`, `ts` / 3600000, 1 FROM `events` GROUP BY 1, 2;
