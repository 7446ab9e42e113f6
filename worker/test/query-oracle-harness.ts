/**
 * The plumbing of the query oracle's tests: an account signed in through the real route, projects
 * seeded straight into D1 (events and goals), the real Worker asked, and events for hand-checked
 * examples, which must give the hand-counted answer in the oracle and in the API alike.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, expect } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { type OracleQuery, type QueryResponse, type RawEvent, runOracle } from './query-oracle.ts';
import { insertEvents, insertProject } from './query-oracle-data.ts';
import { insertGoals, type OracleGoal } from './query-oracle-goals.ts';

const ORIGIN = 'http://tally.test';
export interface Owner {
  userId: string;
  token: string;
}
/** The account of the test file, signed in by {@link signInBeforeAll}. */
let owner: Owner;

/** A new account, signed in through the real route (token mode). */
export async function signUp(): Promise<Owner> {
  const res = await exports.default.fetch(`${ORIGIN}/api/auth/signup`, {
    method: 'POST',
    headers: { origin: ORIGIN, 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `oracle-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: 'correct horse',
      mode: 'token',
    }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = await res.json<{ user: { id: string }; accessToken: string }>();
  return { userId: body.user.id, token: body.accessToken };
}

/** Sign the test file's account up before its tests run. */
export function signInBeforeAll(): void {
  beforeAll(async () => {
    owner = await signUp();
  });
}

/** A project of its own in `timezone`, owned by the test user, holding `events` and `goals`. */
export async function seed(
  timezone: string,
  events: readonly RawEvent[],
  goals: readonly OracleGoal[] = [],
  as: Owner = owner,
): Promise<string> {
  const projectId = `q-${crypto.randomUUID().slice(0, 12)}`;
  await insertProject(projectId, timezone, as.userId);
  await insertEvents(projectId, events);
  await insertGoals(projectId, goals);
  return projectId;
}

/** Post a query (the body without `project`) to the real Worker. */
export function post(projectId: string, query: unknown, as: Owner = owner): Promise<Response> {
  return exports.default.fetch(`${ORIGIN}/api/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${as.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project: projectId, ...(query as object) }),
  });
}

/** Ask the real Worker; anything but a 200 fails with the error body in view. */
export async function ask(projectId: string, query: OracleQuery, as: Owner = owner): Promise<unknown> {
  const res = await post(projectId, query, as);
  const text = await res.text();
  expect(res.status, `${JSON.stringify(query)} → ${text}`).toBe(200);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------
// Examples checked by hand

let counter = 0;
/** An event with plain defaults; each example overrides what it is about. */
export function event(iso: string, fields: Partial<RawEvent> = {}): RawEvent {
  counter += 1;
  return {
    id: `x${counter}`,
    ts: Date.parse(iso),
    name: 'pageview',
    visitor_id: 'va',
    session_id: 'sa',
    seq: 1,
    is_entry: true,
    hostname: 'example.com',
    path: '/',
    referrer: null,
    source: null,
    utm_source: null,
    utm_medium: null,
    channel: null,
    utm_campaign: null,
    utm_term: null,
    utm_content: null,
    country: 'DE',
    region: null,
    city: null,
    browser: 'Firefox',
    browser_version: '133.0',
    os: 'Linux',
    os_version: null,
    device: 'desktop',
    screen: 'Desktop',
    language: null,
    props: null,
    ...fields,
    ...(fields.seq !== undefined && fields.is_entry === undefined ? { is_entry: fields.seq === 1 } : {}),
  };
}

/** The oracle must give the hand-counted answer, and so must the API. */
export async function expectAnswers(
  timezone: string,
  events: RawEvent[],
  cases: [OracleQuery, QueryResponse][],
  { as = owner, goals = [] }: { as?: Owner; goals?: readonly OracleGoal[] } = {},
): Promise<void> {
  for (const [query, expected] of cases) {
    expect(runOracle(events, query, { timezone, goals }), JSON.stringify(query)).toEqual(expected);
  }
  const projectId = await seed(timezone, events, goals, as);
  for (const [query, expected] of cases) {
    expect(await ask(projectId, query, as), JSON.stringify(query)).toEqual(expected);
  }
  // Once the closed days are rolled up, the answers read rollups where they can: the same numbers.
  await rollUpAll(env, Date.now());
  for (const [query, expected] of cases) {
    expect(await ask(projectId, query, as), `rolled up: ${JSON.stringify(query)}`).toEqual(expected);
  }
}

export const row = (dimensions: (string | null)[], metrics: number[]) => ({ dimensions, metrics });

/** Events written after the fact (late), each hour marked as the consumer's batch marks it. */
export async function writeLate(projectId: string, late: readonly RawEvent[]): Promise<void> {
  await insertEvents(projectId, late, false);
  for (const hour of new Set(late.map((event) => Math.floor(event.ts / 3_600_000)))) {
    await env.DB.prepare(
      'INSERT INTO rollup_dirty (project_id, hour, mark) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET mark = mark + 1',
    )
      .bind(projectId, hour)
      .run();
  }
}

/** What the retention purge leaves of a project cut at `before`: its events before it gone, `raw_from` there (statements). */
export function purgedBefore(projectId: string, before: number): D1PreparedStatement[] {
  return [
    env.DB.prepare('DELETE FROM events WHERE project_id = ? AND ts < ?').bind(projectId, before),
    env.DB.prepare(
      'INSERT INTO rollup_state (project_id, version, updated_at, raw_from) VALUES (?, 1, 0, ?) ON CONFLICT (project_id) DO UPDATE SET raw_from = excluded.raw_from, version = version + 1',
    ).bind(projectId, before),
  ];
}
