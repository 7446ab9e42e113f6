/**
 * Acquisition channels: Plausible's grouping of traffic (itself GA4's default channel group plus
 * AI assistants), computed once at ingest from what a visit's entry event already has — its source,
 * its utm_* values and whether the URL carried an ad click id. docs/STATS.md defines each channel
 * and the order of the rules; the first rule that matches wins.
 */
import { hostSuffixes } from './sources.ts';

/** Every channel, in the order of the rules that assign them. */
export const CHANNELS = [
  'Cross-network',
  'Paid Shopping',
  'Paid Search',
  'Paid Social',
  'Paid Video',
  'Display',
  'Paid Other',
  'Organic Shopping',
  'Organic Social',
  'Organic Video',
  'AI Assistants',
  'Organic Search',
  'Email',
  'Affiliates',
  'Audio',
  'SMS',
  'Mobile Push Notifications',
  'Referral',
  'Direct',
] as const;
export type Channel = (typeof CHANNELS)[number];

type Category = 'search' | 'social' | 'video' | 'shopping' | 'email' | 'ai';

const categories = (category: Category, names: string[]) => names.map((name) => [name, category] as const);

/**
 * Source categories, by lower-cased source (the names `sources.ts` gives, referrer hosts, and
 * common utm_source spellings). A curated part of GA4's source-category list as Plausible uses it
 * (priv/ga4-source-categories.csv with its own additions): the sources Tally names, and the hosts
 * and tags seen most. A source not listed here falls to the medium-based rules, then Referral.
 */
const SOURCE_CATEGORIES = new Map<string, Category>([
  ...categories('search', [
    'google',
    'bing',
    'duckduckgo',
    'yahoo!',
    'yahoo',
    'search.yahoo.com',
    'baidu',
    'yandex',
    'naver',
    'ecosia',
    'ecosia.org',
    'brave',
    'qwant',
    'startpage',
    'kagi',
    'sogou',
    'seznam',
    'seznam.cz',
    'daum',
    'ask',
    'aol',
    'so.com',
    '360.cn',
    'google-play',
    'lens.google.com',
  ]),
  ...categories('social', [
    'facebook',
    'fb',
    'fb.me',
    'messenger',
    'instagram',
    'ig',
    'twitter',
    'x (twitter)',
    't.co',
    'linkedin',
    'lnkd.in',
    'reddit',
    'hacker news',
    'pinterest',
    'tiktok',
    'bluesky',
    'mastodon',
    'threads',
    'medium',
    'product hunt',
    'producthunt',
    'stack overflow',
    'stackoverflow',
    'github',
    'vkontakte',
    'vk',
    'telegram',
    'discord',
    'slack',
    'microsoft teams',
    'whatsapp',
    'line',
    'snapchat',
    'tumblr',
    'quora',
    'weibo',
    'wechat',
    'kakao',
    'flipboard',
    'lemmy.world',
  ]),
  ...categories('video', ['youtube', 'yt', 'vimeo', 'twitch', 'dailymotion', 'netflix', 'hulu', 'wistia', 'iqiyi']),
  ...categories('shopping', [
    'amazon',
    'ebay',
    'etsy',
    'alibaba',
    'walmart',
    'shopify',
    'apps.shopify.com',
    'checkout.shopify.com',
    'checkout.stripe.com',
    'google shopping',
    'igshopping',
    'temu.com',
  ]),
  ...categories('email', ['gmail', 'outlook', 'yahoo! mail']),
  ...categories('ai', [
    'chatgpt',
    'chatgpt.com',
    'claude',
    'perplexity',
    'phind',
    'deepseek',
    'copilot',
    'grok',
    'gemini',
    'google gemini',
  ]),
]);

/**
 * utm_source values that mark paid traffic whatever the medium, with the category of the network
 * they name (Plausible's source shorthands ending in `ad`/`ads`, and `adwords`).
 */
const PAID_SOURCES = new Map<string, Category>([
  ...categories('search', ['adwords', 'google_ads', 'google-ads', 'googleads', 'gads', 'google ads']),
  ...categories('social', [
    'fb-ads',
    'fbads',
    'fbad',
    'facebook-ads',
    'facebook_ads',
    'facebook_ad',
    'facebook_feed_ad',
    'reddit-ads',
    'twitter-ads',
    'tiktokads',
  ]),
  ...categories('video', ['yt-ads']),
]);

