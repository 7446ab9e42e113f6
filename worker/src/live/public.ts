/**
 * The public live counter's switch: `projects.public_live`, set through the project settings. The
 * Worker checks it for every new counter socket; the ProjectDO rechecks it while any is open.
 */
import { eq } from 'drizzle-orm';
import { getDb, projects } from '../db/index.ts';

/** The project whose site key this is, if it shows a public live counter; null otherwise. */
export async function publicLiveProject(d1: D1Database, siteKey: string): Promise<{ id: string } | null> {
  const row = await getDb(d1)
    .select({ id: projects.id, publicLive: projects.publicLive })
    .from(projects)
    .where(eq(projects.siteKey, siteKey))
    .get();
  return row?.publicLive ? { id: row.id } : null;
}

/** Whether a project (still) shows its public live counter; false once it is deleted. */
export async function publicLiveEnabled(d1: D1Database, projectId: string): Promise<boolean> {
  const row = await getDb(d1)
    .select({ publicLive: projects.publicLive })
    .from(projects)
    .where(eq(projects.id, projectId))
    .get();
  return row?.publicLive ?? false;
}
