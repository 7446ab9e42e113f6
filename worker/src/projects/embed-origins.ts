/**
 * The origins whose pages may frame a share link's view (`frame-ancestors`). Each is a bare origin:
 * `https://host[:port]`, or `http://` for a loopback host (a site under development), with no
 * path, query, credentials or wildcard — a CSP source list would read `https://*.example.com` or a
 * path as something else than the exact page the owner means, and `http://` elsewhere is a page
 * any network between the viewer and the site can rewrite.
 */
import { z } from '@hono/zod-openapi';

/** Origins one link may list: a handful of sites, not a directory of them. */
export const MAX_EMBED_ORIGINS = 10;

const LOOPBACK = new Set(['localhost', '127.0.0.1']);
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?:${LABEL}\\.)*${LABEL}$`);

/** Why a text is not an origin a link may be framed by, or null; with the origin as the URL spec writes it. */
export function embedOriginProblem(text: string): { origin: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'an origin such as https://example.com' };
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  if (!secure) return { problem: 'https:// (http:// only for localhost and 127.0.0.1)' };
  if (url.username || url.password) return { problem: 'an origin carries no user name or password' };
  // `new URL` accepts `*` and other characters in a host that no CSP source means literally.
  if (!HOSTNAME.test(url.hostname)) return { problem: 'a host name without wildcards, such as blog.example.com' };
  // Only what `origin` drops may follow the host: a trailing `/`, nothing else.
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(text)) {
    return { problem: 'an origin has no path, query or fragment' };
  }
  return { origin: url.origin };
}

/** One origin, normalised (lower case, default port dropped). */
export const EmbedOriginSchema = z
  .string()
  .trim()
  .max(300)
  .transform((text, ctx) => {
    const result = embedOriginProblem(text);
    if ('origin' in result) return result.origin;
    ctx.addIssue({ code: 'custom', message: result.problem });
    return z.NEVER;
  })
  .openapi({ type: 'string', example: 'https://blog.example.com' });

/** The origins of a link, each once. */
export const EmbedOriginsSchema = z
  .array(EmbedOriginSchema)
  .max(MAX_EMBED_ORIGINS)
  .transform((origins) => [...new Set(origins)])
  .openapi({
    type: 'array',
    items: { type: 'string' },
    description:
      `Up to ${MAX_EMBED_ORIGINS} origins (\`https://host[:port]\`; \`http://\` for localhost) whose pages may show the ` +
      "link's view in an iframe. Empty: no page may.",
    example: ['https://blog.example.com'],
  });

/** The stored column (JSON text, or null for none) as a list. */
export function storedEmbedOrigins(column: string | null): string[] {
  return column === null ? [] : (JSON.parse(column) as string[]);
}

/** A list as the column stores it. */
export function embedOriginsColumn(origins: readonly string[]): string | null {
  return origins.length ? JSON.stringify(origins) : null;
}
