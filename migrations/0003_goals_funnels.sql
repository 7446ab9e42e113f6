CREATE TABLE `funnels` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`steps` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `funnels_project_name_idx` ON `funnels` (`project_id`,`name`);--> statement-breakpoint
CREATE TABLE `goals` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`path` text,
	`event_name` text,
	`property_key` text,
	`property_value` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `goals_project_name_idx` ON `goals` (`project_id`,`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `goals_project_match_idx` ON `goals` (`project_id`,`kind`,quote("path"),quote("event_name"),quote("property_key"),quote("property_value"));