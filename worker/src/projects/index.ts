/** Projects: what a site is, which hostnames it accepts, and its limits. */
export { loadSiteById, loadSiteBySiteKey, type SiteConfig } from './site-config.ts';
