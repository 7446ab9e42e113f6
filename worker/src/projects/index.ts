/**
 * Projects: what a site is, which hostnames it accepts, who may see it (roles), its limits, its
 * goals and funnels, and the routes that manage all of it.
 */
import { apiKeyRoutes } from '../auth/api-key-routes.ts';
import { createRouter } from '../shared/hono.ts';
import { goalRoutes } from './goal-routes.ts';
import { memberRoutes } from './member-routes.ts';
import { moveRoutes } from './move-routes.ts';
import { projectCrudRoutes } from './routes.ts';
import { shareRoutes } from './share-routes.ts';

export { type FunnelView, listFunnels } from './funnels.ts';
export {
  type GoalStep,
  goalMatches,
  type MatchableEvent,
  pathMatches,
  pathPatternRegExp,
} from '../stats/goal-matching.ts';
export { type GoalView, listGoals } from './goals.ts';
export { loadSiteById, loadSiteBySiteKey, type SiteConfig } from './site-config.ts';

/** Every project route. */
export const projectRoutes = createRouter()
  .route('/', projectCrudRoutes)
  .route('/', memberRoutes)
  .route('/', apiKeyRoutes)
  .route('/', shareRoutes)
  .route('/', goalRoutes)
  .route('/', moveRoutes);
