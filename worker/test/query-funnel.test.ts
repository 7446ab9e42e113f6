import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError, markEventHoursStatement } from './helpers.ts';

const TS = Date.UTC(2026, 4, 2, 10);

describe('funnels in queries', () => {
  it('count the visits that pass each step in order', async () => {
    const owner = await signUp();
    const project = await createProjectAs(owner.token, { timezone: 'UTC' });
    const events: [session: string, name: string, path: string, props?: string][] = [
      ['s1', 'pageview', '/'],
      ['s1', 'pageview', '/pricing'],
      ['s1', 'signup', '/pricing', '{"plan":"pro"}'],
      ['s2', 'pageview', '/pricing'],
      ['s2', 'pageview', '/'], // wrong order: reaches step 1 only
      ['s3', 'pageview', '/'],
      ['s3', 'pageview', '/pricing'],
      ['s3', 'signup', '/pricing', '{"plan":"free"}'],
      ['s4', 'pageview', '/blog'],
    ];
    const seq = new Map<string, number>();
    await env.DB.batch(
      events.map(([session, name, path, props], index) => {
        const n = (seq.get(session) ?? 0) + 1;
        seq.set(session, n);
        return env.DB.prepare(
          `INSERT INTO events (project_id, id, ts, received_at, name, visitor_id, session_id, seq, is_entry, hostname, path, props, country)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'example.com', ?, ?, ?)`,
        ).bind(
          project.id,
          `e${index}`,
          TS + index * 1000,
          TS,
          name,
          `v-${session}`,
          session,
          n,
          n === 1 ? 1 : 0,
          path,
          props ?? null,
          session === 's3' ? 'DE' : 'US',
        );
      }),
    );
    await markEventHoursStatement(project.id).run();
    const funnel = await expectJson<{ id: string }>(
      await api(`/api/projects/${project.id}/funnels`, {
        method: 'POST',
        token: owner.token,
        body: {
          name: 'Signup',
          steps: [
            { kind: 'pageview', path: '/' },
            { kind: 'pageview', path: '/pricing' },
            { kind: 'event', eventName: 'signup', propertyKey: 'plan', propertyValue: 'pro' },
          ],
        },
      }),
      201,
    );
    const ask = (body: Record<string, unknown> = {}) =>
      api('/api/v1/funnel', {
        method: 'POST',
        token: owner.token,
        body: { project: project.id, funnel: funnel.id, date_range: ['2026-05-02', '2026-05-02'], ...body },
      });
    expect(await expectJson(await ask(), 200)).toEqual({
      steps: [
        { name: 'Visit /', visits: 3, conversion_rate: 100, drop_off: 0 },
        { name: 'Visit /pricing', visits: 2, conversion_rate: 66.67, drop_off: 1 },
        { name: 'signup (plan: pro)', visits: 1, conversion_rate: 33.33, drop_off: 1 },
      ],
    });
    const germany = await expectJson<{ steps: { visits: number }[] }>(
      await ask({ filters: [['is', 'country', ['DE']]] }),
      200,
    );
    expect(germany.steps.map((step) => step.visits)).toEqual([1, 1, 0]);
    await expectError(await ask({ filters: [['is', 'page', ['/']]] }), 400, 'invalid_input');
    await expectError(await ask({ funnel: 'no-such-funnel' }), 404, 'not_found');
  });
});
