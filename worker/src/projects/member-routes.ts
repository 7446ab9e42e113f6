/** Member routes: list, invite by email, change role, remove. */
import { createRouter } from '../shared/hono.ts';

export const memberRoutes = createRouter();
