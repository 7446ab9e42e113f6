import { LIMITS } from '@tally/sdk/protocol';
import { ApiError } from '../shared/errors.ts';

/**
 * Read a request body as text without ever holding more than the cap. A `Content-Length` over
 * the cap is refused before reading; a chunked body (no length, or a lying one) is refused as
 * soon as the bytes received pass the cap.
 */
export async function readCappedText(request: Request, maxBytes: number = LIMITS.bodyBytes): Promise<string> {
  const tooLarge = () => new ApiError(413, 'payload_too_large', `Request bodies are limited to ${maxBytes} bytes`);
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return '';

  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The body as JSON, for `application/json` and `text/plain` (what `navigator.sendBeacon` sends,
 * which needs no CORS preflight). Anything else is a 415.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'text/plain') {
    throw new ApiError(415, 'unsupported_media_type', 'Send events as application/json or text/plain');
  }
  const text = await readCappedText(request);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'The body is not valid JSON');
  }
}
