/**
 * Moving a project to another database of the pool (ARCHITECTURE.md, "The pool"): fence the source,
 * copy the data-plane tables in key order, verify them, switch the map, delete the source's rows.
 * Every step is recorded in `project_moves` (control database) before the next begins, and every
 * piece of work is one that can be done again, so a move cut short anywhere is finished by calling
 * again — from the operator's route or the cron, whichever comes first; a lease keeps it to one at a time.
 */
import { ApiError } from '../shared/errors.ts';
import { copyChunk, type Cursor, deleteChunk, MOVED_TABLES, type TableCheck, verifyChunk } from './move-rows.ts';
import { poolDatabase, poolNames } from './pool.ts';

/** Where a move is: copying, verifying, switching the map, deleting the source's rows. */
export type MoveStep = 'copy' | 'verify' | 'switch' | 'clean';

/** A move's state after a call. */
export interface MoveProgress {
  projectId: string;
  source: string;
  target: string;
  /** `done`: the project is in `target` and nothing of it is left in `source`. */
  step: MoveStep | 'done';
  /** The table the step is at (null once done). */
  table: string | null;
  /** Verify passes that found a difference and started the copy again. */
  attempts: number;
  /** Another call holds the move (its lease): this one did nothing. */
  busy: boolean;
}

/**
 * How long (ms) to work per call, how many D1 calls it may make, and the clock the lease is read by
 * (tests pass a later one).
 */
export interface MoveOptions {
  budgetMs?: number;
  /** D1 calls (each a statement or a batch) this call may make; see {@link DEFAULT_CALLS}. */
  calls?: number;
  now?: number;
}

interface MoveRow {
  projectId: string;
  source: string;
  target: string;
  step: MoveStep;
  tableIndex: number;
  cursor: Cursor | null;
  checks: string | null;
  attempts: number;
}

/**
 * A runner's hold on a move. NOTE: a D1 statement runs at most 30 s, so a runner stops starting
 * work 30 s before its lease ends; whatever it started is over before anyone else may take it.
 */
const LEASE_MS = 120_000;
const STATEMENT_MS = 30_000;
/** A Worker request's share of wall time: the cron or the next call carries on from there. */
const DEFAULT_BUDGET_MS = 20_000;
/** Verify passes that may differ before the move is called off (the source is fenced: none should). */
const MAX_ATTEMPTS = 3;
/**
 * NOTE: a Worker invocation may make at most 1,000 D1 calls (Workers Paid; 50 on Free). A move
 * stops at this many, as it stops at its time budget, and the next call carries on; the route's
 * invocation does little else. The cron's does (rollups, the archive): it passes a smaller share.
 */
export const DEFAULT_CALLS = 800;
/** The most D1 calls one {@link advance} makes: a delete, a read, a write and the record. */
const CALLS_PER_ADVANCE = 4;
/** The D1 calls of a call around its advances: the claim, two reads, the fences, the release. */
const CALLS_PER_CONTINUE = 6;

/**
 * Move a project's data to pool database `target`, or carry on with its move there: as far as
 * `budgetMs` allows. Starting records the move; 400 for a binding the pool lacks, 404 for no such
 * project, 409 if it is already there or moving elsewhere.
 *
 * @example
 * ```ts
 * const progress = await moveProject(env, projectId, 'DB_1');
 * if (progress.step !== 'done') console.log('the cron carries on; call again to follow', progress);
 * ```
 */
