/** Hashes the worker takes of text, as lower-case hex. */
import { toHex } from './ids.ts';

const encoder = new TextEncoder();

/** SHA-256 of a text, hex. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** HMAC-SHA256 of a text under a secret, hex: a hash no one without the secret can recompute. */
export async function hmacSha256Hex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(text)));
}
