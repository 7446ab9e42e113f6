/**
 * Projects: what a site is, which hostnames it accepts, who may see it (roles), its limits, and
 * the routes that manage all of it.
 */
import { apiKeyRoutes } from '../auth/api-key-routes.ts';
import { createRouter } from '../shared/hono.ts';
import { memberRoutes } from './member-routes.ts';
import { projectCrudRoutes } from './routes.ts';
import { shareRoutes } from './share-routes.ts';

export { authorizeProject, type Need, type ProjectAccess, ROLES, type Role } from './access.ts';
export { deleteProject, PROJECT_TABLES } from './delete.ts';
export { loadSiteById, loadSiteBySiteKey, type SiteConfig } from './site-config.ts';

/** Every project route. */
export const projectRoutes = createRouter()
  .route('/', projectCrudRoutes)
  .route('/', memberRoutes)
  .route('/', apiKeyRoutes)
  .route('/', shareRoutes);