export async function moveProject(
  env: Env,
  projectId: string,
  target: string,
  options: MoveOptions = {},
): Promise<MoveProgress> {
  // The messages name neither the caller's input nor the pool's bindings.
  if (!poolNames(env).includes(target))
    throw new ApiError(400, 'invalid_input', 'Not a database of the pool', [
      { path: ['database'], message: 'Not a database of the pool' },
    ]);
  const project = await env.DB.prepare('SELECT database FROM projects WHERE id = ?')
    .bind(projectId)
    .first<{ database: string }>();
  if (!project) throw new ApiError(404, 'not_found', 'No such project');
  let move = await readMove(env, projectId);
  if (!move) {
    if (project.database === target) throw new ApiError(409, 'conflict', 'The project is already in that database');
    await env.DB.prepare(
      `INSERT INTO project_moves (project_id, source, target, step, started_at, updated_at)
       VALUES (?1, ?2, ?3, 'copy', ?4, ?4) ON CONFLICT DO NOTHING`,
    )
      .bind(projectId, project.database, target, options.now ?? Date.now())
      .run();
    move = await readMove(env, projectId);
    if (!move) throw new ApiError(404, 'not_found', 'No such project');
  }
  if (move.target !== target)
    throw new ApiError(409, 'conflict', 'The project is moving to another database; call again with that one');
  return continueMove(env, move, options, { calls: options.calls ?? DEFAULT_CALLS });
}

/**
 * Carry on with the moves in progress (the cron), within `budgetMs`. Returns the moves worked on.
 * One move failing does not hold back the others: a move called off (its copy kept differing) is
 * logged and is over; any other failure is thrown once every move has had its turn, so that the
 * cron reports the step failed (and D1's fault, if it is one).
 */
export async function continueMoves(
  env: Env,
  budgetMs: number,
  now = Date.now(),
  calls = DEFAULT_CALLS,
): Promise<MoveProgress[]> {
  const deadline = Date.now() + budgetMs;
  // Shared by the moves of this run: each gets what the ones before it left.
  const budget = { calls: calls - 1 };
  const { results } = await env.DB.prepare(
    `SELECT project_id AS projectId FROM project_moves WHERE lease_until IS NULL OR lease_until <= ?
     ORDER BY updated_at LIMIT 10`,
  )
    .bind(now)
    .all<{ projectId: string }>();
  const progress: MoveProgress[] = [];
  let failure: unknown = null;
  for (const { projectId } of results) {
    const left = deadline - Date.now();
    if (left <= 0 || budget.calls < 1 + CALLS_PER_CONTINUE + CALLS_PER_ADVANCE) break;
    try {
      budget.calls -= 1;
      const move = await readMove(env, projectId);
      if (move) progress.push(await continueMove(env, move, { budgetMs: left, now }, budget));
    } catch (error) {
      if (error instanceof MoveCalledOff) console.warn(`move of ${projectId}: ${error.message}`);
      else {
        console.error(`move of ${projectId} failed:`, error instanceof Error ? error.message : String(error));
        failure ??= error;
      }
    }
  }
  if (failure) throw failure;
  return progress;
}

/** A move given up (`callOff`): to the caller of the route a 409, to the cron a line in the log. */
class MoveCalledOff extends ApiError {
  constructor() {
    super(409, 'conflict', 'The copy kept differing from the source; the move was called off');
  }
}

/**
 * Work on one move under a lease until its time or `budget.calls` (D1 calls, counted down as they
 * are spent: the cron's moves share one count) runs out.
 */
