/**
 * Server-side ingestion with a secret API key (`Authorization: Bearer` or `X-Tally-Key`): what a
 * key unlocks (no site key, `ip` and `ua` per event), and the 401/403 answers when it cannot.
 */
import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { generateApiKey } from '../src/auth/index.ts';
import { apiKeys, getDb } from '../src/db/index.ts';
import {
  createApiKey,
  createProject,
  expectError,
  PIPELINE_WAIT,
  pageview,
  postEvent,
  storedEvents,
  type TestProject,
  USER_AGENTS,
  waitForDrops,
  waitForEvents,
} from './helpers.ts';

/** A server calling the API: its own user agent, its own address. */
const SERVER = { 'user-agent': 'tally-node/0.1 (+server)', 'cf-connecting-ip': '198.51.100.1' };

let project: TestProject;
let key: string;
let keyId: string;
beforeEach(async () => {
  project = await createProject();
  ({ key, id: keyId } = await createApiKey(project.id));
});

describe.each([
  ['Authorization: Bearer', (secret: string) => ({ authorization: `Bearer ${secret}` })],
  ['X-Tally-Key', (secret: string) => ({ 'x-tally-key': secret })],
])('with %s', (_header, auth) => {
  it('ingests without a site key, into the key’s project', async () => {
    const res = await postEvent(pageview(undefined, { ua: USER_AGENTS.firefoxWindows }), {
      headers: { ...SERVER, ...auth(key) },
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const [row] = await waitForEvents(project.id, 1);
    expect(row).toMatchObject({ projectId: project.id, browser: 'Firefox' });
  });

  it('answers 401 unauthorized for a bad key', async () => {
    await expectError(await postEvent(pageview(undefined), { headers: auth('tly_nope') }), 401, 'unauthorized');
  });
});

describe('401: every unusable key gets the same answer', () => {
  it('for malformed, unknown, wrong-secret, revoked and expired keys', async () => {
    const now = Date.now();
    const revoked = await createApiKey(project.id, { revokedAt: now - 1_000 });
    const expired = await createApiKey(project.id, { expiresAt: now - 1_000 });
    const keys = {
      malformed: 'not-a-key',
      unknown: generateApiKey().key,
      wrongSecret: `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
      revoked: revoked.key,
      expired: expired.key,
    };
    const bodies: string[] = [];
    for (const [kind, secret] of Object.entries(keys)) {
      const res = await postEvent(pageview(undefined), { headers: { ...SERVER, authorization: `Bearer ${secret}` } });
      expect(res.status, kind).toBe(401);
      bodies.push(await res.text());
    }
    expect(new Set(bodies).size, bodies.join('\n')).toBe(1);
    expect(JSON.parse(bodies[0] ?? '')).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('accepts a key until it expires', async () => {
    const later = await createApiKey(project.id, { expiresAt: Date.now() + 3_600_000 });
    const res = await postEvent(pageview(undefined), { headers: { ...SERVER, 'x-tally-key': later.key } });
    expect(res.status).toBe(202);
  });
});

describe('403 forbidden', () => {
  it('for a key without the ingest scope', async () => {
    const reader = await createApiKey(project.id, { scopes: ['read'] });
    const res = await postEvent(pageview(undefined), { headers: { ...SERVER, 'x-tally-key': reader.key } });
    await expectError(res, 403, 'forbidden');
  });

  it('for a key of one project sending another project’s site key', async () => {
    const other = await createProject();
    const body = [pageview(project.siteKey), pageview(other.siteKey)];
    const error = await expectError(
      await postEvent(body, { headers: { ...SERVER, 'x-tally-key': key } }),
      403,
      'forbidden',
    );
    expect(error.details).toEqual([{ path: [1, 's'], message: expect.any(String) }]);
  });

  it.each([
    ['ip', { ip: '203.0.113.50' }],
    ['ua', { ua: USER_AGENTS.safariIphone }],
  ])('for `%s` without an API key, naming each field', async (field, fields) => {
    const body = [pageview(project.siteKey), pageview(project.siteKey, fields)];
    const error = await expectError(await postEvent(body), 403, 'forbidden');
    expect(error.details).toEqual([{ path: [1, field], message: expect.any(String) }]);
    expect(await storedEvents(project.id)).toEqual([]);
  });
});

describe('ip and ua from a server', () => {
  it('are used for the visitor and the device, and a bot `ua` is dropped', async () => {
    const body = [
      pageview(undefined, { u: 'https://example.com/a', ip: '203.0.113.10', ua: USER_AGENTS.safariIphone }),
      pageview(undefined, { u: 'https://example.com/b', ip: '2001:db8::20', ua: USER_AGENTS.safariIphone }),
      pageview(undefined, { u: 'https://example.com/c', ip: '203.0.113.10', ua: USER_AGENTS.safariIphone }),
      pageview(undefined, { u: 'https://example.com/bot', ip: '203.0.113.10', ua: USER_AGENTS.googlebot }),
    ];
    const res = await postEvent(body, { headers: { ...SERVER, authorization: `Bearer ${key}` } });
    expect(await res.json()).toMatchObject({ accepted: 3 });

    const rows = await waitForEvents(project.id, 3);
    const byPath = Object.fromEntries(rows.map((row) => [row.path, row]));
    expect(Object.keys(byPath).sort()).toEqual(['/a', '/b', '/c']);
    // The event's ua, not the server's, decides the device.
    for (const row of rows) expect(row).toMatchObject({ browser: 'Mobile Safari', os: 'iOS', device: 'mobile' });
    expect(byPath['/a']?.visitorId).toBe(byPath['/c']?.visitorId);
    expect(byPath['/a']?.visitorId).not.toBe(byPath['/b']?.visitorId);
    expect(await waitForDrops(project.id, 'bot', 1)).toBe(1);
  });

  it('counts each use of the key', async () => {
    const row = () => getDb(env.DB).select().from(apiKeys).where(eq(apiKeys.id, keyId)).get();
    expect((await row())?.usageCount).toBe(0);
    for (let i = 0; i < 3; i++) {
      const res = await postEvent(pageview(undefined), { headers: { ...SERVER, 'x-tally-key': key } });
      expect(res.status).toBe(202);
    }
    await vi.waitFor(async () => expect((await row())?.usageCount).toBe(3), PIPELINE_WAIT);
    expect((await row())?.lastUsedAt).toEqual(expect.any(Number));
  });
});
