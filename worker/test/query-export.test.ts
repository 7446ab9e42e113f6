import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { csvField } from '../src/query/csv.ts';
import { api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError } from './helpers.ts';

describe('CSV fields', () => {
  it('quote what needs quoting and disarm formulas', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField('/blog')).toBe('/blog');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvField('-1+2')).toBe("'-1+2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });
});

describe('exports and drop counts', () => {
  it('answers a query as a CSV download', async () => {
    const owner = await signUp();
    const project = await createProjectAs(owner.token, { timezone: 'UTC' });
    const ts = Date.UTC(2026, 4, 2, 10);
    const insert = (id: string, path: string, session: string) =>
      env.DB.prepare(
        `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path)
         VALUES (?, ?, ?, ?, 'pageview', ?, ?, 1, 1, 'example.com', ?)`,
      ).bind(project.id, id, ts, ts, `v-${session}`, session, path);
    await env.DB.batch([insert('e1', '/a,b', 's1'), insert('e2', '=cmd()', 's2'), insert('e3', '=cmd()', 's3')]);
    const res = await api('/api/v1/query', {
      method: 'POST',
      token: owner.token,
      body: {
        project: project.id,
        metrics: ['visitors', 'pageviews'],
        date_range: ['2026-05-02', '2026-05-02'],
        dimensions: ['page'],
        format: 'csv',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('attachment');
    expect(await res.text()).toBe(`page,visitors,pageviews\r\n'=cmd(),2,2\r\n"/a,b",1,1\r\n`);
  });

  it('counts drops per reason and day, for members only', async () => {
    const owner = await signUp();
    const stranger = await signUp();
    const project = await createProjectAs(owner.token, { timezone: 'UTC' });
    const other = await createProjectAs(owner.token, { timezone: 'UTC' });
    const row = (projectId: string, day: string, reason: string, count: number) =>
      env.DB.prepare('INSERT INTO drop_counts (project_id, day, reason, count) VALUES (?, ?, ?, ?)').bind(
        projectId,
        day,
        reason,
        count,
      );
    await env.DB.batch([
      row(project.id, '2026-05-01', 'bot', 7),
      row(project.id, '2026-05-02', 'bot', 3),
      row(project.id, '2026-05-02', 'spam', 2),
      row(project.id, '2026-05-09', 'rate_limited', 50),
      row(other.id, '2026-05-02', 'bot', 1000),
    ]);
    const ask = (token: string) =>
      api('/api/v1/drops', {
        method: 'POST',
        token,
        body: { project: project.id, date_range: ['2026-05-01', '2026-05-07'] },
      });
    expect(await expectJson(await ask(owner.token), 200)).toEqual({
      totals: { bot: 10, spam: 2, invalid_host: 0, rate_limited: 0 },
      days: [
        { day: '2026-05-01', counts: { bot: 7, spam: 0, invalid_host: 0, rate_limited: 0 } },
        { day: '2026-05-02', counts: { bot: 3, spam: 2, invalid_host: 0, rate_limited: 0 } },
      ],
    });
    await expectError(await ask(stranger.token), 404, 'not_found');
  });
});
