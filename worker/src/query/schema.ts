/**
 * The query request of `POST /api/v1/query`, in the style of Plausible's Stats API v2. Dimension,
 * metric and operator names come from allowlists; filter values are always bound parameters.
 */
import {
  DIMENSION_NAMES,
  type Dimension,
  EVENT_DIMENSIONS,
  FILTER_OPERATORS,
  METRIC_NAMES,
  type MetricName,
  PROP_PREFIX,
  TIME_DIMENSIONS,
  VISIT_DIMENSIONS,
} from '@tally/sdk/catalog';
import { isPropertyKey } from '@tally/sdk/protocol';
import { z } from '@hono/zod-openapi';
import { customRangeProblem, DATE_RANGE_PRESETS } from './date-range.ts';

export { METRIC_NAMES as METRICS, PROP_PREFIX, TIME_DIMENSIONS, VISIT_DIMENSIONS, EVENT_DIMENSIONS };
export type { Dimension };
export type Metric = MetricName;

const NAMED: readonly string[] = [...DIMENSION_NAMES, ...TIME_DIMENSIONS];

export const DimensionSchema = z
  .string()
  .refine(
    (value) =>
      NAMED.includes(value) || (value.startsWith(PROP_PREFIX) && isPropertyKey(value.slice(PROP_PREFIX.length))),
    `one of ${NAMED.join(', ')}, or event:props:<key> (a key as ingest stores it: 1 to 300 characters, no control characters)`,
  )
  .transform((value) => value as Dimension)
  .openapi({ example: 'source', description: `One of ${NAMED.join(', ')}, or event:props:<key>` });

/** What a filter compares a dimension with: `null` stands for "no value" (direct traffic, a missing property). */
const FilterValue = z.union([z.string().max(2000), z.null()]);

export { FILTER_OPERATORS };

/**
 * NOTE: D1 refuses a GLOB pattern longer than 50 bytes ("LIKE or GLOB pattern too complex"), so a
 * `matches` value may hold at most 50 bytes as sent to SQLite (UTF-8, each `[` or `]` written as a
 * three-byte class) and, to keep matching cheap, at most 10 wildcards.
 */
export const MATCHES_LIMITS = { bytes: 50, wildcards: 10 } as const;

/** Why a `matches` pattern cannot be evaluated, or null. */
export function matchesPatternProblem(pattern: string): string | null {
  const bytes = new TextEncoder().encode(pattern).length + 2 * (pattern.match(/[[\]]/g)?.length ?? 0);
  if (bytes > MATCHES_LIMITS.bytes) {
    return `a matches pattern holds at most ${MATCHES_LIMITS.bytes} bytes (this one: ${bytes}); use contains for longer text`;
  }
  if ((pattern.match(/[*?]/g)?.length ?? 0) > MATCHES_LIMITS.wildcards) {
    return `a matches pattern holds at most ${MATCHES_LIMITS.wildcards} wildcards (* and ?)`;
  }
  return null;
}

export const FilterSchema = z
  .tuple([z.enum(FILTER_OPERATORS), DimensionSchema, z.array(FilterValue).min(1).max(50)])
  .superRefine(([operator, , values], ctx) => {
    if (operator !== 'matches') return;
    values.forEach((value, index) => {
      const problem = value === null ? null : matchesPatternProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', path: [2, index], message: problem });
    });
  })
  .refine(([, dimension]) => !dimension.startsWith('time:'), 'time dimensions cannot be filtered; use date_range')
  .refine(
    ([operator, dimension, values]) =>
      dimension !== 'event:goal' || (operator === 'is' && values.every((v) => v !== null)),
    'event:goal takes only the operator is, with goal names',
  )
  .openapi({ example: ['is', 'country', ['DE', 'AT']] });

