/**
 * Password hashing with PBKDF2-SHA256 through WebCrypto, so it runs unchanged in Workers and in
 * Node (the dev seed uses it). This file imports nothing on purpose: Node runs it as TypeScript.
 *
 * Stored form: `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>`.
 */
/** NOTE: Workers refuse PBKDF2 above 100,000 iterations; we use the cap. */
export declare const PBKDF2_ITERATIONS = 100000;
/**
 * Hash a password with a fresh random salt.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('tally-demo');
 * await verifyPassword('tally-demo', stored); // true
 * ```
 */
export declare function hashPassword(password: string, iterations?: number): Promise<string>;
/** Check a password against a stored hash, comparing in constant time. Malformed hashes never match. */
export declare function verifyPassword(password: string, stored: string): Promise<boolean>;
/** Compare two byte arrays without an early exit, so timing does not reveal where they differ. */
export declare function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean;
