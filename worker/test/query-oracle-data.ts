/**
 * Random but realistic inputs for the query oracle: event sets shaped like the ProjectDO stores
 * them (session ids, seq from 1, is_entry on the first, visitor ids salted per UTC day), placed
 * around DST changes and local midnights, and queries over the dimensions those events have. Also
 * the plumbing to put a project and its events straight into D1.
 */
import { env } from 'cloudflare:workers';
import { getTableColumns } from 'drizzle-orm';
import { events as eventsTable } from '../src/db/schema.ts';
import fc from 'fast-check';
import { PAIR_BREAKDOWNS, PAIR_FILTERS } from '@tally/sdk/catalog';
import { addDays, firstInstantAt, formatDate, type LocalDate, localDate, parseDate } from '../src/shared/calendar.ts';
import { METRICS, VISIT_DIMENSIONS } from '../src/query/schema.ts';
import { markEventHoursStatement } from './helpers.ts';
import type { Filter, OracleMetric, OracleQuery, RawEvent } from './query-oracle.ts';
import { type GoalShape, goalSet, goalShape, type OracleGoal, withGoals } from './query-oracle-goals.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Zones under test and, for each, days on which its clocks change (any day for zones without DST). */
export const ZONE_DAYS: Record<string, string[]> = {
  UTC: ['2026-03-29'],
  'Europe/Berlin': ['2026-03-29', '2026-10-25'],
  'America/New_York': ['2026-03-08', '2026-11-01'],
  'Asia/Kathmandu': ['2026-03-29'],
  'Australia/Lord_Howe': ['2026-04-05', '2026-10-04'],
};

/** Events fall on the local days anchor−3 … anchor+2 (and spill a little over both edges). */
export const WINDOW = { first: -3, last: 2 } as const;

/** The values each dimension takes in generated data; `null` is "no value". */
export const POOLS = {
  // `_` and `%` (URL-encoded paths have them) are LIKE's wildcards: contains must take them literally.
  page: ['/', '/a', '/b/c', '/b/c/d', '/docs/get_started', '/caf%C3%A9'],
  hostname: ['example.com', 'www.example.com'],
  'event:name': ['pageview', 'signup', 'click'],
  source: [null, 'Google', 'news'],
  channel: [null, 'Direct', 'Organic Search', 'Paid Social'],
  utm_source: [null, 'newsletter'],
  utm_medium: [null, 'email'],
  utm_campaign: [null, 'spring', 'Spring_Sale'],
  utm_term: [null, 'analytics'],
  utm_content: [null, 'hero'],
  country: ['DE', 'US', null],
  region: [null, 'DE-BE', 'US-NY'],
  city: [null, 'Berlin', 'New York'],
  browser: ['Chrome', 'Firefox', 'Safari'],
  browser_version: ['131.0', '133.0', '17.5'],
  os: ['Windows', 'Mac OS', 'iOS', null],
  os_version: [null, '10', '17.5'],
  device: ['desktop', 'mobile', 'tablet'],
  screen: ['Desktop', 'Mobile', 'Tablet'],
  language: [null, 'en-US', 'de', 'pt-BR'],
  'event:props:plan': [null, 'pro', 'free'],
  'event:props:n': [null, '1', '2', '2.5'],
  'event:props:flag': [null, 'true'],
  // A key with a dot (not a JSON path), and a float whose JSON text has 17 digits (0.1 + 0.2).
  'event:props:ui.theme': [null, 'dark', 'light'],
  'event:props:price': [null, '19.99', '0.30000000000000004'],
  // Text past the BMP's surrogates: UTF-16 order (the page's) and UTF-8 byte order disagree here.
  'event:props:label': [null, '👍 like', 'ｗｏｗ'],
} as const satisfies Record<string, readonly (string | null)[]>;

