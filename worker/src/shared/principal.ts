/**
 * Who is calling: a signed-in user, an API key of one project, or a share link of one project.
 * `auth/principal.ts` finds out; every layer may read it (it depends on nothing).
 */

/** What an API key may do: send events, read stats, manage the project. */
export const API_KEY_SCOPES = ['ingest', 'read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** A metered request: allowed, or refused until `retryAfter` seconds from now. */
export type ApiKeyTokenResult = { ok: true } | { ok: false; retryAfter: number };
/** A share link's request: allowed, or refused by the link's or the address's bucket. */
export type ShareTokenResult = { ok: true } | { ok: false; scope: 'link' | 'address'; retryAfter: number };

/**
 * What authentication asks of a project's ProjectDO (which implements it): one call per request
 * that spends a token of an API key's bucket, or of a share link's and its caller's.
 */
export interface ProjectMeters {
  takeApiKeyToken(keyId: string, perMinute: number, now: number): Promise<ApiKeyTokenResult>;
  takeShareTokens(shareId: string, addressHash: string, now: number): Promise<ShareTokenResult>;
}

/** Who is calling. */
export type Principal =
  | { kind: 'user'; userId: string; sessionId: string }
  | { kind: 'apiKey'; keyId: string; projectId: string; scopes: ApiKeyScope[] }
  | { kind: 'share'; shareId: string; projectId: string };
