/**
 * The filtering steps of the ingest pipeline. Each looks at one event and either lets it through
 * (`null`) or names the reason it is dropped. Dropped events are answered like accepted ones —
 * a bot learns nothing — and counted per reason.
 */
import { isbot } from 'isbot';
import type { DropReason } from '../pipeline/messages.ts';
import type { SiteConfig } from '../projects/index.ts';
import type { ValidEvent } from './schema.ts';
import { hostSuffixes } from './sources.ts';
import { SPAM_REFERRER_DOMAINS } from './spam-referrers.ts';

/** What a step may look at besides the event. */
export interface StepContext {
  site: SiteConfig;
  userAgent: string;
}

/** One named step. */
export type Step = (event: ValidEvent, context: StepContext) => DropReason | null;

/** Automation that isbot's list does not name, or that hides behind an ordinary browser string. */
const HEADLESS = /headless|phantomjs|puppeteer|playwright|selenium|webdriver|cypress|lighthouse|slimerjs|nightmare/i;

/** The page's hostname must be one of the project's (or a subdomain, where allowed). */
export const checkHostname: Step = (event, { site }) =>
  hostnameAllowed(new URL(event.u).hostname, site.hostnames) ? null : 'invalid_host';

/** Crawlers, monitors and headless browsers are not visitors. */
export const checkBot: Step = (_event, { userAgent }) =>
  !userAgent.trim() || isbot(userAgent) || HEADLESS.test(userAgent) ? 'bot' : null;

/** Referrers on the shipped spam list. */
export const checkSpamReferrer: Step = (event) => {
  if (!event.r || !URL.canParse(event.r)) return null;
  const host = new URL(event.r).hostname.toLowerCase();
  return hostSuffixes(host).some((suffix) => SPAM_REFERRER_DOMAINS.has(suffix)) ? 'spam' : null;
};

/** The steps in the order they run. */
export const STEPS: readonly [name: string, step: Step][] = [
  ['hostname', checkHostname],
  ['bot', checkBot],
  ['spam', checkSpamReferrer],
];

/** The first reason to drop an event, or null to keep it. */
export function firstDrop(event: ValidEvent, context: StepContext): DropReason | null {
  for (const [, step] of STEPS) {
    const reason = step(event, context);
    if (reason) return reason;
  }
  return null;
}

/**
 * Whether a hostname is allowed: equal to a listed one (ignoring `www.`), or below one whose
 * subdomains are included. A project that lists no hostnames accepts all.
 */
export function hostnameAllowed(hostname: string, allowed: SiteConfig['hostnames']): boolean {
  if (!allowed.length) return true;
  const host = hostname.toLowerCase().replace(/^www\./, '');
  return allowed.some(({ hostname: entry, includeSubdomains }) => {
    const listed = entry.toLowerCase().replace(/^www\./, '');
    return host === listed || (includeSubdomains && host.endsWith(`.${listed}`));
  });
}
