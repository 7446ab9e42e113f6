import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Machine-readable error codes; a client can switch on them. */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_input'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'unknown_site'
  | 'method_not_allowed'
  | 'conflict'
  | 'password_required'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** One failing field of an invalid request, as `details` carries it. */
export interface FieldIssue {
  /** Path to the field, e.g. `[0, "p", "plan"]`. */
  path: (string | number)[];
  message: string;
}

/**
 * An expected failure: `app.onError` turns it into `{ error: { code, message, details? } }`
 * with its status. Throw it anywhere below a handler.
 *
 * @example
 * ```ts
 * throw new ApiError(404, 'unknown_site', 'No project has this site key');
 * ```
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body every error response carries. */
  toBody(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}
