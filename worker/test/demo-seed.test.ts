/**
 * The dev demo seed (scripts/seed.ts), applied to a real D1 the way `npm run dev` applies it: it is
 * idempotent, and the demo account can sign in, owns the demo project, and can track localhost.
 * With its history (scripts/demo-history.ts) and its goals (scripts/demo-goals.ts, through the
 * API), the first screen has visitors today, goal conversions and a funnel.
 */
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword } from '../src/auth/password.ts';
import { clearSiteCache } from '../src/ingest/index.ts';
import { ORIGIN, pageview, postEvent } from './helpers.ts';

/** The part of scripts/seed.ts these tests use. */
interface SeedModule {
  DEMO: {
    email: string;
    password: string;
    projectId: string;
    projectName: string;
    siteKey: string;
    hostnames: readonly string[];
  };
  buildSeedSql(input: { passwordHash: string; userId: string; now: number }): string;
}

/** A goal or funnel step as the API takes it. */
type Step = { kind: 'pageview'; path: string } | { kind: 'event'; eventName: string };
type ApiCall = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<unknown>;

/** The part of scripts/demo-goals.ts these tests use. */
interface GoalsModule {
  DEMO_GOALS: readonly (Step & { name: string })[];
  DEMO_FUNNEL: { name: string; steps: readonly Step[] };
  signIn(
    fetcher: (url: string, init: RequestInit) => Promise<Response>,
    origin: string,
    account: { email: string; password: string },
  ): Promise<ApiCall>;
  ensureDemoGoals(api: ApiCall, projectId: string): Promise<string[]>;
}

/** The part of scripts/demo-history.ts these tests use. */
interface HistoryModule {
  demoFills(now: number, lastEvents: ReadonlyMap<string, number>, days?: number): unknown[];
  buildHistorySql(projectId: string, hostname: string, fills: readonly unknown[]): { sql: string; events: number };
}

// NOTE: scripts/ is a TypeScript project of its own, outside the worker's rootDir, so a static import
// fails `tsc -p worker` (TS6059/TS6307). A computed specifier keeps tsc out of it while vitest still
// loads the real module; the interfaces above are checked against it by the tests themselves.
const script = (name: string) => new URL(`../../scripts/${name}`, import.meta.url).pathname;
const { buildSeedSql, DEMO } = (await import(/* @vite-ignore */ script('seed.ts'))) as SeedModule;
const { DEMO_FUNNEL, DEMO_GOALS, ensureDemoGoals, signIn } = (await import(
  /* @vite-ignore */ script('demo-goals.ts')
)) as GoalsModule;
const { buildHistorySql, demoFills } = (await import(/* @vite-ignore */ script('demo-history.ts'))) as HistoryModule;

/**
 * The statements of a SQL script, as `wrangler d1 execute --file` reads them: split on `;` outside
 * string literals, `--` comments dropped. (D1's `exec` refuses a line that is only a comment.)
 */
