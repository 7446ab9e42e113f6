/**
 * The archive's per-project lease (`archive_runs`): one run at a time archives a project. A run
 * claims it before its first step, and every statement that records a day or names a new object
 * checks it again. Deleting or resetting a project puts a fence on it (`delete.ts`): taken from
 * whoever holds it, claimable by no run while it stands, so no key is named or recorded after the
 * fence went up, and a write under way learns that its object must go.
 */

/** How long a claim lasts: far beyond one run's wall budget, short enough after a crash. */
export const LEASE_MS = 10 * 60_000;

/** A claim on a project's archive. */
export interface ArchiveLease {
  projectId: string;
  holder: string;
}

/**
 * SQL true while `lease` is held, over ?1 project, and the parameters `holder` and `at` (the clock
 * of the check) — for use inside the store's statements.
 */
export function leaseHeldSql(holder: string, at: string): string {
  return `EXISTS (SELECT 1 FROM archive_runs WHERE project_id = ?1 AND holder = ${holder} AND expires_at > ${at})`;
}

/**
 * Claim a project's archive until `Date.now() + LEASE_MS`: granted when nobody holds it or the last
 * claim expired, and only for a project that exists (in `control`, the pool's control database) and
 * that `d1` (its pool database) is not fenced against (a move, `move.ts`). Returns the lease, or null
 * when another run holds it or the project is gone or fenced.
 * NOTE: the two databases are read apart (no statement joins the planes): a deletion that removes
 * the project between the read and the claim still revokes the claim (`clearProjectArchive` fences
 * it, and the deletion's last step deletes it).
 */
export async function claimArchiveLease(
  d1: D1Database,
  projectId: string,
  control: D1Database = d1,
): Promise<ArchiveLease | null> {
  const exists = await control.prepare('SELECT 1 FROM projects WHERE id = ?').bind(projectId).first();
  if (!exists) return null;
  const holder = crypto.randomUUID();
  const now = Date.now();
  const { meta } = await d1
    .prepare(
      `INSERT INTO archive_runs (project_id, holder, expires_at) SELECT ?1, ?2, ?3
       WHERE NOT EXISTS (SELECT 1 FROM project_fences WHERE project_id = ?1)
       ON CONFLICT (project_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE archive_runs.expires_at <= ?4`,
    )
    .bind(projectId, holder, now + LEASE_MS, now)
    .run();
  return meta.changes > 0 ? { projectId, holder } : null;
}

/** The holders of fences start with this; a run's holder is a bare UUID. */
const FENCE_PREFIX = 'fence:';

/**
 * Put a fence on a project's archive (for a deletion or a reset): the lease is taken from whoever
 * holds it, whatever its expiry, until `Date.now() + LEASE_MS` — far beyond the few statements it
 * guards, and a fence left by a crashed reset frees the project's archive by itself.
 */
export async function fenceArchive(d1: D1Database, projectId: string): Promise<ArchiveLease> {
  const fence = { projectId, holder: `${FENCE_PREFIX}${crypto.randomUUID()}` };
  await d1
    .prepare(
      `INSERT INTO archive_runs (project_id, holder, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (project_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
    )
    .bind(projectId, fence.holder, Date.now() + LEASE_MS)
    .run();
  return fence;
}

/** Give a lease back (its refusal memory stays). */
export async function releaseArchiveLease(d1: D1Database, lease: ArchiveLease): Promise<void> {
  await d1
    .prepare('UPDATE archive_runs SET expires_at = 0 WHERE project_id = ? AND holder = ?')
    .bind(lease.projectId, lease.holder)
    .run();
}

/** Whether `lease` is still held now. */
export async function holdsLease(d1: D1Database, lease: ArchiveLease): Promise<boolean> {
  const held = await d1
    .prepare(`SELECT ${leaseHeldSql('?2', '?3')} AS held`)
    .bind(lease.projectId, lease.holder, Date.now())
    .first<number>('held');
  return held === 1;
}

/**
 * Whether a project's lease was taken away by a deletion or a reset: a fence stands on it, or its
 * row is gone (deleted with the project, or by the end of a reset) — rather than taken by a run.
 */
export async function leaseRevoked(d1: D1Database, projectId: string): Promise<boolean> {
  const row = await d1
    .prepare('SELECT holder FROM archive_runs WHERE project_id = ?')
    .bind(projectId)
    .first<{ holder: string }>();
  return row === null || row.holder.startsWith(FENCE_PREFIX);
}

/**
 * Remember that a day was refused as too big, so that the job does not read it again before
 * `retryAt` (and its project's later days wait behind it, as `raw_from` requires).
 */
export async function rememberRefusal(d1: D1Database, lease: ArchiveLease, day: string, retryAt: number) {
  await d1
    .prepare('UPDATE archive_runs SET refused_day = ?3, retry_at = ?4 WHERE project_id = ?1 AND holder = ?2')
    .bind(lease.projectId, lease.holder, day, retryAt)
    .run();
}
