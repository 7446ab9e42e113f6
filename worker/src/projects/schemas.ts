/** The request and response shapes of the project routes, shared with the OpenAPI document. */
import { z } from '@hono/zod-openapi';
import { MIN_ARCHIVE_AFTER_DAYS, SUGGESTED_ARCHIVE_AFTER_DAYS } from '../db/schema.ts';
import { DEFAULT_RATE_LIMITS } from '../live/rate-limit.ts';
import { isTimeZone } from '../shared/time.ts';
import { ROLES } from '../auth/access.ts';

/** A hostname as a site owner types it: lower-cased; scheme, port and path are refused. */
export const HostnameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(
    /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'a hostname such as example.com',
  )
  .openapi({ example: 'example.com' });

export const HostnameEntrySchema = z
  .object({ hostname: HostnameSchema, includeSubdomains: z.boolean().default(false) })
  .openapi('Hostname');

export const TimezoneSchema = z
  .string()
  .refine(isTimeZone, 'an IANA timezone such as Europe/Berlin')
  .openapi({ example: 'Europe/Berlin' });

const positive = z.number().positive().max(1e6);
export const RateLimitsSchema = z
  .object({
    projectRate: positive.optional(),
    projectBurst: positive.optional(),
    visitorRate: positive.optional(),
    visitorBurst: positive.optional(),
  })
  .strict()
  .openapi('RateLimitOverrides', {
    description: `Overrides of the default limits (events/s and burst sizes): ${JSON.stringify(DEFAULT_RATE_LIMITS)}`,
  });

export const ProjectSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    siteKey: z.string().openapi({ description: 'Public key the script tag carries (not a secret)' }),
    timezone: z.string(),
    timezoneFrom: z
      .number()
      .int()
      .nullable()
      .openapi({
        description:
          'When the current timezone took (or takes) effect, in ms; null if it never changed. Days before it keep the ' +
          'timezone they were counted in: a change applies from the first midnight of the new zone after today.',
      }),
    retentionDays: z.number().int(),
    archiveAfterDays: z
      .number()
      .int()
      .nullable()
      .openapi({
        description:
          'Days after which raw events move from D1 to the R2 archive; null (the default): never. Rollups stay, ' +
          'but an archived day is never rolled up again: a later goal, funnel, currency or timezone change does ' +
          `not reach it. ${SUGGESTED_ARCHIVE_AFTER_DAYS} keeps every dashboard preset but \`year\` raw for filtered views`,
      }),
    publicLive: z.boolean(),
    currency: z.string().openapi({ description: 'ISO 4217 code the revenue metric reports in' }),
    rateLimits: RateLimitsSchema.nullable(),
    hostnames: z.array(HostnameEntrySchema),
    role: z.enum(ROLES).nullable().openapi({ description: "The caller's role; null for API keys and share links" }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi('Project');
export type ProjectView = z.infer<typeof ProjectSchema>;

const settings = {
  name: z.string().trim().min(1).max(100),
  hostnames: z.array(HostnameEntrySchema).max(50),
  timezone: TimezoneSchema,
  retentionDays: z.number().int().min(1).max(3650),
  // null or 0 never archives (opt-in); otherwise at least a week, the longest an event may wait in an outage.
  archiveAfterDays: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .refine((days) => days === 0 || days >= MIN_ARCHIVE_AFTER_DAYS, {
      message: `null or 0 (never) or at least ${MIN_ARCHIVE_AFTER_DAYS} days`,
    })
    .nullable(),
  publicLive: z.boolean(),
  currency: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as EUR')
    .openapi({ example: 'EUR' }),
  rateLimits: RateLimitsSchema.nullable(),
};

export const CreateProjectSchema = z
  .object({
    ...settings,
    hostnames: settings.hostnames.default([]),
    timezone: settings.timezone.default('UTC'),
    retentionDays: settings.retentionDays.default(365),
    archiveAfterDays: settings.archiveAfterDays.default(null),
    publicLive: settings.publicLive.default(false),
    currency: settings.currency.default('USD'),
    rateLimits: settings.rateLimits.default(null),
  })
  .openapi('CreateProject');

export const UpdateProjectSchema = z.object(settings).partial().openapi('UpdateProject');

export { ProjectIdParams } from '../shared/openapi.ts';
