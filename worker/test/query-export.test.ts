import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import { csvField } from '../src/query/csv.ts';
import { EXPORT_FILES } from '../src/query/export.ts';
import { api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError, markEventHoursStatement } from './helpers.ts';

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
    await markEventHoursStatement(project.id).run();
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

describe('the zip export', () => {
  it('holds every standard breakdown as CSV, for members only', async () => {
    const owner = await signUp();
    const stranger = await signUp();
    const project = await createProjectAs(owner.token, { timezone: 'UTC' });
    const ts = Date.UTC(2026, 4, 2, 10);
    const insert = (id: string, name: string, path: string, session: string, seq: number) =>
      env.DB.prepare(
        `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path, source, country)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'example.com', ?, 'Google', 'DE')`,
      ).bind(project.id, id, ts + seq, ts, name, `v-${session}`, session, seq, seq === 1 ? 1 : 0, path);
    await env.DB.batch([
      insert('x1', 'pageview', '/', 's1', 1),
      insert('x2', 'pageview', '/docs', 's1', 2),
      insert('x3', 'signup', '/docs', 's1', 3),
    ]);
    await markEventHoursStatement(project.id).run();
    const goal = await api(`/api/projects/${project.id}/goals`, {
      method: 'POST',
      token: owner.token,
      body: { name: 'Signed up', kind: 'event', eventName: 'signup' },
    });
    expect(goal.status).toBe(201);
    const ask = (token: string) =>
      api('/api/v1/export', {
        method: 'POST',
        token,
        body: { project: project.id, date_range: ['2026-05-02', '2026-05-02'] },
      });
    const res = await ask(owner.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(EXPORT_FILES.map(({ file }) => file).sort());
    const text = (file: string) => strFromU8(files[file] as Uint8Array);
    expect(text('pages.csv')).toBe('page,visitors,pageviews,bounce_rate\r\n/,1,1,0\r\n/docs,1,1,0\r\n');
    expect(text('sources.csv')).toBe(
      'source,visitors,visits,pageviews,bounce_rate,visit_duration\r\nGoogle,1,1,2,0,0\r\n',
    );
    expect(text('custom_events.csv')).toBe('event:name,visitors,events\r\npageview,1,2\r\nsignup,1,1\r\n');
    expect(text('visitors.csv').split('\r\n')[1]).toBe('2026-05-02,1,1,2,2,0,0');
    expect(text('goals.csv')).toBe('event:goal,visitors,events,conversion_rate,revenue\r\nSigned up,1,1,100,0\r\n');
    expect(text('referrers.csv').split('\r\n')[0]).toBe(
      'referrer,visitors,visits,pageviews,bounce_rate,visit_duration',
    );
    await expectError(await ask(stranger.token), 404, 'not_found');
  });
});
