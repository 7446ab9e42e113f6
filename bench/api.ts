/**
 * The benchmark sets itself up through Tally's public API, as a user would: sign up, create a
 * project (no hostname restriction, rate limits lifted so that the load is measured, not refused),
 * and a `read` API key for the stats API.
 */
import { randomBytes } from 'node:crypto';

/** A signed-up account with one project. */
export interface BenchProject {
  id: string;
  siteKey: string;
  /** Bearer token of the account (access JWT, valid 15 minutes). */
  token: string;
  /** A `read` API key of the project. */
  readKey: string;
}

/**
 * Limits far above what one machine can send: the benchmark measures the path, not the limiter.
 * (The limiter still runs: every request takes its tokens.)
 */
const BENCH_RATE_LIMITS = {
  projectRate: 1_000_000,
  projectBurst: 1_000_000,
  visitorRate: 100_000,
  visitorBurst: 100_000,
};

async function call<T>(url: string, init: { method?: string; token?: string; body?: unknown }): Promise<T> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      'content-type': 'application/json',
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body === undefined ? null : JSON.stringify(init.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${init.method ?? 'POST'} ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** Sign up a fresh account and sign in with tokens. */
export async function signUp(origin: string): Promise<{ token: string; email: string; password: string }> {
  const email = `bench-${randomBytes(4).toString('hex')}@tally.local`;
  const password = randomBytes(12).toString('hex');
  const session = await call<{ accessToken: string }>(`${origin}/api/auth/signup`, {
    body: { email, password, mode: 'token' },
  });
  return { token: session.accessToken, email, password };
}

/** Sign in again (access tokens live 15 minutes; a full run is longer). */
export async function signIn(origin: string, email: string, password: string): Promise<string> {
  const session = await call<{ accessToken: string }>(`${origin}/api/auth/signin`, {
    body: { email, password, mode: 'token' },
  });
  return session.accessToken;
}

/** Create a project owned by the token's account, with the bench's rate limits, and a read key. */
export async function createBenchProject(origin: string, token: string, name: string): Promise<BenchProject> {
  const project = await call<{ id: string; siteKey: string }>(`${origin}/api/projects`, {
    token,
    body: { name, timezone: 'UTC', hostnames: [], rateLimits: BENCH_RATE_LIMITS },
  });
  const key = await call<{ key: string }>(`${origin}/api/projects/${project.id}/keys`, {
    token,
    body: { name: 'bench', scopes: ['read'], rateLimit: 100_000 },
  });
  return { id: project.id, siteKey: project.siteKey, token, readKey: key.key };
}

/** Add goals to a project (before its events are written: a new goal re-marks the days with events). */
export async function createGoals(
  origin: string,
  token: string,
  projectId: string,
  goals: readonly Record<string, string>[],
): Promise<void> {
  for (const goal of goals) await call(`${origin}/api/projects/${projectId}/goals`, { token, body: goal });
}

/** Add a funnel to a project; returns its id. */
export async function createFunnel(
  origin: string,
  token: string,
  projectId: string,
  funnel: { name: string; steps: readonly Record<string, string>[] },
): Promise<string> {
  return (await call<{ id: string }>(`${origin}/api/projects/${projectId}/funnels`, { token, body: funnel })).id;
}

/**
 * A stats answer with its timing; through the meter Worker also D1's rows read and the Worker's own
 * time. A refused request is an answer too (D1 bills what it read before the refusal).
 */
export interface QueryAnswer {
  ms: number;
  body: unknown;
  rowsRead: number | null;
  handlerMs: number | null;
  /** What the API said instead of numbers: `400 too_expensive: This question would read…`. */
  error?: string;
}

/** The API's error shape as one line: status, code, message. */
function errorLine(status: number, text: string): string {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return `${status} ${error?.code ?? ''}: ${error?.message ?? ''}`.slice(0, 300);
  } catch {
    return `${status}: ${text.slice(0, 200)}`;
  }
}

/** POST a stats request (`/api/v1/query` unless `path` says otherwise: the funnel, the drop counts). */
export async function postQuery(
  origin: string,
  key: string,
  query: unknown,
  path = '/api/v1/query',
): Promise<QueryAnswer> {
  const started = performance.now();
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(query),
    signal: AbortSignal.timeout(300_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  const header = (name: string) => {
    const value = response.headers.get(name);
    return value === null ? null : Number(value);
  };
  return {
    ms,
    body: response.ok ? JSON.parse(text) : null,
    rowsRead: header('x-bench-rows-read'),
    handlerMs: header('x-bench-handler-ms'),
    ...(response.ok ? {} : { error: errorLine(response.status, text) }),
  };
}
