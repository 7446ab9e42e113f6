import { eq } from 'drizzle-orm';
import { getDb, projectHostnames, projects } from '../db/index.ts';
import { parseRateLimits, type RateLimits } from '../live/rate-limit.ts';
import { calendarOf } from '../shared/calendar.ts';

/** What ingest needs to know about a project. */
export interface SiteConfig {
  id: string;
  siteKey: string;
  timezone: string;
  hostnames: { hostname: string; includeSubdomains: boolean }[];
  limits: RateLimits;
}

/** A project's ingest configuration by its public site key, or null if no project has it. */
export async function loadSiteBySiteKey(d1: D1Database, siteKey: string): Promise<SiteConfig | null> {
  const db = getDb(d1);
  const project = await db.select().from(projects).where(eq(projects.siteKey, siteKey)).get();
  return project ? withHostnames(d1, project) : null;
}

/** A project's ingest configuration by its id, or null if it does not exist. */
export async function loadSiteById(d1: D1Database, projectId: string): Promise<SiteConfig | null> {
  const db = getDb(d1);
  const project = await db.select().from(projects).where(eq(projects.id, projectId)).get();
  return project ? withHostnames(d1, project) : null;
}

async function withHostnames(d1: D1Database, project: typeof projects.$inferSelect): Promise<SiteConfig> {
  const hostnames = await getDb(d1)
    .select({ hostname: projectHostnames.hostname, includeSubdomains: projectHostnames.includeSubdomains })
    .from(projectHostnames)
    .where(eq(projectHostnames.projectId, project.id));
  return {
    id: project.id,
    siteKey: project.siteKey,
    // The calendar: visits end at its midnights, the zone in force at each instant.
    timezone: calendarOf(project),
    hostnames,
    limits: parseRateLimits(project.rateLimits),
  };
}
