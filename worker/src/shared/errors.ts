import type { StoreFaultCode } from '@tally/sdk/protocol';
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
  | 'too_expensive'
  | 'upgrade_required'
  | 'unavailable'
  | StoreFaultCode
  | 'internal';

/**
 * The code each status means when the failure is raised by Hono rather than by our code (an
 * `HTTPException`: zod-openapi's 415 for a body that is not JSON, the JSON validator's 400 for one
 * that does not parse), so that a client reads the same code for the same failure on every route.
 */
const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  // The only 400 Hono raises here: routes take JSON bodies alone, any other media type is a 415.
  400: 'invalid_json',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  426: 'upgrade_required',
  429: 'rate_limited',
};

/**
 * The code that names the condition of a 4xx status; `invalid_input` for one without its own.
 *
 * @example
 * ```ts
 * codeForStatus(415); // 'unsupported_media_type'
 * ```
 */
export function codeForStatus(status: number): ErrorCode {
  return STATUS_CODES[status] ?? 'invalid_input';
}

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
