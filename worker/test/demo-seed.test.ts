/**
 * The dev demo seed (scripts/seed.ts), applied to a real D1 the way `npm run dev` applies it: it is
 * idempotent, and the demo account can sign in, owns the demo project, and can track localhost.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
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

// NOTE: scripts/ is a TypeScript project of its own, outside the worker's rootDir, so a static import
// fails `tsc -p worker` (TS6059/TS6307). A computed specifier keeps tsc out of it while vitest still
// loads the real module; the interface above is checked against it by the tests themselves.
const SEED_MODULE = new URL('../../scripts/seed.ts', import.meta.url).pathname;
const { buildSeedSql, DEMO } = (await import(/* @vite-ignore */ SEED_MODULE)) as SeedModule;

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
});
