/**
 * The realtime feed of a project: a single-use ticket (`POST /api/projects/:id/live-ticket`), then
 * a WebSocket to `/api/projects/:id/live?ticket=…` on the dashboard's own origin (forwarded to the
 * ProjectDO). Messages are `snapshot` (on connect) and `update` (at most once a second, on change).
 * A dropped connection is retried with backoff — 1 s doubling to 30 s — with a fresh ticket.
 */
import type { Api } from '../api/client.ts';
import type { LiveMessage } from '../api/types.ts';
import { parseLiveMessage } from './live-message.ts';

export type LiveStatus = 'connecting' | 'open' | 'reconnecting' | 'unavailable';

const MAX_BACKOFF_MS = 30_000;

export class LiveFeed {
  status = $state<LiveStatus>('connecting');
  message = $state<LiveMessage | null>(null);
  /** Why the feed is unavailable, for the card. */
  problem = $state<string | null>(null);

  #socket: WebSocket | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #backoff = 1000;
  #closed = false;

  constructor(
    private readonly api: Api,
    private readonly projectId: string,
  ) {}

  /** Open the feed; call `close()` on teardown. */
  start(): void {
    this.#closed = false;
    void this.#connect();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
    this.#socket = null;
  }

  /** Try again now (the card's retry button). */
  retry(): void {
    clearTimeout(this.#timer);
    this.#backoff = 1000;
    this.status = 'connecting';
    this.problem = null;
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const path = `/api/projects/${encodeURIComponent(this.projectId)}`;
    let ticket: string;
    try {
      ({ ticket } = await this.api.post<{ ticket: string; expiresAt: number }>(`${path}/live-ticket`));
    } catch (error) {
      const status = (error as { status?: number }).status ?? 0;
      // A 404 means this API has no live endpoint (or the project is gone): retrying will not help soon.
      if (status === 404 || status === 403) {
        this.status = 'unavailable';
        this.problem = 'Realtime is not available for this project.';
        return;
      }
      this.#schedule();
      return;
    }
    if (this.#closed) return;
    const url = new URL(`${path}/live`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('ticket', ticket);
    const socket = new WebSocket(url);
    this.#socket = socket;
    socket.onopen = () => {
      this.status = 'open';
      this.problem = null;
      this.#backoff = 1000;
    };
    socket.onmessage = (event) => {
      const message = parseLiveMessage(event.data);
      if (message) this.message = message;
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#schedule();
    };
  }

  #schedule(): void {
    if (this.#closed) return;
    this.status = 'reconnecting';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#connect(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
  }
}
