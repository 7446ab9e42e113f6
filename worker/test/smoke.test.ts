import { env, exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';

describe('smoke', () => {
  it('health answers', async () => {
    const res = await exports.default.fetch('http://tally.test/api/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', checks: { d1: true, queue: true, durableObject: true } });
  });

  it('an event travels to D1', async () => {
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO projects (id, name, site_key, created_at, updated_at) VALUES ('p1', 'P1', 'site1', ?, ?)",
      ).bind(now, now),
      env.DB.prepare("INSERT INTO project_hostnames (project_id, hostname) VALUES ('p1', 'example.com')"),
    ]);
    const res = await exports.default.fetch('http://tally.test/api/event', {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        'user-agent':
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
        'cf-connecting-ip': '203.0.113.7',
      },
      body: JSON.stringify({
        s: 'site1',
        n: 'pageview',
        u: 'https://example.com/a?utm_source=news',
        r: 'https://www.google.com/search?q=x',
        w: 1280,
      }),
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(202);
    await vi.waitFor(
      async () => {
        const row = await env.DB.prepare('SELECT * FROM events').first();
        expect(row).toMatchObject({ project_id: 'p1', path: '/a', source: 'news', browser: 'Chrome' });
      },
      { timeout: 10_000, interval: 100 },
    );
  });
});
