/**
 * The D1 schema and a drizzle client over it.
 *
 * @example
 * ```ts
 * const project = await getDb(env.DB).select().from(projects).where(eq(projects.siteKey, 'demo')).get();
 * ```
 */
import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema.ts';

export * from './schema.ts';

/** A drizzle client bound to a D1 database. */
export function getDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

/** The drizzle client type used across the worker. */
export type Db = ReturnType<typeof getDb>;
