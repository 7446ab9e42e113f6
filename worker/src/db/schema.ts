/**
 * The D1 schema: the single source of truth. `npm run db:generate` turns changes here into a new
 * SQL file in `migrations/` (review it, commit it). Columns are added, never renamed or dropped,
 * so a deployed worker and the next migration always agree.
 *
 * Every table that holds project data is keyed by `project_id` first: that is the seam along which
 * a large project can later move to a D1 database of its own.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Dashboard users. Passwords are PBKDF2-SHA256 hashes (`worker/src/auth/password.ts`). */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Normalised (trimmed, lower-case); unique. */
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  /** Display name; optional. */
  name: text('name'),
});

/**
 * A signed-in device: one refresh-token family. Access JWTs name their session (`sid`), so
 * revoking the session signs every token of the family out at once.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/**
 * Refresh tokens, stored as SHA-256 hashes. A token is used once: refreshing marks it used and
 * issues the next of its family; presenting a used one again revokes the whole family.
 */
export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [index('refresh_tokens_session_idx').on(t.sessionId)],
);

/** Failed password attempts per account or share link, address and pair: the policy is `auth/throttle.ts`'s. */
export const signInThrottle = sqliteTable('sign_in_throttle', {
  /** `email:<normalised email>`, `share:<link id>`, `pair:<HMAC>`, `ip:<HMAC>`, `api-key-ip:<HMAC>` — never an IP. */
  key: text('key').primaryKey(),
  failures: integer('failures').notNull(),
  lockedUntil: integer('locked_until'),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * The hot window we suggest to an owner who turns the archive on (it is off by default): long
 * enough for every filtered view of the dashboard's presets but `year` to read raw (`last_month`
 * reaches 61 days back, `30d` with its previous period 60); rollups answer unfiltered views of any range.
 */
export const SUGGESTED_ARCHIVE_AFTER_DAYS = 62;
/**
 * The shortest hot window the archive takes (0 aside, which never archives): an event can wait
 * this long in the outbox, queue and dead-letter queue during an outage, and a day should still be
 * in D1 when it lands, not merged into its object.
 */
export const MIN_ARCHIVE_AFTER_DAYS = 7;

/** A tracked site or app. */
export const projects = sqliteTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Public key the script tag carries. Not a secret; can be regenerated. */
  siteKey: text('site_key').notNull().unique(),
  /** IANA timezone every date bucket of this project uses (from `zones`' last change on). */
  timezone: text('timezone').notNull().default('UTC'),
  /**
   * The project's calendar when its timezone was ever changed: `Zone|T|Zone|…|Zone`, each zone in
   * force until the instant after it (`shared/calendar.ts`, `zoneAt`); null while it never was.
   * Days before a change keep the zone they were counted in.
   */
  zones: text('zones'),
  /** Raw events older than this are purged by the rollup cron; rollups stay. */
  retentionDays: integer('retention_days').notNull().default(365),
  /**
   * Superseded by `archive_hot_days` (migration 0012) and read by nothing: its `DEFAULT 62` turned
   * the archive on for every project, and SQLite cannot change a column's default without
   * rebuilding `projects` (which, on D1, cascades into every table that references it). Columns
   * are added, never dropped.
   */
  archiveAfterDays: integer('archive_after_days').notNull().default(62),
  /**
   * The hot window, opt-in: closed local days that ended more than this many days ago are moved
   * from D1 to the R2 archive (`store/archive.ts`) once rolled up; null (the default) or 0 never
   * archives. NOTE: re-rollups (a goal, funnel, currency or timezone change, a new dimension) never
   * read the archive: an archived day keeps the numbers it had (ARCHITECTURE.md, "The store").
   */
  archiveHotDays: integer('archive_hot_days'),
  /** Whether the public live-visitor widget may show this project's count. */
  publicLive: integer('public_live', { mode: 'boolean' }).notNull().default(false),
  /** ISO 4217 code the `revenue` metric reports in; amounts in other currencies are listed apart. */
  currency: text('currency').notNull().default('USD'),
  /** JSON overrides of the default rate limits (`RateLimits` in `worker/src/live/rate-limit.ts`). */
  rateLimits: text('rate_limits'),
  /**
   * The binding of the pool database (`DB`, `DB_1`, …) that holds this project's events, rollups,
   * marks and drop counts (`worker/src/store/pool.ts`); chosen at creation, changed only by a move.
   */
  database: text('database').notNull().default('DB'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Hostnames a project accepts events from. A project with none accepts any hostname. */
export const projectHostnames = sqliteTable(
  'project_hostnames',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Lower-case hostname without port, e.g. `example.com`. */
    hostname: text('hostname').notNull(),
    /** Also accept every subdomain of `hostname`. */
    includeSubdomains: integer('include_subdomains', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.hostname] })],
);

