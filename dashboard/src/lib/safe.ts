/**
 * Untrusted strings (URLs, referrers, properties, names) reach the page as text only: Svelte's
 * `{value}` escapes them, the dashboard never uses `{@html}`, and the only links built from data
 * are http(s) ones checked here, so `javascript:` and `data:` URLs never become live links.
 */

/**
 * The URL as an `href` when it is an absolute http(s) URL, else null.
 *
 * @example
 * ```ts
 * safeHttpUrl('https://example.com/a'); // 'https://example.com/a'
 * safeHttpUrl('javascript:alert(1)'); // null
 * ```
 */
export function safeHttpUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** Text cut to `max` characters with an ellipsis, for cells that must stay one line. */
export function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}
