/**
 * Saved segments: a named set of dashboard filters, stored per project and shared with every
 * member. Members and read API keys list them; admins and owners (and admin API keys) save,
 * rename, change and delete them, as they manage goals. Share links see none: a segment's name is
 * the team's own vocabulary, and a link's viewer applies filters by hand.
 */
import { z } from '@hono/zod-openapi';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { ProjectAccess } from '../auth/access.ts';
import { type Db, segments } from '../db/index.ts';
import { FilterSchema } from '../query/schema.ts';
import { isUniqueViolation } from '../shared/db-errors.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import type { Principal } from '../shared/principal.ts';

/**
 * Segments one project keeps at most: a picker of more is a list nobody reads, and the bound keeps
 * a project's rows (each up to 18 filters of 50 values) small.
 */
export const MAX_SEGMENTS = 100;

/**
 * Filters one segment holds: the dashboard's own limit (the query API takes 20, and the
 * dashboard's panels add up to two of their own to a segment's filters).
 */
export const MAX_SEGMENT_FILTERS = 18;

const NameSchema = z.string().trim().min(1).max(100).openapi({ example: 'Paid traffic from Germany' });

const FiltersSchema = z
  .array(FilterSchema)
  .min(1)
  .max(MAX_SEGMENT_FILTERS)
  .openapi({
    description: `1 to ${MAX_SEGMENT_FILTERS} filters, exactly as \`POST /api/v1/query\` takes them`,
    example: [['is', 'country', ['DE']]],
  });

/** A new segment. */
export const CreateSegmentSchema = z
  .strictObject({ name: NameSchema, filters: FiltersSchema })
  .openapi('CreateSegment');
export type CreateSegmentInput = z.infer<typeof CreateSegmentSchema>;

/** A change to a segment: a new name, new filters, or both. */
export const UpdateSegmentSchema = CreateSegmentSchema.partial().openapi('UpdateSegment', {
  description: 'Fields to change; `filters` replaces every filter',
});
export type UpdateSegmentInput = z.infer<typeof UpdateSegmentSchema>;

/** A segment as the API shows it. */
export const SegmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    filters: z.array(FilterSchema),
    createdBy: z.string().nullable().openapi({ description: 'The user who saved it; null once that account is gone' }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi('Segment');
export type SegmentView = z.infer<typeof SegmentSchema>;

type SegmentRow = typeof segments.$inferSelect;

function segmentView(row: SegmentRow): SegmentView {
  // Written only by this module, from validated filters.
  const filters = JSON.parse(row.filters) as SegmentView['filters'];
  return {
    id: row.id,
    name: row.name,
    filters,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const noSuchSegment = () => new ApiError(404, 'not_found', 'No such segment');
const nameTaken = () =>
  new ApiError(409, 'conflict', 'Another segment has this name', [
    { path: ['name'], message: 'another segment has this name' },
  ]);
const tooMany = () =>
  new ApiError(409, 'conflict', `A project keeps at most ${MAX_SEGMENTS} segments; delete one first`, [
    { path: [], message: `at most ${MAX_SEGMENTS} segments per project` },
  ]);

/**
 * Share links read a project's stats, not its team's segments (403, as for any other setting).
 * Called after `authorizeProject`, which has already answered 404 for a link of another project.
 */
export function refuseShareLinks(principal: Principal | null): void {
  if (principal?.kind === 'share') throw new ApiError(403, 'forbidden', 'Share links cannot read segments');
}

/** A project's segments, by name. */
export async function listSegments(db: Db, access: ProjectAccess): Promise<SegmentView[]> {
  const rows = await db
    .select()
    .from(segments)
    .where(eq(segments.projectId, access.project.id))
    .orderBy(asc(segments.name), asc(segments.id));
  return rows.map(segmentView);
}

/**
 * Save a segment. Names are unique within a project (409), and a project keeps at most
 * {@link MAX_SEGMENTS}: the count and the insert are one statement, so two saves at once cannot
 * pass the bound together.
 */
export async function createSegment(
  db: Db,
  access: ProjectAccess,
  userId: string | null,
  input: CreateSegmentInput,
  now: number,
): Promise<SegmentView> {
  const projectId = access.project.id;
  const row: SegmentRow = {
    id: uuidv7(now),
    projectId,
    name: input.name,
    filters: JSON.stringify(input.filters),
    createdBy: userId,
    createdAt: now,
    updatedAt: now,
  };
  try {
    const inserted = await db.run(sql`
      INSERT INTO ${segments} (id, project_id, name, filters, created_by, created_at, updated_at)
      SELECT ${row.id}, ${projectId}, ${row.name}, ${row.filters}, ${row.createdBy}, ${now}, ${now}
      WHERE (SELECT count(*) FROM ${segments} WHERE project_id = ${projectId}) < ${MAX_SEGMENTS}`);
    if (!inserted.meta.changes) throw tooMany();
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
  return segmentView(row);
}

/** Rename a segment or replace its filters. */
export async function updateSegment(
  db: Db,
  access: ProjectAccess,
  segmentId: string,
  patch: UpdateSegmentInput,
  now: number,
): Promise<SegmentView> {
  const where = and(eq(segments.id, segmentId), eq(segments.projectId, access.project.id));
  const changes = {
    ...(patch.name === undefined ? {} : { name: patch.name }),
    ...(patch.filters === undefined ? {} : { filters: JSON.stringify(patch.filters) }),
  };
  try {
    // An empty patch changes nothing, not even the time of the last change: it reads the segment back.
    const rows = Object.keys(changes).length
      ? await db
          .update(segments)
          .set({ ...changes, updatedAt: now })
          .where(where)
          .returning()
      : await db.select().from(segments).where(where);
    if (!rows[0]) throw noSuchSegment();
    return segmentView(rows[0]);
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

/** Delete a segment of this project; one of another project is 404 like a missing one. */
export async function deleteSegment(db: Db, access: ProjectAccess, segmentId: string): Promise<void> {
  const deleted = await db
    .delete(segments)
    .where(and(eq(segments.id, segmentId), eq(segments.projectId, access.project.id)))
    .returning({ id: segments.id });
  if (!deleted[0]) throw noSuchSegment();
}