async function continueMove(
  env: Env,
  first: MoveRow,
  options: MoveOptions,
  budget: { calls: number },
): Promise<MoveProgress> {
  // Counted up front, the worst case: a call cut short by an error has spent no more.
  budget.calls -= CALLS_PER_CONTINUE;
  const now = options.now ?? Date.now();
  const lease = now + LEASE_MS;
  const deadline = Date.now() + Math.min(options.budgetMs ?? DEFAULT_BUDGET_MS, LEASE_MS - STATEMENT_MS);
  const claim = await env.DB.prepare(
    'UPDATE project_moves SET lease_until = ?2 WHERE project_id = ?1 AND (lease_until IS NULL OR lease_until <= ?3)',
  )
    .bind(first.projectId, lease, now)
    .run();
  if (!claim.meta.changes) return progressOf((await readMove(env, first.projectId)) ?? first, true);
  let move = await readMove(env, first.projectId);
  try {
    // Before anything is copied (and again on every call until the switch, in case a crash came
    // between recording the move and raising it): the source refuses the project's writes — the
    // consumer retries them, and the cron's rollups and purge cannot change what is being copied
    // (migrations 0014, 0015) — and the target takes them (a fence left by an earlier move away).
    if (move && move.step !== 'clean') await setFences(env, move);
    let last = move ?? first;
    while (move && Date.now() < deadline && budget.calls >= CALLS_PER_ADVANCE) {
      budget.calls -= CALLS_PER_ADVANCE;
      const next = await advance(env, move, lease);
      if (next === 'lost') return progressOf((await readMove(env, move.projectId)) ?? move, true);
      last = move;
      move = next;
    }
    return move ? progressOf(move, false) : { ...progressOf(last, false), step: 'done', table: null };
  } finally {
    await env.DB.prepare('UPDATE project_moves SET lease_until = NULL WHERE project_id = ? AND lease_until = ?')
      .bind(first.projectId, lease)
      .run()
      .catch(() => undefined);
  }
}

async function setFences(env: Env, move: MoveRow): Promise<void> {
  await poolDatabase(env, move.source)
    .prepare('INSERT INTO project_fences (project_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING')
    .bind(move.projectId, Date.now())
    .run();
  await poolDatabase(env, move.target)
    .prepare('DELETE FROM project_fences WHERE project_id = ?')
    .bind(move.projectId)
    .run();
}

type Checks = Record<string, { source: TableCheck; target: TableCheck }>;
const NO_CHECK: TableCheck = { count: 0, sum: '' };

/**
 * One bounded piece of the move's current step, then its state recorded (only while `lease` is
 * still this runner's). Returns the new state, null once the move is done, or `lost`.
 */
async function advance(env: Env, move: MoveRow, lease: number): Promise<MoveRow | null | 'lost'> {
  const source = poolDatabase(env, move.source);
  const target = poolDatabase(env, move.target);
  const table = MOVED_TABLES[move.tableIndex];
  const last = move.tableIndex + 1 >= MOVED_TABLES.length;
  const nextTable = { tableIndex: move.tableIndex + 1, cursor: null };
  if (move.step === 'copy' && table) {
    // A table's copy starts on an empty target: rows left by a copy that verification rejected,
    // or by a stay there long ago, are not the source's.
    // One chunk of them per advance (its D1 calls are bounded: CALLS_PER_ADVANCE); the next
    // advance deletes again until none is left, then copies.
    if (move.cursor === null && !(await deleteChunk(target, table, move.projectId))) return move;
    const cursor = await copyChunk(source, target, table, move.projectId, move.cursor);
    if (cursor !== null) return save(env, move, lease, { cursor });
    return save(env, move, lease, last ? { step: 'verify', tableIndex: 0, cursor: null, checks: null } : nextTable);
  }
  if (move.step === 'verify' && table) {
    const checks = JSON.parse(move.checks ?? '{}') as Checks;
    const sides = checks[table.name] ?? { source: NO_CHECK, target: NO_CHECK };
    const chunk = await verifyChunk(source, target, table, move.projectId, move.cursor, sides);
    if (chunk.source.count !== chunk.target.count || chunk.source.sum !== chunk.target.sum) {
      console.warn(`move of ${move.projectId}: ${table.name} differs in ${move.target}; copying again`);
      if (move.attempts + 1 >= MAX_ATTEMPTS) return callOff(env, move, lease);
      return save(env, move, lease, {
        step: 'copy',
        tableIndex: 0,
        cursor: null,
        checks: null,
        attempts: move.attempts + 1,
      });
    }
    const checked = JSON.stringify({ ...checks, [table.name]: { source: chunk.source, target: chunk.target } });
    if (chunk.cursor !== null) return save(env, move, lease, { cursor: chunk.cursor, checks: checked });
    return save(
      env,
      move,
      lease,
      last ? { step: 'switch', tableIndex: 0, cursor: null, checks: checked } : { ...nextTable, checks: checked },
    );
  }
  if (move.step === 'switch') {
    // The target has every row and takes the project's writes; the source refuses them, and keeps
    // refusing them after the switch: a consumer that read the map before it retries, and lands
    // in the target. The map and the step change in one transaction, only under this lease.
    const [, stepped] = await env.DB.batch([
      env.DB.prepare(
        `UPDATE projects SET database = ?2 WHERE id = ?1 AND database = ?3 AND EXISTS
           (SELECT 1 FROM project_moves WHERE project_id = ?1 AND lease_until = ?4 AND step = 'switch')`,
      ).bind(move.projectId, move.target, move.source, lease),
      env.DB.prepare(
        `UPDATE project_moves SET step = 'clean', table_index = 0, cursor = NULL, updated_at = ?3
         WHERE project_id = ?1 AND lease_until = ?2 AND step = 'switch'
           AND EXISTS (SELECT 1 FROM projects WHERE id = ?1 AND database = ?4)`,
      ).bind(move.projectId, lease, Date.now(), move.target),
    ]);
    return stepped?.meta.changes ? { ...move, step: 'clean', tableIndex: 0, cursor: null } : 'lost';
  }
  if (move.step === 'clean' && table) {
    if (!(await deleteChunk(source, table, move.projectId))) return move;
    if (!last) return save(env, move, lease, nextTable);
    // Done. The source's fence stays: a writer that read the map before the switch is refused.
    const done = await env.DB.prepare('DELETE FROM project_moves WHERE project_id = ? AND lease_until = ?')
      .bind(move.projectId, lease)
      .run();
    return done.meta.changes ? null : 'lost';
  }
  throw new Error(`move of ${move.projectId}: step ${move.step} has no table ${move.tableIndex}`);
}

