CREATE TABLE `rolled_hours` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`start` integer NOT NULL,
	`mark` integer NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`, `start`)
);
--> statement-breakpoint
CREATE TABLE `rollup_hours` (
	`project_id` text NOT NULL,
	`dimension` text NOT NULL,
	`day` text NOT NULL,
	`start` integer NOT NULL,
	`value` text NOT NULL,
	`visitors` integer NOT NULL,
	`visits` integer NOT NULL,
	`pageviews` integer NOT NULL,
	`events` integer NOT NULL,
	`bounces` integer NOT NULL,
	`duration` integer NOT NULL,
	`revenue` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `dimension`, `day`, `start`, `value`)
);
--> statement-breakpoint
CREATE INDEX `events_project_visitor_idx` ON `events` (`project_id`,`visitor_id`,`ts`);