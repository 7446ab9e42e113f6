/**
 * The live feed: the ProjectDO's WebSockets (hibernation API) and what each one has been sent.
 * Every socket keeps, in its attachment, a digest of the last message it got and when; so an
 * update goes only to sockets whose view changed, at most once a second per socket, and that
 * holds across hibernation, when the object's memory is gone and only the sockets remain.
 */
import { ApiError } from '../shared/errors.ts';
import { CLOSE_CODES, type CountMessage, type LiveAudience, type LiveMessage, type LiveView } from './messages.ts';
import { liveSocketTarget } from './upgrade.ts';

/** No socket gets more than one message in this interval. */
export const UPDATE_INTERVAL_MS = 1_000;

/**
 * Counters (public ones and share links' together) one object serves at most; beyond, new ones
 * are refused (503). NOTE: an object has one thread, and each update is sent to every socket in turn.
 */
export const MAX_PUBLIC_SOCKETS = 10_000;

/** How often open public counters check that their project still has them switched on. */
const PUBLIC_RECHECK_MS = 60_000;

/** What a socket carries through hibernation (`serializeAttachment`, at most 2 KB). */
interface SocketState {
  audience: LiveAudience;
  projectId: string;
  /** The member a dashboard socket's ticket was issued to; null for public counters. */
  userId: string | null;
  /** When the socket was last sent a message, and a digest of what that message said. */
  sentAt: number;
  sent: string;
}

/** Where the feed reads the live state from (the ProjectDO's stores). */
export interface LiveSource {
  view(now: number): LiveView;
  count(now: number): number;
  /** When the next visitor leaves the live window, or null if none is live. */
  nextExpiry(now: number): number | null;
}

interface Outgoing {
  digest: string;
  text: string;
}

