import { env } from 'cloudflare:workers';
import { createScheduledController } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { purgeExpiredAuth } from '../src/auth/cleanup.ts';
import { REFRESH_TTL_MS } from '../src/auth/tokens.ts';
import worker from '../src/index.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2031, 0, 10, 12);

async function seed(): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u1@x.io', 'x', 0)"),
    // A live session and one idle past the refresh lifetime, one long revoked, one just revoked.
    ...[
      ['live', NOW - DAY, null],
      ['idle', NOW - REFRESH_TTL_MS - 2 * DAY, null],
      ['revoked-long-ago', NOW - DAY, NOW - REFRESH_TTL_MS - 2 * DAY],
      ['revoked-today', NOW - DAY, NOW - 1_000],
    ].map(([id, lastUsed, revoked]) =>
      env.DB.prepare(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, revoked_at) VALUES (?, 'u1', 0, ?, ?)",
      ).bind(id, lastUsed, revoked),
    ),
    ...[
      ['fresh', NOW + DAY],
      ['expired-an-hour-ago', NOW - 3_600_000],
      ['expired-two-days-ago', NOW - 2 * DAY],
    ].map(([hash, expires]) =>
      env.DB.prepare(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, 'live', 0, ?)",
      ).bind(hash, expires),
    ),
    ...[
      ['email:old', NOW - 2 * DAY, null],
      ['email:locked', NOW - 2 * DAY, NOW + 60_000],
      ['email:recent', NOW - 60_000, null],
    ].map(([key, updated, locked]) =>
      env.DB.prepare('INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES (?, 1, ?, ?)').bind(
        key,
        locked,
        updated,
      ),
    ),
  ]);
}

const column = async (sql: string) =>
  (await env.DB.prepare(sql).all<{ k: string }>()).results.map((row) => row.k).sort();

describe('purging expired auth rows', () => {
  it('removes only what no longer guards anything', async () => {
    await seed();
    expect(await purgeExpiredAuth(env.DB, NOW)).toEqual({ refresh_tokens: 1, sessions: 2, sign_in_throttle: 1 });
    expect(await column('SELECT id AS k FROM sessions')).toEqual(['live', 'revoked-today']);
    expect(await column('SELECT token_hash AS k FROM refresh_tokens')).toEqual(['expired-an-hour-ago', 'fresh']);
    expect(await column('SELECT key AS k FROM sign_in_throttle')).toEqual(['email:locked', 'email:recent']);
    // Running again finds nothing more.
    expect(await purgeExpiredAuth(env.DB, NOW)).toEqual({ refresh_tokens: 0, sessions: 0, sign_in_throttle: 0 });
  });

  it('runs from the cron at the top of each hour only', async () => {
    await env.DB.prepare(
      "INSERT INTO sign_in_throttle (key, failures, locked_until, updated_at) VALUES ('email:cron', 1, NULL, ?)",
    )
      .bind(NOW - 2 * DAY)
      .run();
    const tick = (at: number) =>
      worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/5 * * * *' }), env);
    const hour = Math.floor(NOW / 3_600_000) * 3_600_000;
    await tick(hour + 20 * 60_000);
    expect(await column("SELECT key AS k FROM sign_in_throttle WHERE key = 'email:cron'")).toEqual(['email:cron']);
    await tick(hour + 3_600_000);
    expect(await column("SELECT key AS k FROM sign_in_throttle WHERE key = 'email:cron'")).toEqual([]);
  });
});