/** Who may see or change a project, and how much. */
export const members = sqliteTable(
  'members',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'viewer'] }).notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] }), index('members_user_idx').on(t.userId)],
);

/**
 * Secret API keys (`tly_<prefix>_<secret>`). Only an HMAC-SHA256 of the whole key with a server
 * pepper is stored; the key is found by its prefix and compared in constant time.
 */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    prefix: text('prefix').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    name: text('name').notNull(),
    /** JSON array of scopes: `ingest`, `read`, `admin`. */
    scopes: text('scopes').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
    usageCount: integer('usage_count').notNull().default(0),
    /** Requests per minute this key may make (a token bucket of this size in the project's DO). */
    rateLimit: integer('rate_limit').notNull().default(600),
  },
  (t) => [index('api_keys_project_idx').on(t.projectId)],
);

/**
 * Public read-only links to a project's stats. The slug is the capability (shown to admins so they
 * can copy it again); an optional password is a PBKDF2 hash.
 */
export const shareLinks = sqliteTable(
  'share_links',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    slug: text('slug').notNull().unique(),
    name: text('name').notNull(),
    passwordHash: text('password_hash'),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
    /** JSON array of origins (`https://host[:port]`) whose pages may frame the link's view; null: none. */
    embedOrigins: text('embed_origins'),
  },
  (t) => [index('share_links_project_idx').on(t.projectId)],
);

/**
 * Raw events, one row each. Written only by the queue consumer, with `INSERT OR IGNORE` on the
 * primary key so that a redelivered message never counts twice. No column holds an IP address or
 * a user agent: the visitor is a salted daily hash.
 */
