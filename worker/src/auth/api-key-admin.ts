/**
 * Managing a project's API keys: create (the secret is returned once and never stored), list,
 * revoke, rotate. Verification of a presented key lives in `api-keys.ts`.
 */
import { and, asc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { apiKeys, type Db } from '../db/index.ts';
import type { ProjectAccess } from './access.ts';
import { ApiError } from '../shared/errors.ts';
import { uuidv7 } from '../shared/ids.ts';
import { API_KEY_SCOPES, type ApiKeyScope, generateApiKey, hashApiKey, parseScopes } from './api-keys.ts';

/** Requests per minute a key may make unless it says otherwise. */
export const DEFAULT_API_KEY_RATE_LIMIT = 600;

/** Whether a key works now. */
export type ApiKeyStatus = 'active' | 'revoked' | 'expired';

/** A key as the list shows it: never its secret, nor the secret's hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The 8 characters after `tly_`, so that an owner can tell keys apart. */
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  usageCount: number;
  rateLimit: number;
  status: ApiKeyStatus;
}

/** A key just made: its view plus the whole secret, shown this once. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

/** What a new key may do. */
export interface NewApiKey {
  name: string;
  scopes: ApiKeyScope[];
  /** When the key stops working (ms); never when absent. */
  expiresAt?: number | undefined;
  /** Requests per minute. */
  rateLimit?: number | undefined;
}

type ApiKeyRow = typeof apiKeys.$inferSelect;

const noSuchKey = () => new ApiError(404, 'not_found', 'No such API key');

/** Revoked wins over expired: a revoked key stays revoked whatever its expiry. */
export function apiKeyStatus(row: Pick<ApiKeyRow, 'revokedAt' | 'expiresAt'>, now: number): ApiKeyStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt !== null && row.expiresAt <= now) return 'expired';
  return 'active';
}

function toView(row: ApiKeyRow, now: number): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: parseScopes(row.scopes),
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
    usageCount: row.usageCount,
    rateLimit: row.rateLimit,
    status: apiKeyStatus(row, now),
  };
}

/** A fresh secret, and what is stored of it. */
async function drawSecret(pepper: string): Promise<{ key: string; prefix: string; secretHash: string }> {
  const { key, prefix } = generateApiKey();
  return { key, prefix, secretHash: await hashApiKey(pepper, key) };
}

/**
 * Make a key for the project. Scopes are stored in one canonical order, so equal keys look equal.
 *
 * @example
 * ```ts
 * const { key } = await createApiKey(db, env.API_KEY_PEPPER, access, { name: 'backend', scopes: ['ingest'] }, Date.now());
 * ```
 */
export async function createApiKey(
  db: Db,
  pepper: string,
  access: ProjectAccess,
  input: NewApiKey,
  now: number,
): Promise<CreatedApiKey> {
  if (input.expiresAt !== undefined && input.expiresAt <= now) {
    throw new ApiError(400, 'invalid_input', 'The request is invalid', [
      { path: ['expiresAt'], message: 'must be in the future' },
    ]);
  }
  const { key, ...secret } = await drawSecret(pepper);
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: uuidv7(now),
      projectId: access.project.id,
      ...secret,
      name: input.name,
      scopes: JSON.stringify(API_KEY_SCOPES.filter((scope) => input.scopes.includes(scope))),
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      rateLimit: input.rateLimit ?? DEFAULT_API_KEY_RATE_LIMIT,
    })
    .returning();
  return { ...toView(row as ApiKeyRow, now), key };
}

/** The project's keys, oldest first, with whether each works now. */
export async function listApiKeys(db: Db, access: ProjectAccess, now: number): Promise<ApiKeyView[]> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.projectId, access.project.id))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
  return rows.map((row) => toView(row, now));
}

/** Stop a key from working. Revoking a revoked key changes nothing (its first revocation time stays). */
export async function revokeApiKey(db: Db, access: ProjectAccess, keyId: string, now: number): Promise<void> {
  const inProject = and(eq(apiKeys.id, keyId), eq(apiKeys.projectId, access.project.id));
  const [updated, existing] = await db.batch([
    db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(inProject, isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id }),
    db.select({ id: apiKeys.id }).from(apiKeys).where(inProject),
  ]);
  if (!updated.length && !existing.length) throw noSuchKey();
}

/**
 * Replace a key with a new secret of the same name, scopes, expiry and rate limit, and revoke the
 * old one. The new row is copied from the old one inside the same transaction, and only while the
 * old key is still active, so two rotations racing cannot leave two live keys. Revoked and expired
 * keys are not rotated (409): make a new key instead.
 */
export async function rotateApiKey(
  db: Db,
  pepper: string,
  access: ProjectAccess,
  keyId: string,
  now: number,
): Promise<CreatedApiKey> {
  const inProject = and(eq(apiKeys.id, keyId), eq(apiKeys.projectId, access.project.id));
  const old = await db.select().from(apiKeys).where(inProject).get();
  if (!old) throw noSuchKey();
  if (apiKeyStatus(old, now) !== 'active') {
    throw new ApiError(409, 'conflict', `This key is ${apiKeyStatus(old, now)}; create a new one instead`);
  }

  const { key, prefix, secretHash } = await drawSecret(pepper);
  const active = and(inProject, isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)));
  // NOTE: INSERT … SELECT names every column in the table's order; a new column goes here too.
  const copy = db
    .select({
      id: sql<string>`${uuidv7(now)}`.as('id'),
      projectId: apiKeys.projectId,
      prefix: sql<string>`${prefix}`.as('prefix'),
      secretHash: sql<string>`${secretHash}`.as('secret_hash'),
      name: apiKeys.name,
      scopes: apiKeys.scopes,
      createdAt: sql<number>`${now}`.as('created_at'),
      expiresAt: apiKeys.expiresAt,
      revokedAt: sql<null>`NULL`.as('revoked_at'),
      lastUsedAt: sql<null>`NULL`.as('last_used_at'),
      usageCount: sql<number>`0`.as('usage_count'),
      rateLimit: apiKeys.rateLimit,
    })
    .from(apiKeys)
    .where(active);
  const [inserted] = await db.batch([
    db.insert(apiKeys).select(copy).returning(),
    db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(inProject, isNull(apiKeys.revokedAt))),
  ]);
  const row = inserted[0];
  if (!row) throw new ApiError(409, 'conflict', 'This key was revoked or rotated meanwhile');
  return { ...toView(row, now), key };
}