const REFERRERS: Record<string, string | null> = {
  Google: 'https://www.google.com/',
  news: 'https://news.example.org/story?id=7',
};
export const POOL_VALUES: Record<string, readonly (string | null)[]> = {
  ...POOLS,
  entry_page: POOLS.page,
  exit_page: POOLS.page,
  referrer: [null, ...Object.values(REFERRERS)],
};

/** The visit attributes the generator varies (referrer follows from source). */
const VISIT_COLUMNS = VISIT_DIMENSIONS.filter(
  (dimension): dimension is Exclude<(typeof VISIT_DIMENSIONS)[number], 'entry_page' | 'exit_page' | 'referrer'> =>
    dimension !== 'entry_page' && dimension !== 'exit_page' && dimension !== 'referrer',
);
type VisitColumn = (typeof VISIT_COLUMNS)[number];
type Attributes = Record<VisitColumn, string | null>;

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
/** `null` or a value, at these odds (shrinking goes towards `null`). */
const maybe = <T>(arbitrary: fc.Arbitrary<T>, odds: { value: number; none: number }) =>
  fc.oneof({ weight: odds.none, arbitrary: fc.constant(null) }, { weight: odds.value, arbitrary });
const attributes: fc.Arbitrary<Attributes> = fc.record(
  Object.fromEntries(VISIT_COLUMNS.map((column) => [column, pick(POOLS[column])])) as Record<
    VisitColumn,
    fc.Arbitrary<string | null>
  >,
);
const props = maybe(
  fc.record(
    {
      plan: pick(['pro', 'free']),
      n: pick([1, 2, 2.5]),
      flag: fc.constant(true),
      'ui.theme': pick(['dark', 'light']),
      price: pick([19.99, 0.1 + 0.2]),
      label: pick(['👍 like', 'ｗｏｗ']),
    },
    { requiredKeys: [] },
  ),
  { value: 2, none: 1 },
);

const event = fc.record({
  /** After the previous event of the visit: always under the 30-minute session timeout. */
  gapMs: fc.oneof(fc.integer({ min: 0, max: 5 * MINUTE }), fc.integer({ min: 0, max: 30 * MINUTE - 1 })),
  name: fc.oneof(
    { weight: 3, arbitrary: fc.constant('pageview') },
    { weight: 1, arbitrary: pick(['signup', 'click']) },
  ),
  path: pick(POOLS.page),
  hostname: pick(POOLS.hostname),
  props,
  /** Custom events may carry revenue; amounts are sums of quarters, exact in binary floating point. */
  revenue: maybe(fc.record({ amount: pick([1, 9.5, 19.25, 100, 0.75]), currency: pick(['USD', 'USD', 'EUR']) }), {
    value: 1,
    none: 1,
  }),
  /** Most later events carry the visit's own browser and place; some carry others (entry values must win). */
  drift: maybe(attributes, { value: 1, none: 4 }),
});
const visit = fc.record({
  attributes,
  events: fc.array(event, { minLength: 1, maxLength: 6 }),
  /** To the next visit of the same person: the timeout or more. */
  pauseMs: fc.integer({ min: 30 * MINUTE + SECOND, max: 30 * HOUR }),
});
const person = fc.record({
  /** Where the first visit starts: near a local midnight or the clock change, or anywhere. */
  start: fc.oneof(
    fc.record({
      day: fc.integer({ min: WINDOW.first, max: WINDOW.last + 1 }),
      offsetMs: fc.integer({ min: -3 * HOUR, max: 3 * HOUR }),
    }),
    fc.record({ day: fc.constant(0), offsetMs: fc.integer({ min: 0, max: 24 * HOUR }) }),
    fc.record({ day: fc.constant(WINDOW.first), offsetMs: fc.noBias(fc.integer({ min: 0, max: 6 * 24 * HOUR })) }),
  ),
  /** Some people came a week or a year earlier, so that comparisons have data too. */
  era: fc.oneof(
    { weight: 6, arbitrary: fc.constant('now' as const) },
    { weight: 2, arbitrary: fc.constant('week' as const) },
    { weight: 2, arbitrary: fc.constant('year' as const) },
  ),
  visits: fc.array(visit, { minLength: 1, maxLength: 3 }),
});

