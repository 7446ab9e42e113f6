import { hmacSha256Hex } from '../shared/crypto.ts';
import { eq } from 'drizzle-orm';
import { apiKeys, getDb } from '../db/index.ts';
import { API_KEY_SCOPES, type ApiKeyScope } from '../shared/principal.ts';
import { constantTimeEqual } from './password.ts';

export { API_KEY_SCOPES, type ApiKeyScope };

/** A verified key. */
export interface VerifiedApiKey {
  id: string;
  projectId: string;
  scopes: ApiKeyScope[];
  /** Requests per minute the key may make (enforced by its project's DO). */
  rateLimit: number;
}

/** `tly_` + 8-character lookup prefix + `_` + 32-character secret. */
const API_KEY_PATTERN = /^tly_([a-z0-9]{8})_([A-Za-z0-9]{32})$/;
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALPHABET = `ABCDEFGHIJKLMNOPQRSTUVWXYZ${LOWER}`;

/**
 * Draw a new API key. The whole key is shown to its owner once; only its prefix and HMAC are kept.
 *
 * @example
 * ```ts
 * const { key, prefix } = generateApiKey(); // key: 'tly_k3j9x0ab_…'
 * ```
 */
export function generateApiKey(): { key: string; prefix: string } {
  const prefix = randomString(8, LOWER);
  return { key: `tly_${prefix}_${randomString(32, ALPHABET)}`, prefix };
}

/** HMAC-SHA256 of a key with the server pepper, hex. A leaked table alone cannot be used to sign in. */
export async function hashApiKey(pepper: string, key: string): Promise<string> {
  return hmacSha256Hex(pepper, key);
}

/**
 * The key's project, scopes and rate limit, or null when it is malformed, unknown, revoked or
 * expired — the caller answers all of those alike, so nothing can be learnt by probing.
 */
export async function verifyApiKey(
  d1: D1Database,
  pepper: string,
  key: string,
  now: number,
): Promise<VerifiedApiKey | null> {
  const match = API_KEY_PATTERN.exec(key);
  const prefix = match?.[1];
  // Hash even for malformed keys, so a bad key costs the same time as a good one.
  const hash = await hashApiKey(pepper, key);
  if (!prefix) return null;
  const row = await getDb(d1).select().from(apiKeys).where(eq(apiKeys.prefix, prefix)).get();
  const encoder = new TextEncoder();
  const stored = encoder.encode(row?.secretHash ?? '0'.repeat(64));
  if (!constantTimeEqual(encoder.encode(hash), stored) || !row) return null;
  if (row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null;
  return { id: row.id, projectId: row.projectId, scopes: parseScopes(row.scopes), rateLimit: row.rateLimit };
}

/** Count a use of a key (for the key list's "last used" and "usage count"). */
export async function recordApiKeyUse(d1: D1Database, keyId: string, now: number): Promise<void> {
  await d1
    .prepare('UPDATE api_keys SET last_used_at = ?, usage_count = usage_count + 1 WHERE id = ?')
    .bind(now, keyId)
    .run();
}

/** A key's stored scopes (a JSON array); anything unknown is ignored, never granted. */
export function parseScopes(json: string): ApiKeyScope[] {
  try {
    const scopes: unknown = JSON.parse(json);
    return Array.isArray(scopes)
      ? scopes.filter((s): s is ApiKeyScope => (API_KEY_SCOPES as readonly unknown[]).includes(s))
      : [];
  } catch {
    return [];
  }
}

function randomString(length: number, alphabet: string): string {
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}
