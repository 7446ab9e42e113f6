/**
 * Who is calling: a signed-in user, an API key of one project, or a share link of one project.
 * `auth/principal.ts` finds out; every layer may read it (it depends on nothing).
 */

/** What an API key may do: send events, read stats, manage the project. */
export const API_KEY_SCOPES = ['ingest', 'read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Who is calling. */
export type Principal =
  | { kind: 'user'; userId: string; sessionId: string }
  | { kind: 'apiKey'; keyId: string; projectId: string; scopes: ApiKeyScope[] }
  | { kind: 'share'; shareId: string; projectId: string };
