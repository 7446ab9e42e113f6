/** Drop totals into D1 (events themselves are written by `store/events.ts`). */
import { getTableName } from 'drizzle-orm';
import { dropCounts } from '../db/schema.ts';
import type { DropsMessage } from './messages.ts';

/**
 * Running totals keep the larger value, so that a resent total cannot inflate the count.
 * (The WHERE clause also tells SQLite's parser that `ON CONFLICT` is the upsert clause, not a join.)
 */
const UPSERT_DROPS = `INSERT INTO ${getTableName(dropCounts)} (project_id, day, reason, count)
SELECT ?1, value ->> '$.day', value ->> '$.reason', value ->> '$.count' FROM json_each(?2) WHERE true
ON CONFLICT (project_id, day, reason) DO UPDATE SET count = max(count, excluded.count)`;

/** The statement that records a project's drop totals (in its database, for a project that exists). */
export function upsertDropsStatement(d1: D1Database, message: DropsMessage): D1PreparedStatement {
  return d1.prepare(UPSERT_DROPS).bind(message.projectId, JSON.stringify(message.totals));
}