export const events = sqliteTable(
  'events',
  {
    projectId: text('project_id').notNull(),
    /** UUIDv7 drawn by the worker, or the client's own event id (a UUID). */
    id: text('id').notNull(),
    /** When the event happened (ms since the epoch, clamped client time). */
    ts: integer('ts').notNull(),
    /** When the worker received it (ms). */
    receivedAt: integer('received_at').notNull(),
    name: text('name').notNull(),
    /** hash(daily salt, project, IP, user agent), 16 hex characters. */
    visitorId: text('visitor_id').notNull(),
    /** Visit id assigned by the ProjectDO (30 minutes of silence ends a visit). */
    sessionId: text('session_id').notNull(),
    /** 1-based position of the event within its visit. */
    seq: integer('seq').notNull(),
    /** Whether this event opened its visit. */
    isEntry: integer('is_entry', { mode: 'boolean' }).notNull(),
    hostname: text('hostname').notNull(),
    /** URL path (plus the `#/…` route with hash routing); query strings are not kept. */
    path: text('path').notNull(),
    /** Referrer without query or fragment; null for direct and internal traffic. */
    referrer: text('referrer'),
    referrerHost: text('referrer_host'),
    /** Traffic source: a known name (`Google`), a referrer host, or `utm_source`. */
    source: text('source'),
    utmSource: text('utm_source'),
    utmMedium: text('utm_medium'),
    utmCampaign: text('utm_campaign'),
    utmTerm: text('utm_term'),
    utmContent: text('utm_content'),
    /** Acquisition channel (Organic Search, Paid Social, …) from the source and utm_* values (docs/STATS.md). */
    channel: text('channel'),
    /** ISO 3166-1 alpha-2, from Cloudflare's edge. */
    country: text('country'),
    region: text('region'),
    city: text('city'),
    /** The visitor's IANA timezone as Cloudflare's edge sees it. */
    timezone: text('timezone'),
    /** The first language of the browser's Accept-Language header, as a BCP 47 tag (`en`, `pt-BR`). */
    language: text('language'),
    browser: text('browser'),
    browserVersion: text('browser_version'),
    os: text('os'),
    osVersion: text('os_version'),
    /** Device type from the user agent: desktop, mobile, tablet, … */
    device: text('device'),
    /** Screen class from the screen width: Mobile, Tablet, Laptop, Desktop. */
    screen: text('screen'),
    /** JSON object of custom properties, or null. */
    props: text('props'),
    revenueAmount: real('revenue_amount'),
    revenueCurrency: text('revenue_currency'),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('events_project_ts_idx').on(t.projectId, t.ts),
    // A visitor's events of the day so far, for the hourly rollups' differences (rollup/hours.ts):
    // what an hour adds is computed from the visitors active in it, not from the whole day.
    index('events_project_visitor_idx').on(t.projectId, t.visitorId, t.ts),
  ],
);

/** An event as stored in D1; the keys are the drizzle schema's, which the consumer maps to columns. */
export type StoredEvent = typeof events.$inferSelect;

/** An event after ingest and before admission: the ProjectDO adds visitor, visit and sequence. */
export type PendingEvent = Omit<StoredEvent, 'visitorId' | 'sessionId' | 'seq' | 'isEntry'>;

/** Events the ingest pipeline dropped, per project, day (in the project's timezone) and reason. */
export const dropCounts = sqliteTable(
  'drop_counts',
  {
    projectId: text('project_id').notNull(),
    day: text('day').notNull(),
    reason: text('reason').notNull(),
    /** A running total; writes keep the larger value so that redelivery cannot inflate it. */
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day, t.reason] })],
);

/** Queue messages that can never be written (malformed, or refused by D1 for good). Kept, never lost. */
export const quarantine = sqliteTable('quarantine', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  queue: text('queue').notNull(),
  messageId: text('message_id').notNull(),
  body: text('body').notNull(),
  error: text('error').notNull(),
  createdAt: integer('created_at').notNull().default(sql`(unixepoch() * 1000)`),
});

/**
 * Conversion goals: a page path pattern (`*` within a segment, `**` across segments) or a custom
 * event name, optionally requiring one property to equal a value. The query engine matches them
 * with `worker/src/projects/goal-matching.ts`.
 */
export const goals = sqliteTable(
  'goals',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Unique per project: the query API names goals by it. */
    name: text('name').notNull(),
    kind: text('kind', { enum: ['pageview', 'event'] }).notNull(),
    /** Pageview goals: the path pattern. */
    path: text('path'),
    /** Event goals: the event name. */
    eventName: text('event_name'),
    /** Event goals may require `props[property_key]`, as a string, to equal `property_value`. */
    propertyKey: text('property_key'),
    propertyValue: text('property_value'),
    createdAt: integer('created_at').notNull(),
    /**
     * The project's `raw_from` when this matching was defined: local days that start earlier had
     * lost their raw events by then, so they hold no numbers for this goal (null: none had).
     */
    historyFrom: integer('history_from'),
  },
  (t) => [
    uniqueIndex('goals_project_name_idx').on(t.projectId, t.name),
    // NULLs are distinct in a SQLite unique index, so the columns a kind leaves empty are compared
    // through quote(), which maps NULL to the text NULL and any string to a quoted literal: two goals
    // with the same matching collide. (Comma-free expressions, which drizzle-kit renders intact.)
    // The index also serves lookups by project_id.
    uniqueIndex('goals_project_match_idx').on(
      t.projectId,
      t.kind,
      sql`quote(${t.path})`,
      sql`quote(${t.eventName})`,
      sql`quote(${t.propertyKey})`,
      sql`quote(${t.propertyValue})`,
    ),
  ],
);