/** Second-level labels under which country domains register names: `amazon.co.uk`, `yahoo.co.jp`. */
const SECOND_LEVELS = new Set(['co', 'com', 'org', 'net', 'ne', 'or', 'ac', 'gov', 'edu']);

const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const SHOPPING_CAMPAIGN = /^(.*(([^a-df-z]|^)shop|shopping).*)$/;
const DISPLAY_MEDIA = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);
const SOCIAL_MEDIA = new Set(['social', 'social-network', 'social-media', 'sm', 'social network', 'social media']);
const EMAIL_TAGS = ['email', 'e-mail', 'e_mail', 'e mail', 'newsletter'];

/** The ad click id a landing URL carries: Google Ads' `gclid`, Microsoft Ads' `msclkid`. Only its presence is kept. */
export type ClickId = 'gclid' | 'msclkid' | null;

/** What a channel is computed from: the entry event's source and utm_* values, and its click id. */
export interface ChannelInput {
  source: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  clickId: ClickId;
}

/**
 * The category of a source: its own entry (or that of the ad network a paid tag names); for a host,
 * that of the nearest parent domain listed, else of its registered name (`etsy.com` → `etsy`).
 */
function categoryOf(source: string): Category | undefined {
  const direct = SOURCE_CATEGORIES.get(source) ?? PAID_SOURCES.get(source);
  if (direct || !source.includes('.')) return direct;
  for (const suffix of hostSuffixes(source)) {
    const category = SOURCE_CATEGORIES.get(suffix);
    if (category) return category;
  }
  const labels = source.split('.');
  const secondLevel = labels.at(-2) ?? '';
  const name = SECOND_LEVELS.has(secondLevel) && labels.length > 2 ? labels.at(-3) : secondLevel;
  return name ? SOURCE_CATEGORIES.get(name) : undefined;
}

/**
 * The acquisition channel of a visit's entry event; every event has one (`Direct` when nothing
 * says otherwise). Matching ignores case.
 *
 * @example
 * ```ts
 * channelOf({ source: 'Google', utmSource: 'google', utmMedium: 'cpc', utmCampaign: null, clickId: null });
 * // 'Paid Search'
 * ```
 */
export function channelOf(input: ChannelInput): Channel {
  const source = input.source?.toLowerCase() ?? '';
  const utmSource = input.utmSource?.toLowerCase() ?? '';
  const medium = input.utmMedium?.toLowerCase() ?? '';
  const campaign = input.utmCampaign?.toLowerCase() ?? '';
  const category = categoryOf(source);
  const paidMedium = PAID_MEDIUM.test(medium);
  const paid = paidMedium || PAID_SOURCES.has(utmSource);
  const shopping = category === 'shopping' || SHOPPING_CAMPAIGN.test(campaign);

  if (campaign.includes('cross-network')) return 'Cross-network';
  if (shopping && paidMedium) return 'Paid Shopping';
  if (
    (category === 'search' && paid) ||
    (source === 'google' && input.clickId === 'gclid') ||
    (source === 'bing' && input.clickId === 'msclkid')
  ) {
    return 'Paid Search';
  }
  if (category === 'social' && paid) return 'Paid Social';
  if (category === 'video' && paid) return 'Paid Video';
  if (DISPLAY_MEDIA.has(medium)) return 'Display';
  if (paidMedium) return 'Paid Other';
  if (shopping) return 'Organic Shopping';
  if (category === 'social' || SOCIAL_MEDIA.has(medium)) return 'Organic Social';
  if (category === 'video' || medium.includes('video')) return 'Organic Video';
  if (category === 'ai') return 'AI Assistants';
  if (category === 'search') return 'Organic Search';
  if (category === 'email' || EMAIL_TAGS.some((tag) => utmSource.includes(tag) || medium.includes(tag))) return 'Email';
  if (medium === 'affiliate') return 'Affiliates';
  if (medium === 'audio') return 'Audio';
  if (utmSource === 'sms' || medium === 'sms') return 'SMS';
  if (
    medium.endsWith('push') ||
    medium.includes('mobile') ||
    medium.includes('notification') ||
    source === 'firebase'
  ) {
    return 'Mobile Push Notifications';
  }
  if (medium === 'referral' || medium === 'app' || medium === 'link' || source !== '') return 'Referral';
  return 'Direct';
}

/** The ad click id of a landing URL's query, if any. */
export function clickIdOf(params: URLSearchParams): ClickId {
  if (params.has('gclid')) return 'gclid';
  if (params.has('msclkid')) return 'msclkid';
  return null;
}
