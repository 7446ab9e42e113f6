/** API key routes: create (secret shown once), list, revoke, rotate. */
import { createRouter } from '../shared/hono.ts';

export const apiKeyRoutes = createRouter();