type PersonShape = typeof person extends fc.Arbitrary<infer T> ? T : never;

/** A project's timezone, the DST day its data is placed around, its events and its goals. */
export interface Scenario {
  timezone: string;
  anchor: string;
  events: RawEvent[];
  goals: OracleGoal[];
}

export const scenario: fc.Arbitrary<Scenario> = fc
  .constantFrom(
    ...Object.entries(ZONE_DAYS).flatMap(([timezone, days]) => days.map((anchor) => ({ timezone, anchor }))),
  )
  .chain(({ timezone, anchor }) =>
    fc
      .tuple(fc.array(person, { minLength: 2, maxLength: 6 }), goalSet)
      .map(([people, goals]) => ({ timezone, anchor, events: build(timezone, anchor, people), goals })),
  );

function build(timezone: string, anchor: string, people: PersonShape[]): RawEvent[] {
  const day0 = parseDate(anchor) as LocalDate;
  const events: RawEvent[] = [];
  people.forEach((who, p) => {
    const day = addDays(day0, who.start.day);
    const shifted = who.era === 'year' ? { ...day, year: day.year - 1 } : who.era === 'week' ? addDays(day, -6) : day;
    let t = firstInstantAt(shifted, timezone) + who.start.offsetMs;
    who.visits.forEach((one, v) => {
      // Like the ProjectDO: the visitor id is salted by the UTC day the visit starts on, and kept;
      // a local midnight ends the visit, and the next one starts with the new day's id.
      // It starts with a hex digit, as a digest does, that spreads the visitors over the rollups'
      // visitor buckets (`bucketRange`, rollup/day-head.ts).
      const utcDay = () => new Date(t).toISOString().slice(0, 10);
      const visitorOf = () => `${((p * 7 + Number(utcDay().slice(8))) % 16).toString(16)}v${p}-${utcDay()}`;
      let visitorId = visitorOf();
      let sessionId = `s${p}-${v}`;
      let seq = 0;
      let day = formatDate(localDate(t, timezone));
      one.events.forEach((step, index) => {
        if (index > 0) t += step.gapMs;
        if (formatDate(localDate(t, timezone)) !== day) {
          day = formatDate(localDate(t, timezone));
          visitorId = visitorOf();
          sessionId = `s${p}-${v}-${day}`;
          seq = 0;
        }
        seq += 1;
        const own =
          index === 0
            ? one.attributes
            : (step.drift ?? {
                ...one.attributes,
                source: null,
                // Ingest gives a later event without referrer or campaign the channel Direct.
                channel: 'Direct',
                utm_source: null,
                utm_medium: null,
                utm_campaign: null,
                utm_term: null,
                utm_content: null,
              });
        events.push({
          id: `e${p}-${v}-${index}`,
          ts: t,
          name: step.name,
          visitor_id: visitorId,
          session_id: sessionId,
          seq,
          is_entry: seq === 1,
          hostname: step.hostname,
          path: step.path,
          referrer: own.source === null ? null : (REFERRERS[own.source] ?? null),
          ...own,
          // Ingest stores no properties as null, never as `{}`.
          props: step.props === null || !Object.keys(step.props).length ? null : JSON.stringify(step.props),
          revenue_amount: step.name !== 'pageview' && step.revenue ? step.revenue.amount : null,
          revenue_currency: step.name !== 'pageview' && step.revenue ? step.revenue.currency : null,
        });
      });
      t += one.pauseMs;
    });
  });
  return events;
}

// ---------------------------------------------------------------------------------------------
// Queries

const TIME_DIMENSIONS = ['time:hour', 'time:day', 'time:week', 'time:month'];
/** Every dimension generated data has a value (or a missing value) for. */
export const FILTER_DIMENSIONS = Object.keys(POOL_VALUES);
const DIMENSIONS = [...FILTER_DIMENSIONS, ...TIME_DIMENSIONS];