function statementsOf(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < script.length; i++) {
    const char = script[i] as string;
    if (quoted) {
      current += char;
      if (char !== "'") continue;
      // A doubled quote is an escaped quote and keeps the literal open.
      if (script[i + 1] === "'") current += script[++i];
      else quoted = false;
    } else if (char === "'") {
      quoted = true;
      current += char;
    } else if (char === '-' && script[i + 1] === '-') {
      while (i < script.length && script[i] !== '\n') i++;
    } else if (char === ';') {
      if (current.trim()) statements.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}

/** Run the seed's SQL in one transaction, as wrangler runs the file. */
async function applySeed(script: string): Promise<void> {
  await env.DB.batch(statementsOf(script).map((statement) => env.DB.prepare(statement)));
}

async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

beforeAll(async () => {
  const passwordHash = await hashPassword(DEMO.password);
  // Twice, as every `npm run dev` does: with a new user id and time, which must change nothing.
  await applySeed(buildSeedSql({ passwordHash, userId: crypto.randomUUID(), now: Date.now() }));
  await applySeed(
    buildSeedSql({ passwordHash: await hashPassword(DEMO.password), userId: crypto.randomUUID(), now: Date.now() + 1 }),
  );
  clearSiteCache();
});

describe('the demo seed', () => {
  it('is idempotent: one user, one project, its hostnames, one owner', async () => {
    expect(await count('SELECT COUNT(*) AS n FROM users WHERE email = ?', DEMO.email)).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM projects WHERE id = ?', DEMO.projectId)).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM projects WHERE site_key = ?', DEMO.siteKey)).toBe(1);
    const { results: hostnames } = await env.DB.prepare(
      'SELECT hostname FROM project_hostnames WHERE project_id = ? ORDER BY hostname',
    )
      .bind(DEMO.projectId)
      .all<{ hostname: string }>();
    expect(hostnames.map((row) => row.hostname)).toEqual([...DEMO.hostnames].sort());
    const { results: members } = await env.DB.prepare(
      'SELECT u.email, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.project_id = ?',
    )
      .bind(DEMO.projectId)
      .all();
    expect(members).toEqual([{ email: DEMO.email, role: 'owner' }]);
  });

  it('refuses values it cannot write as SQL literals', () => {
    expect(() => buildSeedSql({ passwordHash: 'a\0b', userId: 'u', now: 1 })).toThrow();
    expect(() => buildSeedSql({ passwordHash: 'h', userId: 'u', now: 1.5 })).toThrow();
    // A quote in a value is doubled, not a way out of the literal.
    const script = buildSeedSql({ passwordHash: "it's; -- not a comment", userId: 'u', now: 1 });
    expect(script).toContain("'it''s; -- not a comment'");
    // User, project, each hostname, membership: the quoted `;` and `--` split nothing.
    const statements = statementsOf(script);
    expect(statements).toHaveLength(3 + DEMO.hostnames.length);
    expect(statements.every((statement) => statement.startsWith('INSERT OR IGNORE INTO'))).toBe(true);
  });

  it('lets the demo account sign in and own the demo project', async () => {
    const signIn = await exports.default.fetch(`${ORIGIN}/api/auth/signin`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ email: DEMO.email, password: DEMO.password, mode: 'token' }),
    });
    const session = (await signIn.json()) as { accessToken: string };
    expect(signIn.status, JSON.stringify(session)).toBe(200);

    const me = await exports.default.fetch(`${ORIGIN}/api/auth/me`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { user: { email: string }; projects: unknown[] };
    expect(body.user.email).toBe(DEMO.email);
    expect(body.projects).toEqual([
      { id: DEMO.projectId, name: DEMO.projectName, siteKey: DEMO.siteKey, role: 'owner' },
    ]);
  });

  it('accepts events from localhost with the demo site key', async () => {
    const response = await postEvent(pageview(DEMO.siteKey, { u: 'http://localhost/' }));
    const body = (await response.json()) as { accepted: number };
    expect(response.status, JSON.stringify(body)).toBe(202);
    expect(body.accepted).toBe(1);
  });

  describe('with its history and goals, on a weekday afternoon', () => {
    const NOW = Date.UTC(2026, 10, 24, 15, 42);
    const api = () => signIn((url, init) => exports.default.fetch(url, init), ORIGIN, DEMO);
    const query = async (body: Record<string, unknown>) => {
      const answer = (await (
        await api()
      )('POST', '/api/v1/query', { project: DEMO.projectId, ...body })) as {
        results: { dimensions: string[]; metrics: number[] }[];
      };
      return answer.results;
    };

    beforeAll(async () => {
      // As `npm start` at NOW: the last week and today, up to NOW.
      const history = buildHistorySql(DEMO.projectId, DEMO.hostnames[0] as string, demoFills(NOW, new Map(), 7));
      expect(history.events).toBeGreaterThan(1_000);
      await applySeed(history.sql);
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('gets its two goals and its funnel through the API, once', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW);
      const names = [...DEMO_GOALS.map((goal) => goal.name), DEMO_FUNNEL.name];
      expect(await ensureDemoGoals(await api(), DEMO.projectId)).toEqual(names);
      expect(await ensureDemoGoals(await api(), DEMO.projectId)).toEqual([]);
      const { goals } = (await (
        await api()
      )('GET', `/api/projects/${DEMO.projectId}/goals`)) as {
        goals: { name: string; kind: string }[];
      };
      expect(goals.map((goal) => [goal.name, goal.kind]).sort()).toEqual([
        ['Signup', 'event'],
        ['Visit pricing', 'pageview'],
      ]);
    });

    it('shows visitors today up to now, both goals converting, and visits walking the funnel', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW);
      const [today] = await query({ metrics: ['visitors', 'pageviews'], date_range: 'today' });
      expect(today?.metrics[0]).toBeGreaterThan(50);
      // The hours of today so far have traffic; the hours after NOW have none yet.
      const hours = await query({ metrics: ['visitors'], date_range: 'today', dimensions: ['time:hour'] });
      const busy = hours
        .filter((row) => (row.metrics[0] ?? 0) > 0)
        .map((row) => Number(row.dimensions[0]?.slice(11, 13)));
      expect(Math.max(...busy)).toBe(15);
      expect(busy.length).toBeGreaterThan(12);
      const goals = await query({ metrics: ['visitors'], date_range: '7d', dimensions: ['event:goal'] });
      expect(goals.map((row) => row.dimensions[0]).sort()).toEqual(['Signup', 'Visit pricing']);
      expect(goals.every((row) => (row.metrics[0] ?? 0) > 0)).toBe(true);
      const { funnels } = (await (
        await api()
      )('GET', `/api/projects/${DEMO.projectId}/funnels`)) as {
        funnels: { id: string }[];
      };
      const funnel = (await (
        await api()
      )('POST', '/api/v1/funnel', {
        project: DEMO.projectId,
        funnel: funnels[0]?.id,
        date_range: '7d',
      })) as { steps: { visits: number }[] };
      expect(funnel.steps).toHaveLength(DEMO_FUNNEL.steps.length);
      expect(funnel.steps.every((step) => step.visits > 0)).toBe(true);
    });
  });
});
