/**
 * Referrer hosts of well-known search engines, social networks and communities, mapped to the
 * names the dashboard shows. Matched on the host and each parent domain (`m.facebook.com` →
 * `facebook.com`); search engines with country domains are matched by their second-level label.
 */
const SOURCES_BY_HOST: Record<string, string> = {
  'bing.com': 'Bing',
  'duckduckgo.com': 'DuckDuckGo',
  'search.brave.com': 'Brave',
  'ecosia.org': 'Ecosia',
  'search.yahoo.com': 'Yahoo!',
  'yahoo.com': 'Yahoo!',
  'baidu.com': 'Baidu',
  'naver.com': 'Naver',
  'qwant.com': 'Qwant',
  'startpage.com': 'Startpage',
  'kagi.com': 'Kagi',
  'perplexity.ai': 'Perplexity',
  'chatgpt.com': 'ChatGPT',
  'chat.openai.com': 'ChatGPT',
  'facebook.com': 'Facebook',
  'fb.com': 'Facebook',
  'l.facebook.com': 'Facebook',
  'instagram.com': 'Instagram',
  't.co': 'Twitter',
  'twitter.com': 'Twitter',
  'x.com': 'Twitter',
  'linkedin.com': 'LinkedIn',
  'lnkd.in': 'LinkedIn',
  'reddit.com': 'Reddit',
  'news.ycombinator.com': 'Hacker News',
  'youtube.com': 'YouTube',
  'youtu.be': 'YouTube',
  'github.com': 'GitHub',
  'pinterest.com': 'Pinterest',
  'tiktok.com': 'TikTok',
  'bsky.app': 'Bluesky',
  'mastodon.social': 'Mastodon',
  'threads.net': 'Threads',
  'medium.com': 'Medium',
  'producthunt.com': 'Product Hunt',
  'stackoverflow.com': 'Stack Overflow',
  'wikipedia.org': 'Wikipedia',
  'vk.com': 'VKontakte',
  'telegram.org': 'Telegram',
  't.me': 'Telegram',
  'discord.com': 'Discord',
  'slack.com': 'Slack',
  'substack.com': 'Substack',
  'mail.google.com': 'Gmail',
  'outlook.live.com': 'Outlook',
  'outlook.office.com': 'Outlook',
  'mail.yahoo.com': 'Yahoo! Mail',
};

/** Engines that live on many country domains: `google.de`, `google.co.uk`, `yandex.ru`, … */
const SOURCES_BY_LABEL: Record<string, string> = { google: 'Google', yandex: 'Yandex' };

/** Every suffix of a host that is itself a domain: `a.b.c` → `a.b.c`, `b.c`, `c`. */
export function hostSuffixes(host: string): string[] {
  const labels = host.split('.');
  return labels.map((_, index) => labels.slice(index).join('.'));
}

/**
 * The source name of a referrer host: a known name, or the host itself without `www.`.
 *
 * @example
 * ```ts
 * sourceOfHost('www.google.co.uk'); // 'Google'
 * sourceOfHost('blog.example.com'); // 'blog.example.com'
 * ```
 */
export function sourceOfHost(host: string): string {
  const bare = host.replace(/^www\./, '');
  for (const suffix of hostSuffixes(bare)) {
    const name = SOURCES_BY_HOST[suffix];
    if (name) return name;
  }
  const labels = bare.split('.');
  for (const label of labels.slice(0, -1)) {
    const name = SOURCES_BY_LABEL[label];
    if (name) return name;
  }
  return bare;
}

/** A `utm_source`/`ref` value as a source: known names are unified (`google` → `Google`, `hackernews` → `Hacker News`). */
export function sourceOfParam(value: string): string {
  const key = value.toLowerCase().replace(/[\s_-]/g, '');
  const byLabel = SOURCES_BY_LABEL[key];
  if (byLabel) return byLabel;
  for (const name of Object.values(SOURCES_BY_HOST)) {
    if (name.toLowerCase().replace(/[\s!]/g, '') === key) return name;
  }
  return value;
}