const someText = (dimension: string) => pick(POOL_VALUES[dimension]?.filter((value) => value !== null) as string[]);

/** A piece of a real value, in its own case or flipped (contains is case-sensitive), or a LIKE wildcard. */
const fragment = (dimension: string) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(someText(dimension), fc.nat(), fc.nat()).map(([text, a, b]) => {
        const chars = [...text];
        const from = a % chars.length;
        return chars.slice(from, from + 1 + (b % (chars.length - from))).join('');
      }),
    },
    {
      weight: 1,
      arbitrary: someText(dimension).map((text) =>
        text === text.toLowerCase() ? text.toUpperCase() : text.toLowerCase(),
      ),
    },
    { weight: 1, arbitrary: pick(['_', '%', 'e', '/']) },
  );

/** A real value with a run replaced by `*` or a character by `?`, or a fixed pattern. */
const pattern = (dimension: string) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(someText(dimension), fc.nat(), fc.nat(), fc.boolean()).map(([text, a, b, star]) => {
        // By code point: `?` stands for one character, and a pattern never holds half a surrogate pair.
        const chars = [...text];
        const from = a % (chars.length + 1);
        const [head, rest] = [chars.slice(0, from).join(''), chars.slice(from)];
        if (!star) return rest.length ? `${head}?${rest.slice(1).join('')}` : `${text}?`;
        return `${head}*${rest.slice(b % (rest.length + 1)).join('')}`;
      }),
    },
    { weight: 1, arbitrary: someText(dimension) },
    { weight: 1, arbitrary: pick(['*', '?', '/*', '*/*', '%', '_*', '*e*', '[a-z]*']) },
  );

