import { asc, eq } from 'drizzle-orm';
import { type Db, members, projectHostnames, projects } from '../db/index.ts';
import { calendarOf, changeZone, lastZoneChange } from '../shared/calendar.ts';
import { clearIsolateCaches } from '../shared/isolate-cache.ts';
import { remarkEventHoursStatements } from '../store/index.ts';
import { uuidv7 } from '../shared/ids.ts';
import type { ProjectAccess, Role } from '../auth/access.ts';
import type { ProjectView } from './schemas.ts';

type Settings = {
  name?: string | undefined;
  hostnames?: { hostname: string; includeSubdomains: boolean }[] | undefined;
  timezone?: string | undefined;
  retentionDays?: number | undefined;
  archiveAfterDays?: number | null | undefined;
  publicLive?: boolean | undefined;
  currency?: string | undefined;
  rateLimits?: Record<string, number | undefined> | null | undefined;
};

/** A fresh public site key: 16 lower-case letters and digits. */
export function newSiteKey(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // 256 % 36 leaves a small bias; a site key is public, so uniformity is not a security property.
  return [...bytes].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/** A project as the API shows it. */
export async function projectView(db: Db, access: ProjectAccess): Promise<ProjectView> {
  const { project, role } = access;
  const hostnames = await db
    .select({ hostname: projectHostnames.hostname, includeSubdomains: projectHostnames.includeSubdomains })
    .from(projectHostnames)
    .where(eq(projectHostnames.projectId, project.id))
    .orderBy(asc(projectHostnames.hostname));
  return {
    id: project.id,
    name: project.name,
    siteKey: project.siteKey,
    timezone: project.timezone,
    timezoneFrom: lastZoneChange(calendarOf(project)),
    retentionDays: project.retentionDays,
    archiveAfterDays: project.archiveHotDays || null,
    publicLive: project.publicLive,
    currency: project.currency,
    rateLimits: project.rateLimits ? (JSON.parse(project.rateLimits) as ProjectView['rateLimits']) : null,
    hostnames,
    role,
    createdAt: project.createdAt,
    updatedAt: project.updatedAt,
  };
}

/** The projects a user is a member of. */
export async function listProjects(db: Db, userId: string): Promise<ProjectView[]> {
  const rows = await db
    .select({ project: projects, role: members.role })
    .from(members)
    .innerJoin(projects, eq(projects.id, members.projectId))
    .where(eq(members.userId, userId))
    .orderBy(asc(projects.name), asc(projects.id));
  return Promise.all(rows.map((row) => projectView(db, row)));
}

function hostnameRows(projectId: string, hostnames: NonNullable<Settings['hostnames']>) {
  // The last entry for a hostname wins, so duplicates in one request cannot collide.
  const unique = new Map(hostnames.map((entry) => [entry.hostname, entry]));
  return [...unique.values()].map((entry) => ({ projectId, ...entry }));
}

/** Create a project owned by `userId`, its data in the pool database `database` (`store/pool.ts`). */
export async function createProject(
  db: Db,
  userId: string,
  input: Required<Settings>,
  now: number,
  database: string,
): Promise<ProjectAccess> {
  const project = {
    id: uuidv7(now),
    name: input.name,
    siteKey: newSiteKey(),
    timezone: input.timezone,
    zones: null,
    retentionDays: input.retentionDays,
    // The superseded column (schema.ts) says "off" too, whatever its SQL default.
    archiveAfterDays: 0,
    archiveHotDays: input.archiveAfterDays || null,
    publicLive: input.publicLive,
    currency: input.currency,
    rateLimits: input.rateLimits ? JSON.stringify(input.rateLimits) : null,
    database,
    createdAt: now,
    updatedAt: now,
  };
  const hostnames = hostnameRows(project.id, input.hostnames);
  await db.batch([
    db.insert(projects).values(project),
    db.insert(members).values({ projectId: project.id, userId, role: 'owner' as Role, createdAt: now }),
    ...(hostnames.length ? [db.insert(projectHostnames).values(hostnames)] : []),
  ]);
  return { project, role: 'owner' };
}

/** Change a project's settings; hostnames, when given, replace the list. */
export async function updateProject(
  db: Db,
  data: Db,
  access: ProjectAccess,
  input: Settings,
  now: number,
): Promise<ProjectAccess> {
  const { project } = access;
  // A new timezone applies from its first midnight after today: the days counted so far keep the
  // zone they were counted in, so nothing stored is recomputed and no answer changes.
  const zoned =
    input.timezone === undefined || input.timezone === project.timezone
      ? null
      : changeZone(calendarOf(project), input.timezone, now);
  const changes = {
    ...(input.name === undefined ? {} : { name: input.name }),
    ...(zoned ? { timezone: input.timezone, zones: zoned.calendar.includes('|') ? zoned.calendar : null } : {}),
    ...(input.retentionDays === undefined ? {} : { retentionDays: input.retentionDays }),
    ...(input.archiveAfterDays === undefined ? {} : { archiveHotDays: input.archiveAfterDays || null }),
    ...(input.publicLive === undefined ? {} : { publicLive: input.publicLive }),
    ...(input.currency === undefined ? {} : { currency: input.currency }),
    ...(input.rateLimits === undefined
      ? {}
      : { rateLimits: input.rateLimits ? JSON.stringify(input.rateLimits) : null }),
    updatedAt: now,
  };
  const hostnames = input.hostnames === undefined ? null : hostnameRows(project.id, input.hostnames);
  // Revenue counts the amounts in the project's currency: a new one re-marks every hour whose day
  // still has all its raw events (the store keeps days past retention as they were rolled up).
  // The marks are in the project's database (store/pool.ts): made before the new currency is
  // written and again after, so that neither a crash nor a rollup run in between leaves a day
  // rolled in the old one unmarked.
  const recount = input.currency !== undefined && input.currency !== project.currency;
  if (recount) await data.batch(remarkEventHoursStatements(data, project.id, now));
  await db.batch([
    db.update(projects).set(changes).where(eq(projects.id, project.id)),
    ...(hostnames === null
      ? []
      : [
          db.delete(projectHostnames).where(eq(projectHostnames.projectId, project.id)),
          ...(hostnames.length ? [db.insert(projectHostnames).values(hostnames)] : []),
        ]),
  ]);
  if (recount) await data.batch(remarkEventHoursStatements(data, project.id, now));
  clearIsolateCaches();
  return { project: { ...project, ...changes }, role: access.role };
}

/** Give a project a new site key; the old one stops working (within a minute in other isolates). */
export async function regenerateSiteKey(db: Db, access: ProjectAccess, now: number): Promise<string> {
  const siteKey = newSiteKey();
  await db.update(projects).set({ siteKey, updatedAt: now }).where(eq(projects.id, access.project.id));
  clearIsolateCaches();
  return siteKey;
}