/** The sockets of one ProjectDO and the updates they are due. */
export class LiveFeed {
  /** Open sockets per audience, counted when first needed (`getWebSockets` lists them all). */
  private readonly counts = new Map<LiveAudience, number>();
  private lastSentAt = 0;
  private publicCheckedAt = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly source: LiveSource,
  ) {}

  /**
   * Answer the Worker's request for a socket (`upgrade.ts`): the `101` with the client's end, and
   * the project it is for — or a refusal, and no project.
   */
  open(request: Request, now: number): { response: Response; projectId: string | null } {
    const target = liveSocketTarget(request);
    if (!target) return { response: new Response('Not a live socket request', { status: 400 }), projectId: null };
    const counter = target.audience !== 'dashboard';
    if (counter && this.count('public') + this.count('share') >= MAX_PUBLIC_SOCKETS) {
      const error = new ApiError(503, 'unavailable', 'Too many live counters are open; retry later');
      const headers = { 'Retry-After': '60' };
      return { response: Response.json(error.toBody(), { status: error.status, headers }), projectId: null };
    }
    const tags = target.shareId ? [shareTag(target.shareId)] : [];
    const response = this.accept(target.audience, target.projectId, target.userId, now, tags);
    return { response, projectId: target.projectId };
  }

  /**
   * Accept a socket and send it a snapshot at once; the answer is the `101` that hands the
   * client's end to the caller.
   */
  private accept(
    audience: LiveAudience,
    projectId: string,
    userId: string | null,
    now: number,
    tags: string[] = [],
  ): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [audience, ...tags]);
    const outgoing = this.compose(audience, 'snapshot', now);
    server.send(outgoing.text);
    const state: SocketState = { audience, projectId, userId, sentAt: now, sent: outgoing.digest };
    server.serializeAttachment(state);
    this.counts.delete(audience);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Open sockets of an audience. */
  count(audience: LiveAudience): number {
    let count = this.counts.get(audience);
    if (count === undefined) {
      count = this.ctx.getWebSockets(audience).length;
      this.counts.set(audience, count);
    }
    return count;
  }

  /** Whether any socket listens: when none does, changes cost nothing. */
  listening(): boolean {
    return this.count('dashboard') + this.count('public') + this.count('share') > 0;
  }

  /** The earliest a change can be sent, given the last send (a hint; each socket enforces its own). */
  dueAfterChange(now: number): number {
    return Math.max(now, this.lastSentAt + UPDATE_INTERVAL_MS);
  }

  /** A socket failed: count again when next needed. */
  forget(): void {
    this.counts.clear();
  }

  /** The client closed its socket: complete the closing handshake, as the hibernation API requires. */
  closed(socket: WebSocket, code: number, reason: string): void {
    this.forget();
    try {
      // 1005 and 1006 are reserved for the runtime and cannot be sent.
      socket.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  /** Clients only send `ping` (answered by the runtime, which does not wake us); anything else ends the socket. */
  refuse(socket: WebSocket): void {
    socket.close(CLOSE_CODES.unexpectedMessage, 'This socket only sends');
  }

  /**
   * Public counters stay open until their project turns them off: ask `isEnabled` (D1) at most
   * once a minute while any is open (the Worker checks it for every new one), and close them all
   * when it says no.
   */
  async recheckPublic(now: number, isEnabled: () => Promise<boolean>): Promise<void> {
    if (now - this.publicCheckedAt < PUBLIC_RECHECK_MS || !this.count('public')) return;
    this.publicCheckedAt = now;
    try {
      if (await isEnabled()) return;
    } catch (error) {
      console.warn('could not check the public live counter:', String(error));
      return;
    }
    this.close('public', CLOSE_CODES.publicDisabled, 'The public live counter is off');
  }

  /** Close every socket of an audience (a deleted project, a public counter turned off). */
  close(audience: LiveAudience, code: number, reason: string): void {
    this.closeTagged(audience, code, reason);
  }

  /** Close the sockets opened through a share link (it was revoked). */
  closeShare(shareId: string, code: number, reason: string): void {
    this.closeTagged(shareTag(shareId), code, reason);
  }

  private closeTagged(tag: string, code: number, reason: string): void {
    for (const socket of this.ctx.getWebSockets(tag)) {
      try {
        socket.close(code, reason);
      } catch {
        // Already closing.
      }
    }
    this.counts.clear();
  }

  /**
   * Send each socket whose view changed an update, unless it got a message less than a second
   * ago. Returns when to run again — for a throttled update, or when the next visitor leaves the
   * live window (the count drops then) — or null when nothing is due.
   */
  tick(now: number): number | null {
    const sockets = this.ctx.getWebSockets();
    this.counts.clear();
    if (!sockets.length) return null;
    const outgoing = new Map<LiveAudience, Outgoing>();
    let retryAt = Number.POSITIVE_INFINITY;
    for (const socket of sockets) {
      const state = socket.deserializeAttachment() as SocketState | null;
      if (!state) continue;
      let next = outgoing.get(state.audience);
      if (!next) {
        next = this.compose(state.audience, 'update', now);
        outgoing.set(state.audience, next);
      }
      if (next.digest === state.sent) continue;
      if (now - state.sentAt < UPDATE_INTERVAL_MS) {
        retryAt = Math.min(retryAt, state.sentAt + UPDATE_INTERVAL_MS);
        continue;
      }
      try {
        socket.send(next.text);
      } catch {
        continue; // Closed meanwhile; webSocketClose forgets it.
      }
      socket.serializeAttachment({ ...state, sentAt: now, sent: next.digest } satisfies SocketState);
      this.lastSentAt = now;
    }
    const expiry = this.source.nextExpiry(now);
    // Expiries are batched to one run a second: many visitors leave at nearby instants.
    const next = Math.min(
      retryAt,
      expiry === null ? Number.POSITIVE_INFINITY : Math.max(expiry, now + UPDATE_INTERVAL_MS),
    );
    return Number.isFinite(next) ? next : null;
  }

  /** The message an audience would get now, and a digest of its content (its type aside). */
  private compose(audience: LiveAudience, type: LiveMessage['type'], now: number): Outgoing {
    if (audience !== 'dashboard') {
      const visitors = this.source.count(now);
      return { digest: String(visitors), text: JSON.stringify({ type: 'count', visitors } satisfies CountMessage) };
    }
    const view = this.source.view(now);
    const content = JSON.stringify(view);
    return { digest: digest(content), text: JSON.stringify({ type, ...view } satisfies LiveMessage) };
  }
}

/** The tag of the sockets opened through one share link. */
function shareTag(shareId: string): string {
  return `share:${shareId}`;
}

/**
 * A 53-bit digest of a text (cyrb53), to tell whether a view changed: the attachment that
 * remembers it has room for a digest, not for the view itself. Not a security measure.
 */
export function digest(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