/** A filter on `dimension`: any operator, with values drawn from its pool. */
export const filterOn = (dimension: string): fc.Arbitrary<Filter> =>
  fc
    .oneof(
      {
        weight: 3,
        arbitrary: fc.tuple(
          pick(['is', 'is_not'] as const),
          fc.uniqueArray(pick(POOL_VALUES[dimension] as (string | null)[]), { minLength: 1, maxLength: 2 }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constant('contains' as const),
          fc.array(fragment(dimension), { minLength: 1, maxLength: 2 }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constant('does_not_contain' as const),
          fc.array(
            fc.oneof({ weight: 4, arbitrary: fragment(dimension) }, { weight: 1, arbitrary: fc.constant(null) }),
            {
              minLength: 1,
              maxLength: 2,
            },
          ),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constant('matches' as const),
          fc.array(pattern(dimension), { minLength: 1, maxLength: 2 }),
        ),
      },
    )
    .map(([operator, values]): Filter => [operator, dimension, values]);

const filter: fc.Arbitrary<Filter> = pick(FILTER_DIMENSIONS).chain(filterOn);

/** A query in day offsets from the scenario's anchor; {@link materialize} makes it a request. */
export interface QueryShape {
  metrics: OracleQuery['metrics'];
  goal: GoalShape;
  dimensions: string[];
  filters: Filter[];
  range: { from: number; days: number };
  orderBy: [number, 'asc' | 'desc'][] | null;
  limit: number | null;
  page: number | null;
  totals: boolean;
  timeLabels: boolean;
  compare: 'previous_period' | 'year_over_year' | null;
  /** Ask `exit_rate` too, where the query allows it (an `exit_page` breakdown, no page, goal or totals). */
  exitRate: boolean;
}

export const queryShape: fc.Arbitrary<QueryShape> = fc.record({
  metrics: fc.shuffledSubarray(
    METRICS.filter(
      (metric): metric is Exclude<OracleMetric, 'conversion_rate' | 'exit_rate'> =>
        metric !== 'conversion_rate' && metric !== 'exit_rate',
    ),
    { minLength: 1, maxLength: 4 },
  ),
  goal: goalShape,
  dimensions: fc
    .uniqueArray(pick(DIMENSIONS), { maxLength: 2 })
    .filter((list) => list.filter((dimension) => dimension.startsWith('time:')).length <= 1),
  filters: fc.oneof(
    { weight: 2, arbitrary: fc.constant<Filter[]>([]) },
    { weight: 2, arbitrary: fc.array(filter, { minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.array(filter, { minLength: 2, maxLength: 2 }) },
  ),
  range: fc.oneof(
    { weight: 1, arbitrary: fc.constant({ from: WINDOW.first, days: WINDOW.last - WINDOW.first + 1 }) },
    {
      weight: 2,
      arbitrary: fc.record({
        from: fc.noBias(fc.integer({ min: WINDOW.first, max: WINDOW.last })),
        days: fc.integer({ min: 1, max: 4 }),
      }),
    },
  ),
  /** Indexes into metrics ++ dimensions, taken modulo their number. */
  orderBy: maybe(fc.array(fc.tuple(fc.nat(), pick(['asc', 'desc'] as const)), { minLength: 1, maxLength: 2 }), {
    value: 1,
    none: 2,
  }),
  limit: maybe(fc.integer({ min: 1, max: 6 }), { value: 1, none: 2 }),
  page: maybe(fc.integer({ min: 1, max: 3 }), { value: 1, none: 3 }),
  totals: fc.boolean(),
  timeLabels: fc.boolean(),
  compare: maybe(pick(['previous_period', 'year_over_year'] as const), { value: 1, none: 2 }),
  exitRate: fc.boolean(),
});

/**
 * The request body (without `project`) a shape stands for, around a scenario's anchor day, with
 * the scenario's goal names for `event:goal` (a goal dimension takes one of the two dimensions).
 */
export function materialize(shape: QueryShape, anchor: string, goalNames: readonly string[] = []): OracleQuery {
  const day0 = parseDate(anchor) as LocalDate;
  const from = addDays(day0, shape.range.from);
  const { metrics, dimensions, filters } = withGoals(shape, goalNames);
  const exitRateAllowed =
    dimensions.includes('exit_page') &&
    !['page', 'event:goal', 'time:hour'].some((dimension) => dimensions.includes(dimension)) &&
    !metrics.includes('conversion_rate') &&
    !shape.totals;
  if (shape.exitRate && exitRateAllowed) metrics.push('exit_rate');
  const query: OracleQuery = {
    metrics,
    date_range: [formatDate(from), formatDate(addDays(from, shape.range.days - 1))],
  };
  if (dimensions.length) query.dimensions = dimensions;
  if (filters.length) query.filters = filters;
  if (shape.orderBy) {
    const keys = [...metrics, ...dimensions];
    const seen = new Set<string>();
    query.order_by = shape.orderBy
      .map(([index, direction]): [string, 'asc' | 'desc'] => [keys[index % keys.length] as string, direction])
      .filter(([key]) => !seen.has(key) && Boolean(seen.add(key)));
  }
  if (shape.limit !== null) query.limit = shape.limit;
  if (shape.page !== null) query.page = shape.page;
  const hasTime = dimensions.some((dimension) => dimension.startsWith('time:'));
  const include: NonNullable<OracleQuery['include']> = {};
  if (shape.totals) include.totals = true;
  // time_labels names the buckets of the requested time dimension; without one it is not asked.
  if (shape.timeLabels && hasTime) include.time_labels = true;
  if (shape.compare) include.compare = shape.compare;
  if (Object.keys(include).length) query.include = include;
  return query;
}

// ---------------------------------------------------------------------------------------------
// D1

/** Insert a project (owned by `userId`) straight into D1. */
export async function insertProject(projectId: string, timezone: string, userId: string): Promise<void> {
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      'INSERT INTO projects (id, name, site_key, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).bind(projectId, `Oracle ${projectId}`, `site_${projectId}`, timezone, now, now),
    env.DB.prepare("INSERT INTO members (project_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)").bind(
      projectId,
      userId,
      now,
    ),
  ]);
}

/** The events table's columns, from the drizzle schema: a column added there is inserted here as NULL. */
const COLUMNS = Object.values(getTableColumns(eventsTable)).map((column) => column.name);

/**
 * Insert events as the consumer would have stored them (one statement each: 32 of D1's 100
 * parameters), marking every hour of the project; `markAll: false` leaves the marks to the caller.
 */
export async function insertEvents(projectId: string, events: readonly RawEvent[], markAll = true): Promise<void> {
  if (!events.length) return;
  const statement = env.DB.prepare(
    `INSERT INTO events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
  );
  const row = (event: RawEvent): Record<string, unknown> => ({
    ...event,
    project_id: projectId,
    received_at: event.ts,
    is_entry: event.is_entry ? 1 : 0,
    referrer_host: event.referrer === null ? null : new URL(event.referrer).hostname,
    timezone: null,
    revenue_amount: event.revenue_amount ?? null,
    revenue_currency: event.revenue_currency ?? null,
  });
  await env.DB.batch([
    ...events.map((event) => statement.bind(...COLUMNS.map((column) => row(event)[column] ?? null))),
    ...(markAll ? [markEventHoursStatement(projectId)] : []),
  ]);
}

/**
 * One value of a `filtered` dimension beside a panel's breakdown (by day, week or month too), with
 * or without filters on the breakdown itself: read from filtered rollups (`pair_rollups`).
 */
export const pairFilters = fc
  .tuple(
    fc.constantFrom(...PAIR_FILTERS.filter((dimension) => POOL_VALUES[dimension])),
    fc.constantFrom(...PAIR_BREAKDOWNS.filter((dimension) => dimension === 'time:hour' || POOL_VALUES[dimension])),
  )
  .filter(([filter, breakdown]) => filter !== breakdown)
  .chain(([filter, breakdown]) =>
    fc.tuple(
      queryShape,
      fc.constant(filter),
      fc.constant(breakdown),
      fc.nat(),
      breakdown === 'time:hour' ? fc.constant<Filter[]>([]) : fc.array(filterOn(breakdown), { maxLength: 1 }),
      breakdown === 'time:hour'
        ? fc.constant<string[]>([])
        : fc.constantFrom<string[]>([], ['time:day'], ['time:week'], ['time:month']),
      fc.boolean(),
    ),
  )
  .map(([shape, filter, breakdown, pick, own, times, todayOnly]) => {
    const values = POOL_VALUES[filter] ?? [null];
    return {
      shape: {
        ...shape,
        dimensions: [...times, breakdown],
        filters: [['is', filter, [values[pick % values.length] ?? null]] as Filter, ...own],
        goal: { dimension: null, filter: null, conversionRate: null },
      },
      todayOnly,
    };
  });

/**
 * One value of a `filtered` dimension beside the goals panel's breakdown (by day, week or month
 * too), with or without `conversion_rate`: read from filtered goal rows (`pair_rollups`).
 */
export const pairGoalFilters = fc
  .tuple(
    queryShape,
    fc.constantFrom(...PAIR_FILTERS.filter((dimension) => POOL_VALUES[dimension])),
    fc.nat(),
    fc.constantFrom<string[]>([], ['time:day'], ['time:week'], ['time:month']),
    fc.nat({ max: 1 }),
    fc.option(fc.nat(), { nil: null }),
    fc.boolean(),
  )
  .map(([shape, filter, pick, times, at, conversionRate, todayOnly]) => {
    const values = POOL_VALUES[filter] ?? [null];
    return {
      shape: {
        ...shape,
        dimensions: times,
        filters: [['is', filter, [values[pick % values.length] ?? null]] as Filter],
        goal: { dimension: at, filter: null, conversionRate },
      },
      todayOnly,
    };
  });
