/**
 * The checks on a live socket's HTTP upgrade, and the request by which the Worker hands an
 * accepted one to the ProjectDO. Every refusal happens before the upgrade, as an ordinary error
 * response, because a browser's WebSocket cannot read why a handshake failed after the fact.
 */
import { allowedOrigins } from '../auth/csrf.ts';
import { ApiError } from '../shared/errors.ts';
import type { LiveAudience } from './messages.ts';

/** For whom the ProjectDO opens a socket. */
export interface LiveSocketTarget {
  audience: LiveAudience;
  projectId: string;
  /** The member a dashboard socket's ticket was issued to; null for the counters. */
  userId: string | null;
  /** The share link a share socket was opened through (revoking it closes the socket); null otherwise. */
  shareId?: string | null;
}

/** The ProjectDO is reached only through its stub: the host is never resolved. */
const INTERNAL_URL = 'https://project-do/live';

/** 426 unless the request is a WebSocket handshake. */
export function requireWebSocketUpgrade(request: Request): void {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'This endpoint opens a WebSocket: send Upgrade: websocket', undefined, {
      Upgrade: 'websocket',
    });
  }
}

/**
 * 403 for a handshake from a page of another origin (the API's own, or one in ALLOWED_ORIGINS, is
 * fine). Browsers always send `Origin` with a WebSocket handshake and, unlike fetch, never ask the
 * server first — so this check is what stops another site from using a visitor's dashboard.
 * A handshake without `Origin` is not a browser's and cannot be forged cross-site.
 */
export function requireAllowedOrigin(request: Request, configured: string | undefined): void {
  const origin = request.headers.get('origin');
  if (origin !== null && !allowedOrigins(request.url, configured).has(origin)) {
    throw new ApiError(403, 'forbidden', 'Live sockets open only from an allowed origin');
  }
}

/** The request the ProjectDO's `fetch` accepts: the handshake's headers, and for whom it is. */
export function liveSocketRequest(handshake: Request, target: LiveSocketTarget): Request {
  const url = new URL(INTERNAL_URL);
  url.searchParams.set('audience', target.audience);
  url.searchParams.set('project', target.projectId);
  if (target.userId !== null) url.searchParams.set('user', target.userId);
  if (target.shareId) url.searchParams.set('share', target.shareId);
  return new Request(url, { headers: handshake.headers });
}

/** What {@link liveSocketRequest} said, or null for any other request. */
export function liveSocketTarget(request: Request): LiveSocketTarget | null {
  const url = new URL(request.url);
  const audience = url.searchParams.get('audience');
  const projectId = url.searchParams.get('project');
  if (url.pathname !== new URL(INTERNAL_URL).pathname || !projectId) return null;
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return null;
  if (audience === 'public') return { audience, projectId, userId: null };
  const shareId = url.searchParams.get('share');
  if (audience === 'share' && shareId) return { audience, projectId, userId: null, shareId };
  const userId = url.searchParams.get('user');
  if (audience === 'dashboard' && userId) return { audience, projectId, userId };
  return null;
}
