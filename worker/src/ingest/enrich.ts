import UAParser from 'ua-parser-js';
import type { PendingEvent } from '../pipeline/messages.ts';
import { uuidv7 } from '../shared/ids.ts';
import { cleanText, type ValidEvent } from './schema.ts';
import { channelOf, clickIdOf } from './channels.ts';
import { sourceOfHost, sourceOfParam } from './sources.ts';

/** What the request tells about the visitor, beyond the event itself. */
export interface VisitorContext {
  userAgent: string;
  cf: Partial<IncomingRequestCfProperties> | undefined;
  /** The request's `Accept-Language` header, or empty. */
  acceptLanguage: string;
}

/** The parts of a user agent the dashboard breaks down by. */
export interface Agent {
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  osVersion: string | null;
  device: string;
}

const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
const PARAM_CHARS = 300;
const agentCache = new Map<string, Agent>();
const AGENT_CACHE_SIZE = 1_000;

/**
 * Parse a user agent with ua-parser-js, cached per isolate: a site's visitors share a handful of
 * user agents, and parsing is the most expensive step of ingest.
 */
export function parseAgent(userAgent: string): Agent {
  const cached = agentCache.get(userAgent);
  if (cached) return cached;
  const result = new UAParser(userAgent).getResult();
  const agent: Agent = {
    browser: result.browser.name ?? null,
    browserVersion: result.browser.major ?? null,
    os: result.os.name ?? null,
    osVersion: result.os.version ?? null,
    device: result.device.type ?? 'desktop',
  };
  if (agentCache.size >= AGENT_CACHE_SIZE) agentCache.delete(agentCache.keys().next().value as string);
  agentCache.set(userAgent, agent);
  return agent;
}

/** Screen class by width in CSS pixels (Plausible's breakpoints). */
export function screenClass(width: number | undefined): string | null {
  if (width === undefined) return null;
  if (width < 576) return 'Mobile';
  if (width < 992) return 'Tablet';
  if (width < 1440) return 'Laptop';
  return 'Desktop';
}

/** The page path an event counts for: decoded, with the `#/…` route when the site uses hash routing. */
export function pagePath(url: URL, hashRouting: boolean): string {
  let path = url.pathname || '/';
  // Privacy: a query string inside the hash route is dropped like the URL's own.
  if (hashRouting && /^#!?\//.test(url.hash)) path += url.hash.split('?')[0];
  try {
    path = decodeURIComponent(path);
  } catch {
    // Malformed escapes stay as they were sent.
  }
  return cleanText(path);
}

/** Referrer, its host and the traffic source, or nulls for direct and internal traffic. */
export function referrerOf(
  referrer: string | undefined,
  page: URL,
): { referrer: string | null; referrerHost: string | null; source: string | null } {
  const none = { referrer: null, referrerHost: null, source: null };
  if (!referrer || !URL.canParse(referrer)) return none;
  const url = new URL(referrer);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return none;
  const host = url.hostname.toLowerCase();
  const bare = (name: string) => name.toLowerCase().replace(/^www\./, '');
  if (bare(host) === bare(page.hostname)) return none;
  // Privacy: query strings and fragments of referrers can carry personal data; keep origin and path.
  return { referrer: `${url.origin}${url.pathname}`, referrerHost: host, source: sourceOfHost(host) };
}

/**
 * Turn a validated event into the row the pipeline stores, minus what the ProjectDO assigns
 * (visitor, visit, sequence). Every string here comes from the open internet and is cleaned.
 */
export function enrichEvent(
  event: ValidEvent,
  projectId: string,
  ts: number,
  now: number,
  visitor: VisitorContext,
): PendingEvent {
  const url = new URL(event.u);
  const params = url.searchParams;
  const utm = Object.fromEntries(
    UTM_KEYS.map((key) => [key, params.get(key)?.slice(0, PARAM_CHARS).trim() || null]),
  ) as Record<(typeof UTM_KEYS)[number], string | null>;
  // `ref` and `source` are common stand-ins for utm_source (Plausible honours them too).
  const taggedSource = utm.utm_source ?? (params.get('ref') || params.get('source'))?.slice(0, PARAM_CHARS) ?? null;
  const referred = referrerOf(event.r, url);
  const source = taggedSource ? sourceOfParam(cleanText(taggedSource)) : referred.source;
  const campaign = {
    utmSource: utm.utm_source && cleanText(utm.utm_source),
    utmMedium: utm.utm_medium && cleanText(utm.utm_medium),
    utmCampaign: utm.utm_campaign && cleanText(utm.utm_campaign),
  };
  const agent = parseAgent(visitor.userAgent);
  const cf = visitor.cf;
  const country = typeof cf?.country === 'string' && /^[A-Z]{2}$/i.test(cf.country) ? cf.country.toUpperCase() : null;
  return {
    projectId,
    id: event.i ?? uuidv7(ts),
    ts,
    receivedAt: now,
    name: event.n,
    hostname: url.hostname.toLowerCase(),
    path: pagePath(url, event.h === true),
    referrer: referred.referrer,
    referrerHost: referred.referrerHost,
    source,
    ...campaign,
    utmTerm: utm.utm_term && cleanText(utm.utm_term),
    utmContent: utm.utm_content && cleanText(utm.utm_content),
    channel: channelOf({ source, ...campaign, clickId: clickIdOf(params) }),
    country,
    region: textOrNull(cf?.region),
    city: textOrNull(cf?.city),
    timezone: textOrNull(cf?.timezone),
    language: primaryLanguage(visitor.acceptLanguage),
    browser: agent.browser,
    browserVersion: agent.browserVersion,
    os: agent.os,
    osVersion: agent.osVersion,
    device: agent.device,
    screen: screenClass(event.w),
    props: event.p && Object.keys(event.p).length ? JSON.stringify(event.p) : null,
    revenueAmount: event.$?.a ?? null,
    revenueCurrency: event.$?.c ?? null,
  };
}

/** Longest Accept-Language header read; browsers send well under 100 characters. */
const ACCEPT_LANGUAGE_CHARS = 500;

/**
 * The visitor's primary language from an `Accept-Language` header: the tag of the highest weight
 * (the first of equal ones), canonicalised to language[-script][-region] (`en-US`, `zh-Hant-TW`,
 * `de`); null when there is none or it is `*` or not a language tag. Nothing else of the header
 * is kept: the full list narrows a visitor down more than a language does.
 *
 * @example
 * ```ts
 * primaryLanguage('de-de,en;q=0.8'); // 'de-DE'
 * ```
 */
export function primaryLanguage(header: string): string | null {
  const cached = languageCache.get(header);
  if (cached !== undefined) return cached;
  const language = parseLanguage(header);
  if (languageCache.size >= AGENT_CACHE_SIZE) languageCache.delete(languageCache.keys().next().value as string);
  languageCache.set(header, language);
  return language;
}

/** Parsed headers, per isolate: a site's visitors send a handful of them (every event of a batch the same). */
const languageCache = new Map<string, string | null>();

function parseLanguage(header: string): string | null {
  let best: { tag: string; weight: number } | null = null;
  for (const part of header.slice(0, ACCEPT_LANGUAGE_CHARS).split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const q = params.map((param) => /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param)?.[1]).find(Boolean);
    const weight = q === undefined ? 1 : Number(q);
    if (!tag.trim() || tag.trim() === '*' || weight <= 0) continue;
    if (!best || weight > best.weight) best = { tag: tag.trim(), weight };
  }
  if (!best) return null;
  try {
    return new Intl.Locale(best.tag).baseName;
  } catch {
    return null;
  }
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value ? cleanText(value).slice(0, 200) : null;
}
