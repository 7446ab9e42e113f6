/**
 * The dashboard's one door to the API worker. Every call goes to the dashboard's own origin
 * (`/api/*`, forwarded to the worker), so the HttpOnly session cookies travel by themselves.
 *
 * - Errors come back as `ApiError` with the worker's `{ error: { code, message, details } }`.
 * - A 401 on a signed-in call refreshes the session once (`POST /api/auth/refresh`, shared by
 *   concurrent callers) and retries; if that fails, `onUnauthorized` runs (send to sign-in).
 * - Share mode (the public view) sends `X-Tally-Share` and never cookies: a signed-in visitor who
 *   is not a member must still see the shared project rather than a 404 for their own session.
 */
import type { QueryRequest, QueryResponse } from './types.ts';

/** A failed API call: the worker's error code and message, or `network` when it could not be reached. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { path?: (string | number)[]; message: string }[],
  ) {
    super(message);
  }

  /** The message for one field of a form, if the worker named it. */
  fieldMessage(field: string): string | undefined {
    return this.details?.find((detail) => detail.path?.[0] === field)?.message;
  }
}

export interface ApiOptions {
  fetch?: typeof fetch;
  /** Public share view: the slug, and the token of a password-protected link. */
  share?: { slug: string; token?: string | null };
  /**
   * No cookies, no share header, no refresh on 401: a share link's password exchange. The worker
   * takes `X-Tally-Share` as the caller's credential, and refuses a locked link's slug without
   * its token before the password route would run.
   */
  anonymous?: boolean;
  /** Runs when the session is gone for good (refresh failed). */
  onUnauthorized?: () => void;
  /** How long identical stats queries are answered from memory (ms); 0 turns the cache off. */
  queryCacheMs?: number;
  now?: () => number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Paths that start or end a session: a 401 from them is an answer, not an expired session. */
const SESSION_PATHS = /^\/api\/auth\/(signin|signup|refresh|signout)$/;

const FALLBACK_MESSAGES: Record<number, string> = {
  401: 'Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  429: 'Too many requests; wait a moment and retry.',
  500: 'Something went wrong on our side.',
  502: 'The API is unreachable right now.',
  503: 'The API is unavailable right now; retry in a moment.',
};

/** Turn a failed response into an ApiError, whatever its body. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): fall back to the status.
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const message =
    typeof error?.message === 'string'
      ? error.message
      : (FALLBACK_MESSAGES[response.status] ?? `Request failed (${response.status})`);
  const code = typeof error?.code === 'string' ? error.code : `http_${response.status}`;
  const details = Array.isArray(error?.details) ? (error.details as ApiError['details']) : undefined;
  return new ApiError(response.status, code, message, details);
}

/** The API client the dashboard's pages share. */
export type Api = ReturnType<typeof createApi>;

/**
 * Create a client. Pages use the one in `$lib/api/index.ts`; tests pass their own `fetch`.
 *
 * @example
 * ```ts
 * const api = createApi({ onUnauthorized: () => goto('/signin') });
 * const { projects } = await api.get<{ projects: Project[] }>('/api/projects');
 * ```
 */
export function createApi(options: ApiOptions = {}) {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const now = options.now ?? Date.now;
  const cacheMs = options.queryCacheMs ?? 30_000;
  const queryCache = new Map<string, { at: number; value: Promise<QueryResponse> }>();
  let refreshing: Promise<boolean> | null = null;

  function headers(extra: Record<string, string> | undefined, json: boolean): Record<string, string> {
    const result: Record<string, string> = { Accept: 'application/json', ...extra };
    if (json) result['Content-Type'] = 'application/json';
    if (options.share) {
      result['X-Tally-Share'] = options.share.slug;
      if (options.share.token) result['X-Tally-Share-Token'] = options.share.token;
    }
    return result;
  }

  async function send(method: string, path: string, body: unknown, request: RequestOptions): Promise<Response> {
    try {
      return await doFetch(path, {
        method,
        headers: headers(request.headers, body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: request.signal,
        credentials: options.share || options.anonymous ? 'omit' : 'same-origin',
      });
    } catch (error) {
      if ((error as { name?: string })?.name === 'AbortError') throw error;
      throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and retry.');
    }
  }

  /** One refresh at a time: parallel 401s wait for the same one. */
  function refresh(): Promise<boolean> {
    refreshing ??= send('POST', '/api/auth/refresh', undefined, {})
      .then((response) => response.ok)
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  async function raw(method: string, path: string, body?: unknown, request: RequestOptions = {}): Promise<Response> {
    let response = await send(method, path, body, request);
    if (response.status === 401 && !options.share && !options.anonymous && !SESSION_PATHS.test(path)) {
      if (await refresh()) response = await send(method, path, body, request);
      if (response.status === 401) options.onUnauthorized?.();
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async function json<T>(method: string, path: string, body?: unknown, request?: RequestOptions): Promise<T> {
    const response = await raw(method, path, body, request);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  return {
    get: <T>(path: string, request?: RequestOptions) => json<T>('GET', path, undefined, request),
    post: <T>(path: string, body?: unknown, request?: RequestOptions) => json<T>('POST', path, body, request),
    patch: <T>(path: string, body: unknown, request?: RequestOptions) => json<T>('PATCH', path, body, request),
    delete: (path: string, body?: unknown, request?: RequestOptions) => json<void>('DELETE', path, body, request),

    /**
     * `POST /api/v1/query`. Identical queries within `queryCacheMs` share one answer, so the back
     * button and tab switches redraw at once; `fresh` skips the memory (retry, live refresh).
     */
    query(body: QueryRequest, request: RequestOptions & { fresh?: boolean } = {}): Promise<QueryResponse> {
      const key = JSON.stringify(body);
      const hit = queryCache.get(key);
      if (!request.fresh && hit && now() - hit.at < cacheMs) return hit.value;
      // The cached promise is not tied to one caller's AbortSignal: an abort must not poison it.
      const value = json<QueryResponse>('POST', '/api/v1/query', body);
      if (cacheMs > 0) {
        queryCache.set(key, { at: now(), value });
        value.catch(() => queryCache.delete(key));
        if (queryCache.size > 200) queryCache.delete(queryCache.keys().next().value as string);
      }
      return request.signal ? abortable(value, request.signal) : value;
    },

    /** Forget cached stats (after a settings change, or a manual refresh). */
    clearQueryCache() {
      queryCache.clear();
    },

    /** A file download (CSV, zip): the body and the name the worker suggests. */
    async download(path: string, body: unknown): Promise<{ blob: Blob; filename: string }> {
      const response = await raw('POST', path, body);
      const disposition = response.headers.get('content-disposition') ?? '';
      const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'tally-export';
      return { blob: await response.blob(), filename };
    },
  };
}

/** A promise that rejects with an AbortError when `signal` aborts, without cancelling `promise`. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DOMException('Aborted', 'AbortError'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException('Aborted', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** True for the rejection of an aborted request, which callers ignore. */
export function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}
