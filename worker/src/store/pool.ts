/**
 * The pool of D1 databases and the project → database map. `DB` is the control database (accounts,
 * projects and their settings, goals, funnels, keys, links, the quarantine) and the pool's first
 * member; `DB_1`, `DB_2`, … (wrangler.toml) are the others. A project's data-plane rows — events,
 * marks, rollups, rollup state, drop counts — live in the database its `projects.database` names.
 * Every database of the pool carries the same migrations, so any of them can take any project.
 *
 * The map is read, never cached: a cached entry would outlive a move's switch and send writes and
 * reads to the database the project left. Callers that hold the project row (every API route, via
 * `authorizeProject`) use {@link databaseOf} and pay nothing; the consumer reads the map once per
 * batch for all its projects ({@link projectDatabases}).
 */

/** The binding name of the control database, also the pool's first member. */
export const CONTROL_DATABASE = 'DB';

const POOL_BINDING = /^DB(_\d+)?$/;

/** A pool database by binding name, or an error naming the binding that is not bound. */
export function poolDatabase(env: Pick<Env, 'DB'>, name: string): D1Database {
  const binding = POOL_BINDING.test(name) ? (env as unknown as Record<string, unknown>)[name] : undefined;
  if (!binding) throw new Error(`D1 binding ${name} is not bound (wrangler.toml)`);
  return binding as D1Database;
}

/** The pool's bindings: `DB`, then `DB_1`, `DB_2`, … in number order. */
export function poolNames(env: Env): string[] {
  const numbered = Object.keys(env)
    .filter((key) => POOL_BINDING.test(key) && key !== CONTROL_DATABASE)
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  return [CONTROL_DATABASE, ...numbered];
}

/** The database of a project whose row the caller holds. */
export function databaseOf(env: Env, project: { database: string }): D1Database {
  return poolDatabase(env, project.database);
}

/**
 * The database of a project, from the map (one primary-key read of the control database), or null
 * for a project that does not exist (deleted while its events were on the queue).
 *
 * @example
 * ```ts
 * const d1 = await projectDb(env, projectId);
 * if (d1) await d1.prepare('SELECT COUNT(*) FROM events WHERE project_id = ?').bind(projectId).first();
 * ```
 */
export async function projectDb(env: Env, projectId: string): Promise<D1Database | null> {
  const row = await env.DB.prepare('SELECT database FROM projects WHERE id = ?')
    .bind(projectId)
    .first<{ database: string }>();
  return row ? poolDatabase(env, row.database) : null;
}

/** Project id → its database's binding name, for the projects that exist among `projectIds`. */
export async function projectDatabases(
  env: Pick<Env, 'DB'>,
  projectIds: readonly string[],
): Promise<Map<string, string>> {
  if (!projectIds.length) return new Map();
  const { results } = await env.DB.prepare(
    'SELECT id, database FROM projects WHERE id IN (SELECT value FROM json_each(?))',
  )
    .bind(JSON.stringify([...new Set(projectIds)]))
    .all<{ id: string; database: string }>();
  return new Map(results.map((row) => [row.id, row.database]));
}

/**
 * The database a new project goes to: the one holding the fewest projects (ties: pool order).
 * Least-loaded rather than round-robin because it needs no state of its own and stays right
 * after moves, deletions and a database added to the pool (which then takes every new project
 * until it has caught up). Project count is a proxy for load — a project's volume is unknown when
 * it is created — and a project that outgrows its share is moved (`move.ts`).
 */
export async function pickDatabase(env: Env): Promise<string> {
  const names = newProjectDatabases(env);
  const [first] = names;
  if (names.length === 1 && first) return first;
  const { results } = await env.DB.prepare('SELECT database, COUNT(*) AS n FROM projects GROUP BY database').all<{
    database: string;
    n: number;
  }>();
  const counts = new Map(results.map((row) => [row.database, row.n]));
  let best = first ?? CONTROL_DATABASE;
  for (const name of names) if ((counts.get(name) ?? 0) < (counts.get(best) ?? 0)) best = name;
  return best;
}

/**
 * The databases that take new projects: `NEW_PROJECT_DATABASES` (comma-separated bindings, e.g. to
 * keep a nearly full database, or one reserved for a big project, out), or the whole pool.
 */
function newProjectDatabases(env: Env): string[] {
  const pool = poolNames(env);
  const listed = (env.NEW_PROJECT_DATABASES ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (!listed.length) return pool;
  for (const name of listed) if (!pool.includes(name)) throw new Error(`NEW_PROJECT_DATABASES: ${name} is not bound`);
  return listed;
}

/**
 * The settings of the projects mapped to one pool database, among `projectIds`: what the data-plane
 * statements once joined from `projects`, read from the control database instead. A project not
 * in the result has been deleted, moved away, or is being moved (its rows must hold still while
 * they are copied; once the map has switched, only the source's rows are being deleted, and the
 * target's are rolled up and purged again): its rows there are not rolled up or purged.
 */
export async function projectSettings(
  env: Env,
  database: string,
  projectIds: readonly string[],
): Promise<Map<string, ProjectSettings>> {
  if (!projectIds.length) return new Map();
  const { results } = await env.DB.prepare(
    `SELECT id, COALESCE(zones, timezone) AS timezone, currency, retention_days AS retentionDays
     FROM projects WHERE database = ?1 AND id IN (SELECT value FROM json_each(?2))
       AND id NOT IN (SELECT project_id FROM project_moves WHERE step <> 'clean')`,
  )
    .bind(database, JSON.stringify([...new Set(projectIds)]))
    .all<ProjectSettings>();
  return new Map(results.map((row) => [row.id, row]));
}

/**
 * The projects being moved into pool database `database` and not yet switched: their rows there
 * are a copy in progress, neither fenced (the target takes their writes from the switch on) nor its
 * own yet. The rollup job leaves them out of its bounded reads (`oldestMarksStatement`,
 * `markStaleDays`): a big project's copied marks would otherwise take every place in them and,
 * dropped by {@link projectSettings}, keep the database's other projects from being rolled up
 * until the switch. A handful of rows: moves are started one project at a time by the operator.
 */
export async function projectsMovingInto(env: Pick<Env, 'DB'>, database: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT project_id AS projectId FROM project_moves WHERE target = ? AND step <> 'clean'",
  )
    .bind(database)
    .all<{ projectId: string }>();
  return results.map((row) => row.projectId);
}

/** A project's settings as rollups and the retention purge use them. */
export interface ProjectSettings {
  id: string;
  /** The project's calendar (`shared/calendar.ts`). */
  timezone: string;
  currency: string;
  retentionDays: number;
}

/** The two databases a project's reads need: its settings and goals, and its numbers. */
export interface ProjectDatabases {
  /** `DB`: goals, funnels and the project's settings. */
  control: D1Database;
  /** The project's pool database: events, marks, rollups. */
  data: D1Database;
}

/** {@link ProjectDatabases} of a project whose row the caller holds. */
export function databasesOf(env: Env, project: { database: string }): ProjectDatabases {
  return { control: env.DB, data: databaseOf(env, project) };
}
