/** Share link routes: manage a project's links (admin), and open one (public). */
import { createRouter } from '../shared/hono.ts';

export const shareRoutes = createRouter();
