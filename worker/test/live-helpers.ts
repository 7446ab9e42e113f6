/**
 * Helpers for the live tests: open a live socket through the real Worker, read what it is sent,
 * and know when nothing more is coming — without waiting for time to pass. `settle()` sends
 * `ping` and waits for the runtime's `pong`: a socket delivers in order, so every message the
 * ProjectDO sent before is in `messages` by then.
 */
import { exports } from 'cloudflare:workers';
import { expect, vi } from 'vitest';
import { api, expectJson } from './accounts.ts';
import { ORIGIN } from './helpers.ts';

/** A client's end of a live socket, with everything it has received. */
export interface TestSocket {
  socket: WebSocket;
  /** Messages received so far, parsed (the `pong`s of `settle` left out). */
  messages: Record<string, unknown>[];
  /** Set once the server closed the socket. */
  closed: { code: number; reason: string } | null;
  /** Resolve once every message sent before this call has arrived. */
  settle(): Promise<void>;
  /** The messages that arrived since the last call to `take` (after settling). */
  take(): Promise<Record<string, unknown>[]>;
}

/** A WebSocket handshake through the real Worker, from `origin` (the API's own unless given; null for none). */
export function handshake(path: string, origin: string | null = ORIGIN, headers: Record<string, string> = {}) {
  return exports.default.fetch(`${ORIGIN}${path}`, {
    headers: { upgrade: 'websocket', ...(origin === null ? {} : { origin }), ...headers },
  });
}

/** Accept the client's end of an upgraded response and start recording. */
export function record(response: Response): TestSocket {
  expect(response.status, 'the handshake was refused').toBe(101);
  const socket = response.webSocket;
  if (!socket) throw new Error('the 101 response carries no WebSocket');
  socket.accept();
  const messages: Record<string, unknown>[] = [];
  let pongs = 0;
  let seen = 0;
  const state: TestSocket = {
    socket,
    messages,
    closed: null,
    async settle() {
      const expected = pongs + 1;
      socket.send('ping');
      await vi.waitFor(() => expect(pongs).toBeGreaterThanOrEqual(expected), { timeout: 5_000, interval: 5 });
    },
    async take() {
      await state.settle();
      const fresh = messages.slice(seen);
      seen = messages.length;
      return fresh;
    },
  };
  socket.addEventListener('message', (event) => {
    if (event.data === 'pong') pongs++;
    else messages.push(JSON.parse(event.data as string) as Record<string, unknown>);
  });
  socket.addEventListener('close', (event) => {
    state.closed = { code: event.code, reason: event.reason };
  });
  return state;
}

/** Open a live socket at `path` and record it; fails the test if the handshake is refused. */
export async function openSocket(path: string, origin: string | null = ORIGIN): Promise<TestSocket> {
  return record(await handshake(path, origin));
}

/** Wait until the server has closed a recorded socket, and return its code and reason. */
export function closedWith(socket: TestSocket): Promise<{ code: number; reason: string }> {
  return vi.waitFor(
    () => {
      if (!socket.closed) throw new Error('the socket is still open');
      return socket.closed;
    },
    { timeout: 5_000, interval: 10 },
  );
}

/** A live ticket for a project, as a member asks for one. */
export async function liveTicket(projectId: string, token: string): Promise<{ ticket: string; expiresAt: number }> {
  const res = await api(`/api/projects/${projectId}/live-ticket`, { method: 'POST', token });
  return expectJson<{ ticket: string; expiresAt: number }>(res, 201);
}

/** The path that opens a project's live socket with a ticket. */
export function livePath(projectId: string, ticket: string): string {
  return `/api/projects/${projectId}/live?ticket=${encodeURIComponent(ticket)}`;
}

/** Open a project's dashboard socket as a member (ticket, then handshake from the API's origin). */
export async function openDashboard(projectId: string, token: string): Promise<TestSocket> {
  const { ticket } = await liveTicket(projectId, token);
  return openSocket(livePath(projectId, ticket));
}
