-- WITHOUT ROWID added by hand (drizzle-kit cannot say it): each row is one b-tree entry, so D1
-- bills one row written per row, not two (the row and its primary key's index).
CREATE TABLE `pair_rollups` (
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
	PRIMARY KEY(`project_id`, `day`, `dimension`, `value`)
) WITHOUT ROWID;
