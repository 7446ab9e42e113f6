/** Authentication: passwords, API keys (and, with the accounts issue, users and sessions). */
export {
  type ApiKeyScope,
  generateApiKey,
  hashApiKey,
  recordApiKeyUse,
  type VerifiedApiKey,
  verifyApiKey,
} from './api-keys.ts';
export { constantTimeEqual, hashPassword, verifyPassword } from './password.ts';