/** Funnels: 2–8 ordered steps (goal-shaped) that a visit passes through. */
export const funnels = sqliteTable(
  'funnels',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Unique per project. */
    name: text('name').notNull(),
    /** JSON array of steps: `{ kind: 'pageview', path } | { kind: 'event', eventName, propertyKey?, propertyValue? }`. */
    steps: text('steps').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('funnels_project_name_idx').on(t.projectId, t.name)],
);

/** Saved segments: a named set of dashboard filters, shared with the project's members. */
export const segments = sqliteTable(
  'segments',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Unique per project. */
    name: text('name').notNull(),
    /** JSON array of query filters (`[operator, dimension, values]`), as the query API takes them. */
    filters: text('filters').notNull(),
    /** The member who saved it; null once that account is gone. */
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('segments_project_name_idx').on(t.projectId, t.name)],
);

/** A rollup row's numbers (`rollups`, `rollup_hours`), in the order `stats/metric-sql.ts` writes them. */
function rollupNumbers() {
  return {
    visitors: integer('visitors').notNull(),
    visits: integer('visits').notNull(),
    pageviews: integer('pageviews').notNull(),
    events: integer('events').notNull(),
    bounces: integer('bounces').notNull(),
    /** Visit durations summed (ms). */
    duration: integer('duration').notNull(),
    /** Revenue in the project's currency, summed. */
    revenue: real('revenue').notNull().default(0),
  };
}

/**
 * Rollups: for each closed local day of a project, the numbers of the stats API per dimension
 * value, exactly as a query over that day's raw events gives them. `dimension` is `''` for the
 * day's totals, `time:hour` for its hours, or a breakdown dimension; `value` is the group's value
 * as JSON text (`null` for no value). Written by the cron (`worker/src/rollup/rollups.ts`).
 */
export const rollups = sqliteTable(
  'rollups',
  {
    projectId: text('project_id').notNull(),
    /** Local day (YYYY-MM-DD) in the project's timezone. */
    day: text('day').notNull(),
    dimension: text('dimension').notNull(),
    value: text('value').notNull(),
    ...rollupNumbers(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.dimension, t.day, t.value] })],
);

/**
 * UTC hours (ms / 3,600,000) that received events since their local days were last rolled up.
 * The consumer marks them in the batch that writes the events (`mark` counts those writes), so
 * every stored event is in the rollups or in a marked hour: a day with a marked hour is read raw.
 */
export const rollupDirty = sqliteTable(
  'rollup_dirty',
  {
    projectId: text('project_id').notNull(),
    hour: integer('hour').notNull(),
    mark: integer('mark').notNull().default(1),
    /**
     * For an hour that a local midnight cuts (zones such as Asia/Kolkata): the `mark` at which its
     * closed day was rolled up. While `rolled = mark` the hour makes only its later, open day raw.
     */
    rolled: integer('rolled'),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.hour] })],
);

/**
 * The hour segments of a day whose `rollup_hours` rows are written (`rollup/hours.ts`): each at
 * the `mark` its UTC hour had then, and with which catalog. While the mark is still the hour's and
 * every earlier segment of the day is current too, a segment is read from `rollup_hours`; a
 * segment rolled again drops the day's later rows here, whose numbers may have changed with it.
 * Keyed by day and segment, not by UTC hour: an hour cut by a local midnight is two segments.
 */
export const rolledHours = sqliteTable(
  'rolled_hours',
  {
    projectId: text('project_id').notNull(),
    day: text('day').notNull(),
    /** The segment's first instant (ms). */
    start: integer('start').notNull(),
    mark: integer('mark').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day, t.start] })],
);