/** Record a move's new state if `lease` still holds it. */
async function save(env: Env, move: MoveRow, lease: number, next: Partial<MoveRow>): Promise<MoveRow | 'lost'> {
  const row = { ...move, ...next };
  const result = await env.DB.prepare(
    `UPDATE project_moves SET step = ?3, table_index = ?4, cursor = ?5, checks = ?6, attempts = ?7, updated_at = ?8
     WHERE project_id = ?1 AND lease_until = ?2`,
  )
    .bind(move.projectId, lease, row.step, row.tableIndex, row.cursor, row.checks, row.attempts, Date.now())
    .run();
  return result.meta.changes ? row : 'lost';
}

/**
 * Give the move up (the copy kept differing from the source): the project stays where it is and
 * takes writes again. The fence goes first, then the record: a crash between leaves a move that
 * the next call takes up again, never a project fenced in its own database with no move to end it.
 */
async function callOff(env: Env, move: MoveRow, lease: number): Promise<never> {
  await poolDatabase(env, move.source)
    .prepare('DELETE FROM project_fences WHERE project_id = ?')
    .bind(move.projectId)
    .run();
  await env.DB.prepare('DELETE FROM project_moves WHERE project_id = ? AND lease_until = ?')
    .bind(move.projectId, lease)
    .run();
  throw new MoveCalledOff();
}

async function readMove(env: Env, projectId: string): Promise<MoveRow | null> {
  return env.DB.prepare(
    `SELECT project_id AS projectId, source, target, step, table_index AS tableIndex, cursor, checks, attempts
     FROM project_moves WHERE project_id = ?`,
  )
    .bind(projectId)
    .first<MoveRow>();
}

function progressOf(move: MoveRow, busy: boolean): MoveProgress {
  const { projectId, source, target, step, attempts } = move;
  return { projectId, source, target, step, table: MOVED_TABLES[move.tableIndex]?.name ?? null, attempts, busy };
}
