CREATE TABLE `rolled_days` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`)
);
--> statement-breakpoint
CREATE INDEX `rolled_days_version_idx` ON `rolled_days` (`version`);--> statement-breakpoint
ALTER TABLE `events` ADD `language` text;--> statement-breakpoint
ALTER TABLE `goals` ADD `history_from` integer;--> statement-breakpoint
ALTER TABLE `projects` ADD `zones` text;--> statement-breakpoint
ALTER TABLE `rollup_state` ADD `raw_from` integer;--> statement-breakpoint
-- Days rolled up before the catalog had versions were rolled with version 1 (no `language`).
INSERT INTO `rolled_days` (`project_id`, `day`, `version`) SELECT `project_id`, `day`, 1 FROM `rollups` WHERE `dimension` = '';