export const DateRangeSchema = z
  .union([
    z.enum(DATE_RANGE_PRESETS),
    z.tuple([z.string(), z.string()]).superRefine((range, ctx) => {
      const problem = customRangeProblem(range);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ])
  .openapi({ example: '7d' });

export const QuerySchema = z
  .object({
    project: z.string().min(1).max(64).openapi({ description: 'Project id', example: 'demo' }),
    metrics: z
      .array(z.enum(METRIC_NAMES as [MetricName, ...MetricName[]]))
      .min(1)
      .max(METRIC_NAMES.length)
      .openapi({
        description:
          'In the order the results list them. `conversion_rate` needs `event:goal` as a dimension or filter; ' +
          '`exit_rate` (%) needs `exit_page` as a dimension; ' +
          '`views_per_visit`, `bounce_rate` (%) and `visit_duration` (s) are per visit. Definitions: docs/STATS.md',
        example: ['visitors', 'pageviews'],
      }),
    date_range: DateRangeSchema.openapi({
      description:
        "A preset in the project's timezone (`realtime` is the last 30 minutes) or `[from, to]`, both days included",
    }),
    dimensions: z
      .array(DimensionSchema)
      .max(3)
      .default([])
      .openapi({
        description:
          'Group by up to three, at most one of them `time:*`. Visit dimensions (entry and exit page, source, UTM, ' +
          'location, device) take the value of the visit; `page`, `hostname`, `event:name`, `event:goal` and ' +
          '`event:props:<key>` the value of each event',
        example: ['time:day'],
      }),
    filters: z
      .array(FilterSchema)
      .max(20)
      .default([])
      .openapi({
        description:
          '`[operator, dimension, values]`, all combined with AND; a filter holds when any of its values does. ' +
          '`contains` and `does_not_contain` are case-sensitive; `matches` takes `*` (any run) and `?` (one character); `null` stands for no ' +
          'value. Filters on visit dimensions keep whole visits',
      }),
    order_by: z
      .array(z.tuple([z.string(), z.enum(['asc', 'desc'])]))
      .max(5)
      .optional()
      .openapi({
        description: 'By requested metrics or dimensions; default: time ascending, else the first metric descending',
        example: [['visitors', 'desc']],
      }),
    limit: z.number().int().min(1).max(10_000).default(100).openapi({ description: 'Rows per page' }),
    page: z.number().int().min(1).max(100_000).default(1).openapi({ description: 'Page of rows, from 1' }),
    format: z.enum(['json', 'csv']).default('json').openapi({ description: '`csv`: the results as a CSV download' }),
    include: z
      .object({
        compare: z.enum(['previous_period', 'year_over_year']).optional().openapi({
          description: "Each result also carries the comparison range's `metrics`: the period before, or a year before",
        }),
        time_labels: z
          .boolean()
          .default(false)
          .openapi({ description: 'List every bucket of the range in `meta.time_labels`, empty ones included' }),
        totals: z
          .boolean()
          .default(false)
          .openapi({ description: 'The metrics over everything the filters keep, in `meta.totals`' }),
      })
      .strict()
      .default({ time_labels: false, totals: false }),
  })
  .strict()
  .superRefine((query, ctx) => {
    const dims = new Set(query.dimensions);
    if (dims.size !== query.dimensions.length)
      ctx.addIssue({ code: 'custom', path: ['dimensions'], message: 'dimensions must be distinct' });
    if (query.dimensions.filter((d) => d.startsWith('time:')).length > 1) {
      ctx.addIssue({ code: 'custom', path: ['dimensions'], message: 'at most one time dimension' });
    }
    const goals = dims.has('event:goal') || query.filters.some(([, dimension]) => dimension === 'event:goal');
    if ((query.metrics as string[]).includes('conversion_rate') && !goals) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics'],
        message: 'conversion_rate needs an event:goal dimension or filter',
      });
    }
    if ((query.metrics as string[]).includes('exit_rate')) {
      // Exits of a page over the same group's pageviews of that page (`plan.ts` reads both).
      // Beside time:hour a visit exits in every hour it has events in, but views the page in one.
      const problem = !dims.has('exit_page')
        ? 'exit_rate needs the exit_page dimension'
        : dims.has('page') || dims.has('event:goal') || dims.has('time:hour')
          ? 'exit_rate cannot be combined with a page, event:goal or time:hour dimension'
          : (query.metrics as string[]).includes('conversion_rate')
            ? 'exit_rate cannot be asked with conversion_rate'
            : query.include.totals
              ? 'exit_rate is per exit page: ask it without include.totals'
              : null;
      if (problem) ctx.addIssue({ code: 'custom', path: ['metrics'], message: problem });
    }
    query.order_by?.forEach(([key], index) => {
      if (!(query.metrics as string[]).includes(key) && !dims.has(key as Dimension)) {
        ctx.addIssue({
          code: 'custom',
          path: ['order_by', index, 0],
          message: 'order by a requested metric or dimension',
        });
      }
    });
  })
  .openapi('Query');
export type Query = z.output<typeof QuerySchema>;