/**
 * Hourly rollups of the open day: per project, local day and hour segment (the part of a UTC hour
 * inside the day, by its first instant `start`), what the segment ADDS to the day's numbers per
 * dimension value — the day's numbers over [day start, segment end) minus those over [day start,
 * segment start), computed from the visitors active in the segment (every number is a sum over
 * visitors, so the others add nothing). The rows of a day's segments therefore sum to the day so
 * far, exactly, distinct visitors included; they may be negative (a visit that stops bouncing). The
 * day's `rollups` replace them once it closes. Written by the cron (`worker/src/rollup/hours.ts`).
 */
export const rollupHours = sqliteTable(
  'rollup_hours',
  {
    projectId: text('project_id').notNull(),
    dimension: text('dimension').notNull(),
    /** Local day (YYYY-MM-DD) in the project's timezone. */
    day: text('day').notNull(),
    /** The segment's first instant (ms): a whole UTC hour, or the part of one after a local midnight. */
    start: integer('start').notNull(),
    value: text('value').notNull(),
    ...rollupNumbers(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.dimension, t.day, t.start, t.value] })],
);

/**
 * Filtered rollups of closed days: per project, local day and (filter dimension, filter value,
 * breakdown dimension) — `dimension`, the JSON array `["country","DE","page"]` — the numbers of the
 * events that filter keeps, per breakdown value (`value`, JSON text), exactly as a raw query with
 * that one `is` filter gives them (`stats/pair-sql.ts`). Keyed by day first, so that one day's rows
 * are deleted by a seek and a range's are read by one seek per day and dimension.
 */
export const pairRollups = sqliteTable(
  'pair_rollups',
  {
    projectId: text('project_id').notNull(),
    /** Local day (YYYY-MM-DD) in the project's timezone. */
    day: text('day').notNull(),
    dimension: text('dimension').notNull(),
    value: text('value').notNull(),
    ...rollupNumbers(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day, t.dimension, t.value] })],
);

/** Per project: how many times its rollups changed, part of every cached answer's key. */
export const rollupState = sqliteTable('rollup_state', {
  projectId: text('project_id').primaryKey(),
  version: integer('version').notNull().default(0),
  updatedAt: integer('updated_at').notNull(),
  /**
   * Raw events before this instant (ms) may be gone (the retention purge): a local day that starts
   * earlier is never recomputed or read raw, its rollups are all there is. Null: nothing purged.
   */
  rawFrom: integer('raw_from'),
});

/**
 * The catalog version each closed local day of a project was rolled up with (`CATALOG_VERSION` in
 * sdk/src/catalog.ts): a dimension added later is not in that day's rows.
 */
export const rolledDays = sqliteTable(
  'rolled_days',
  {
    projectId: text('project_id').notNull(),
    day: text('day').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.day] }),
    // The cron looks for days of an older catalog on every tick: a seek, not a scan of every day.
    index('rolled_days_version_idx').on(t.version),
  ],
);

/**
 * A project's move to another database of the pool in progress (`worker/src/store/move.ts`), in the
 * control database: where it goes, which step it is at and how far that step got, so that a move
 * cut short by a crash goes on from there.
 */
