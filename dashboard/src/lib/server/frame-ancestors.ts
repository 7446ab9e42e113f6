/**
 * Who may frame a page. Every page says `frame-ancestors 'none'` (svelte.config.js) and
 * `X-Frame-Options: DENY` — except a share link's view whose link lists embed origins: its page
 * names those origins instead, so that their pages (and no others) can show it in an iframe.
 */

interface Binding {
  fetch(request: Request): Promise<Response>;
}

/** The slug of a share link's view (`/share/<slug>`), or null for any other page. */
export function shareSlug(pathname: string): string | null {
  const match = /^\/share\/([^/]+)\/?$/.exec(pathname);
  return match?.[1] ?? null;
}

/**
 * A bare origin as the API stores it (`https://host[:port]`, `http://` for loopback). Checked again
 * here because it becomes a header: nothing else, a space or `;` above all, may reach it.
 */
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(?::\d{1,5})?$/;

/**
 * The origins that may frame a link's view, from `GET /api/share/:slug/embed`; none when the link
 * is unknown, revoked, or the API cannot say (framing stays refused: the safe way to fail).
 */
export async function shareFrameAncestors(api: Binding, pageOrigin: string, slug: string): Promise<string[]> {
  try {
    const response = await api.fetch(new Request(`${pageOrigin}/api/share/${slug}/embed`));
    if (response.status !== 200) return [];
    const body = (await response.json()) as { frameAncestors?: unknown };
    const origins = Array.isArray(body.frameAncestors) ? body.frameAncestors : [];
    return origins.filter((origin): origin is string => typeof origin === 'string' && ORIGIN.test(origin));
  } catch {
    return [];
  }
}

/** Let `origins` frame a page: its CSP names them instead of `'none'`, and X-Frame-Options goes. */
export function allowFraming(headers: Headers, origins: readonly string[]): void {
  if (!origins.length) return;
  const csp = headers.get('content-security-policy');
  if (csp !== null) {
    headers.set(
      'content-security-policy',
      csp.replace(/frame-ancestors [^;]*/, `frame-ancestors ${origins.join(' ')}`),
    );
  }
  // Browsers that read `frame-ancestors` ignore it; older ones know only DENY or one origin.
  headers.delete('x-frame-options');
}
