CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`prefix` text NOT NULL,
	`secret_hash` text NOT NULL,
	`name` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	`usage_count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_prefix_unique` ON `api_keys` (`prefix`);--> statement-breakpoint
CREATE INDEX `api_keys_project_idx` ON `api_keys` (`project_id`);--> statement-breakpoint
CREATE TABLE `drop_counts` (
	`project_id` text NOT NULL,
	`day` text NOT NULL,
	`reason` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`, `reason`)
);
--> statement-breakpoint
CREATE TABLE `events` (
	`project_id` text NOT NULL,
	`id` text NOT NULL,
	`ts` integer NOT NULL,
	`received_at` integer NOT NULL,
	`name` text NOT NULL,
	`visitor_id` text NOT NULL,
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`is_entry` integer NOT NULL,
	`hostname` text NOT NULL,
	`path` text NOT NULL,
	`referrer` text,
	`referrer_host` text,
	`source` text,
	`utm_source` text,
	`utm_medium` text,
	`utm_campaign` text,
	`utm_term` text,
	`utm_content` text,
	`country` text,
	`region` text,
	`city` text,
	`timezone` text,
	`browser` text,
	`browser_version` text,
	`os` text,
	`os_version` text,
	`device` text,
	`screen` text,
	`props` text,
	`revenue_amount` real,
	`revenue_currency` text,
	PRIMARY KEY(`project_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `events_project_ts_idx` ON `events` (`project_id`,`ts`);--> statement-breakpoint
CREATE TABLE `members` (
	`project_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `user_id`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `members_user_idx` ON `members` (`user_id`);--> statement-breakpoint
CREATE TABLE `project_hostnames` (
	`project_id` text NOT NULL,
	`hostname` text NOT NULL,
	`include_subdomains` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`project_id`, `hostname`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`site_key` text NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`retention_days` integer DEFAULT 365 NOT NULL,
	`public_live` integer DEFAULT false NOT NULL,
	`rate_limits` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `projects_site_key_unique` ON `projects` (`site_key`);--> statement-breakpoint
CREATE TABLE `quarantine` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`queue` text NOT NULL,
	`message_id` text NOT NULL,
	`body` text NOT NULL,
	`error` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch() * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);