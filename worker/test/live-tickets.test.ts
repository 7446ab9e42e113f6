/**
 * Who may open a dashboard's live socket: tickets (`POST /api/projects/{id}/live-ticket`) are for
 * members only, open one socket, die after 30 seconds and only open their own project's socket;
 * the handshake must come from an allowed Origin. Every refusal is an ordinary error response,
 * before anything is upgraded.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { app } from '../src/app.ts';
import { LIVE_TICKET_TTL_MS } from '../src/live/index.ts';
import { addMember, api, createProjectAs, expectJson, signUp, uniqueEmail } from './accounts.ts';
import { PINNED_NOW } from './fixtures.ts';
import { createApiKey, expectError, ORIGIN } from './helpers.ts';
import { handshake, livePath, liveTicket as ticketFor, record } from './live-helpers.ts';

interface Ticket {
  ticket: string;
  expiresAt: number;
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('live tickets', () => {
  it('are issued to any member, viewers included, valid for 30 seconds and never cached', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const viewer = await signUp(uniqueEmail('viewer'));
    const project = await createProjectAs(owner.token);
    await addMember(owner.token, project.id, viewer.email, 'viewer');

    for (const user of [owner, viewer]) {
      const res = await api(`/api/projects/${project.id}/live-ticket`, { method: 'POST', token: user.token });
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = await expectJson<Ticket>(res, 201);
      expect(Object.keys(body).sort()).toEqual(['expiresAt', 'ticket']);
      expect(body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(body.expiresAt).toBe(PINNED_NOW + LIVE_TICKET_TTL_MS);
      record(await handshake(livePath(project.id, body.ticket)));
    }
  });

  it('are refused to non-members (404, like a missing project), API keys and share links, and strangers', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const stranger = await signUp(uniqueEmail('stranger'));
    const project = await createProjectAs(owner.token);
    const path = `/api/projects/${project.id}/live-ticket`;

    await expectError(await api(path, { method: 'POST', token: stranger.token }), 404, 'not_found');
    await expectError(
      await api('/api/projects/nope/live-ticket', { method: 'POST', token: owner.token }),
      404,
      'not_found',
    );
    await expectError(await api(path, { method: 'POST' }), 401, 'unauthorized');
    const key = await createApiKey(project.id, { scopes: ['read', 'admin'] });
    await expectError(await api(path, { method: 'POST', token: key.key }), 403, 'forbidden');
    const share = await expectJson<{ slug: string }>(
      await api(`/api/projects/${project.id}/shares`, { method: 'POST', token: owner.token, body: { name: 'Board' } }),
      201,
    );
    await expectError(await api(path, { method: 'POST', headers: { 'x-tally-share': share.slug } }), 403, 'forbidden');
  });

  it('need an allowed Origin when the browser authenticates with its cookie (CSRF)', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    const path = `/api/projects/${project.id}/live-ticket`;
    const cookie = `tally_access=${owner.token}`;

    await expectError(await api(path, { method: 'POST', headers: { cookie } }), 403, 'forbidden');
    await expectError(
      await api(path, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } }),
      403,
      'forbidden',
    );
    await expectJson(await api(path, { method: 'POST', headers: { cookie, origin: ORIGIN } }), 201);
  });

  it('open one socket: a ticket used once is refused the second time', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    const { ticket } = await ticketFor(project.id, owner.token);

    const first = record(await handshake(livePath(project.id, ticket)));
    expect((await first.take())[0]).toMatchObject({ type: 'snapshot', visitors: 0 });
    const again = await handshake(livePath(project.id, ticket));
    expect(again.webSocket).toBeNull();
    await expectError(again, 401, 'unauthorized');
  });

  it('expire 30 seconds after they were issued', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    const early = await ticketFor(project.id, owner.token);
    const late = await ticketFor(project.id, owner.token);

    vi.setSystemTime(PINNED_NOW + LIVE_TICKET_TTL_MS - 1);
    record(await handshake(livePath(project.id, early.ticket)));
    vi.setSystemTime(PINNED_NOW + LIVE_TICKET_TTL_MS);
    await expectError(await handshake(livePath(project.id, late.ticket)), 401, 'unauthorized');
  });

  it("open only their own project's socket, and are not spent by trying another", async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const [mine, other] = [await createProjectAs(owner.token), await createProjectAs(owner.token)];
    const { ticket } = await ticketFor(mine.id, owner.token);

    await expectError(await handshake(livePath(other.id, ticket)), 401, 'unauthorized');
    await expectError(await handshake(livePath('no-such-project', ticket)), 401, 'unauthorized');
    record(await handshake(livePath(mine.id, ticket)));
  });

  it('are required, and only for a WebSocket handshake', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    await expectError(await handshake(`/api/projects/${project.id}/live`), 401, 'unauthorized');
    await expectError(await handshake(livePath(project.id, 'made-up')), 401, 'unauthorized');
    const { ticket } = await ticketFor(project.id, owner.token);
    const plain = await api(livePath(project.id, ticket), { headers: { origin: ORIGIN } });
    expect(plain.headers.get('upgrade')).toBe('websocket');
    await expectError(plain, 426, 'upgrade_required');
    // The refused request did not spend the ticket.
    record(await handshake(livePath(project.id, ticket)));
  });
});

describe('the live socket handshake', () => {
  it('is refused from another origin, before the ticket is spent', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    const { ticket } = await ticketFor(project.id, owner.token);

    for (const origin of ['https://evil.example', 'http://tally.test.evil.example', 'null']) {
      const refused = await handshake(livePath(project.id, ticket), origin);
      expect(refused.webSocket).toBeNull();
      await expectError(refused, 403, 'forbidden');
    }
    // No Origin at all is not a browser, which is what the check protects; the ticket still works.
    record(await handshake(livePath(project.id, ticket), null));
  });

  it('accepts an origin listed in ALLOWED_ORIGINS', async () => {
    const owner = await signUp(uniqueEmail('owner'));
    const project = await createProjectAs(owner.token);
    const dashboard = 'https://dash.example.com';
    const request = async (allowed: string) => {
      const { ticket } = await ticketFor(project.id, owner.token);
      const ctx = createExecutionContext();
      const response = await app.fetch(
        new Request(`${ORIGIN}${livePath(project.id, ticket)}`, {
          headers: { upgrade: 'websocket', origin: dashboard },
        }),
        { ...env, ALLOWED_ORIGINS: allowed },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };

    await expectError(await request(''), 403, 'forbidden');
    await expectError(await request('https://other.example.com'), 403, 'forbidden');
    const socket = record(await request(`https://other.example.com, ${dashboard}/`));
    expect((await socket.take())[0]).toMatchObject({ type: 'snapshot' });
  });
});