export const projectMoves = sqliteTable('project_moves', {
  projectId: text('project_id').primaryKey(),
  /** The binding the project leaves (its `projects.database` until the switch). */
  source: text('source').notNull(),
  target: text('target').notNull(),
  step: text('step', { enum: ['copy', 'verify', 'switch', 'clean'] }).notNull(),
  /** Index into the moved tables of the step's current table. */
  tableIndex: integer('table_index').notNull().default(0),
  /** JSON: the primary key of the last row the step handled in that table (null: none yet). */
  cursor: text('cursor'),
  /** JSON: per table, `{ count, sum }` of the source and of the target, accumulated while verifying. */
  checks: text('checks'),
  /** Verify passes that found a difference (each starts the copy again). */
  attempts: integer('attempts').notNull().default(0),
  /**
   * Until when (ms) one runner — the owner's route or the cron — holds the move: only the holder
   * copies, clears or switches, so that a runner working from a stale step never undoes another's.
   * Null: nobody (a runner lets go when its time is up; a crashed one's lease runs out).
   */
  leaseUntil: integer('lease_until'),
  startedAt: integer('started_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * In a pool database: projects whose data-plane rows it must not take (a move out of it is under
 * way or done). Triggers (migrations 0014 and 0015, hand-written: drizzle cannot declare them) abort any
 * insert of a fenced project's events, marks or drop counts, in the writer's own transaction, so a
 * writer that read the project → database map before a move's switch fails and retries instead of
 * writing where nobody reads.
 */
export const projectFences = sqliteTable('project_fences', {
  projectId: text('project_id').primaryKey(),
  since: integer('since').notNull(),
});

/**
 * Local days of a project whose raw events were moved to R2 (`store/archive.ts`): one Parquet
 * object per day at `key`, verified (`rows`, `checksum`) before any of the day's rows left D1.
 * A day with a row here starts before `rollup_state.raw_from`: its rollups answer for it.
 */
export const archivedDays = sqliteTable(
  'archived_days',
  {
    projectId: text('project_id').notNull(),
    /** Local day (YYYY-MM-DD) in the project's calendar. */
    day: text('day').notNull(),
    /** The R2 object that holds the day: `archive/<project id>/<day>.<checksum16>.parquet` (write-once). */
    key: text('key').notNull(),
    /** Events in the object. */
    rows: integer('rows').notNull(),
    /** SHA-256 (hex) of the object's rows in canonical form (`store/archive-format.ts`). */
    checksum: text('checksum').notNull(),
    /** The object's size. */
    bytes: integer('bytes').notNull(),
    archivedAt: integer('archived_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day] })],
);

/**
 * Per project, who is archiving it now: a lease (`holder` until `expires_at`) claimed by one run,
 * checked again by every statement that records, so two overlapping runs never both commit the
 * same day; and the last day refused as too big, not read again before `retry_at`.
 */
export const archiveRuns = sqliteTable('archive_runs', {
  projectId: text('project_id').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at').notNull(),
  refusedDay: text('refused_day'),
  retryAt: integer('retry_at'),
});

/**
 * Archive objects that no `archived_days` row owns yet (written, not committed) or any more (a
 * merge superseded them): recorded before the object is written, so retention, a deleted project
 * and the hourly sweep find every object. Its rows outlive their project (`store/delete.ts`): the
 * sweep deletes what a write stopped mid-way left behind.
 */
export const archivePending = sqliteTable('archive_pending', {
  key: text('key').primaryKey(),
  projectId: text('project_id').notNull(),
  /** Local day (YYYY-MM-DD) of the object. */
  day: text('day').notNull(),
  /** When it was claimed (ms); 0 for a superseded object, to be deleted at once. */
  since: integer('since').notNull(),
});

/**
 * Local days the archive left in D1 because they hold more events than one object may
 * (`ARCHIVE_MAX_ROWS`): `raw_from` moved past them so that later days could be archived, their
 * raw events stay in D1 until retention, and since those are all there, a late event on one is
 * rolled up again (`rollup/rollups.ts`), as on a day at or after `raw_from`.
 */
export const archiveSkipped = sqliteTable(
  'archive_skipped',
  {
    projectId: text('project_id').notNull(),
    /** Local day (YYYY-MM-DD) in the project's calendar. */
    day: text('day').notNull(),
    /** Events of the day counted when it was skipped: the count stops at `ARCHIVE_MAX_ROWS` + 1. */
    rows: integer('rows').notNull(),
    skippedAt: integer('skipped_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day] })],
);
