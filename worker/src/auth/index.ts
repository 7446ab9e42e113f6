/**
 * Authentication and accounts: passwords, sessions (JWT + rotating refresh tokens), API keys,
 * CSRF checks, and the account routes.
 */
export {
  type ApiKeyScope,
  generateApiKey,
  hashApiKey,
  recordApiKeyUse,
  type VerifiedApiKey,
  verifyApiKey,
} from './api-keys.ts';
export { verifyApiKeyFrom } from './api-key-throttle.ts';
export { csrfProtection } from './csrf.ts';
export { OPERATOR_HEADER, operatorOnly } from './operator.ts';
export { constantTimeEqual, hashPassword, verifyPassword } from './password.ts';
export { authenticate, type Principal, requireUser, SHARE_HEADER, SHARE_TOKEN_HEADER } from './principal.ts';
export { authRoutes } from './routes.ts';
export { authorizeProject, type Need, type ProjectAccess, ROLES, type Role } from './access.ts';
export { issueShareToken } from './share-access.ts';
