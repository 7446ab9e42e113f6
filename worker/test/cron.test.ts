import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rotateSaltsSlice, runScheduled } from '../src/cron.ts';
import { expectLogs } from './expected-logs.ts';

const DAY = 86_400_000;
const TICK = 5 * 60_000;
const MIDNIGHT = Date.UTC(2031, 2, 3);

describe('the cron', () => {
  it('rotates salts in slices of 40 projects over the first hour of the day', async () => {
    const now = Date.now();
    await env.DB.batch(
      Array.from({ length: 45 }, (_, i) =>
        env.DB.prepare('INSERT INTO projects (id, name, site_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').bind(
          `cron-${String(i).padStart(2, '0')}`,
          `P${i}`,
          `cron-key-${i}`,
          now,
          now,
        ),
      ),
    );
    expect(await rotateSaltsSlice(env, MIDNIGHT + 60_000)).toBe(40);
    expect(await rotateSaltsSlice(env, MIDNIGHT + TICK + 60_000)).toBe(5);
    expect(await rotateSaltsSlice(env, MIDNIGHT + 12 * TICK)).toBe(0);
    expect(await rotateSaltsSlice(env, MIDNIGHT + DAY / 2)).toBe(0);
    const stub = env.PROJECT.get(env.PROJECT.idFromName('cron-44'));
    expect(await stub.rotateSalts(MIDNIGHT + 60_000)).toEqual(['2031-03-03']);
  });

  it('runs every step even when one fails, then reports the failure', async () => {
    const failures = expectLogs('error', /^cron: salt rotation failed: /);
    await env.DB.prepare(
      "INSERT INTO projects (id, name, site_key, created_at, updated_at) VALUES ('cron-x', 'X', 'cron-x', 0, 0)",
    ).run();
    await env.DB.prepare(
      "INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES ('email:stale', 1, NULL, ?)",
    )
      .bind(MIDNIGHT - 2 * DAY)
      .run();
    // Fault injection: every Durable Object call fails.
    const broken = {
      ...env,
      PROJECT: {
        idFromName: (name: string) => env.PROJECT.idFromName(name),
        get: () => ({ rotateSalts: () => Promise.reject(new Error('Durable Object is overloaded')) }),
      } as unknown as Env['PROJECT'],
    };
    await expect(runScheduled(broken, MIDNIGHT + 60_000)).rejects.toThrow('cron steps failed: salt rotation');
    expect(failures.lines).toEqual(['cron: salt rotation failed: Durable Object is overloaded']);
    // The auth cleanup after it still ran.
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM sign_in_throttle WHERE key = 'email:stale'").first<{
      n: number;
    }>();
    expect(left?.n).toBe(0);
  });
});
