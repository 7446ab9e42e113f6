import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProjectDO } from '../src/live/index.ts';
import { AdmissionLog } from '../src/live/log.ts';
import { generationTables, migrateProjectStorage } from '../src/live/schema.ts';
import { decodeState } from '../src/live/sessions.ts';
import { freshProject, PINNED_NOW, storedEvent, utcDayOf, waitForEvents } from './fixtures.ts';

const LATEST = 6;

/** The object's tables, the admission log's generations aside. */
function tables(storage: DurableObjectStorage): string[] {
  return storage.sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
    )
    .toArray()
    .map((row) => row.name)
    .filter((name) => !name.startsWith('sqlite_') && !generationTables(storage.sql).includes(name));
}

/** Empty an object's storage and build it as schema version `version` left it. */
async function rebuildAt(storage: DurableObjectStorage, version: number): Promise<void> {
  await storage.deleteAll();
  expect(migrateProjectStorage(storage, PINNED_NOW, version)).toBe(version);
}

beforeEach(() => {
  vi.setSystemTime(PINNED_NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ProjectDO storage schema', () => {
  it('is migrated when an object starts, and migrating again changes nothing', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project'));
    await runInDurableObject(stub, (_instance, state) => {
      const version = () =>
        state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").one().value;

      expect(tables(state.storage)).toEqual([
        'api_key_buckets',
        'drop_totals',
        'live_tickets',
        'meta',
        'salts',
        'share_buckets',
      ]);
      expect(version()).toBe(String(LATEST));
      state.storage.sql.exec("INSERT INTO salts (day, salt) VALUES ('2030-01-01', 'kept')");

      expect(migrateProjectStorage(state.storage)).toBe(LATEST);
      expect(version()).toBe(String(LATEST));
      expect(state.storage.sql.exec<{ salt: string }>('SELECT salt FROM salts').one().salt).toBe('kept');
    });
  });

  it('upgrades an object deployed at version 1 in place, keeping its data', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project-v1'));
    await runInDurableObject(stub, async (_instance, state) => {
      await rebuildAt(state.storage, 1);
      const sql = state.storage.sql;
      sql.exec("INSERT INTO salts (day, salt) VALUES ('2030-01-01', 'kept')");

      expect(migrateProjectStorage(state.storage)).toBe(LATEST);
      sql.exec("INSERT INTO api_key_buckets (key_id, tokens, at) VALUES ('k', 1, 0)");
      expect(sql.exec<{ salt: string }>('SELECT salt FROM salts').one().salt).toBe('kept');
    });
  });

  it('upgrades an object at version 3: its visitors are live from their last event until they send again', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project-v3'));
    await runInDurableObject(stub, async (_instance, state) => {
      await rebuildAt(state.storage, 3);
      state.storage.sql.exec("INSERT INTO visitors VALUES ('k', 'v', 's', 1234, 1, '/', NULL, 10, 0)");

      expect(migrateProjectStorage(state.storage)).toBe(LATEST);
      const entry = new AdmissionLog(state.storage.sql).last();
      expect(entry?.key).toBe('k');
      expect(decodeState('k', entry?.state ?? '{}').state).toMatchObject({ liveAt: 1234, lastSeen: 1234, seq: 1 });
    });
  });

  it('upgrades an object at version 5: open visits continue, and events left in its outbox reach D1', async () => {
    const { id: projectId, stub } = await freshProject('schema');
    const waiting = storedEvent({ projectId, ts: PINNED_NOW - 60_000 });
    const visitor = { key: 'a1b2c3d4e5f60718', session: 'session-before-upgrade' };
    await runInDurableObject(stub, async (_instance, state) => {
      await rebuildAt(state.storage, 5);
      const sql = state.storage.sql;
      sql.exec("INSERT INTO meta (key, value) VALUES ('project_id', ?)", projectId);
      sql.exec("INSERT INTO salts (day, salt) VALUES (?, 'today')", utcDayOf(PINNED_NOW));
      sql.exec('INSERT INTO outbox (body, events) VALUES (?, 1)', JSON.stringify(waiting));
      sql.exec(
        `INSERT INTO visitors (key, visitor, session_id, last_seen, seen_at, seq, page, country, tokens, tokens_at)
         VALUES (?, ?, ?, ?, ?, 3, '/', 'DE', 100, ?)`,
        visitor.key,
        visitor.key,
        visitor.session,
        PINNED_NOW - 60_000,
        PINNED_NOW - 60_000,
        PINNED_NOW - 60_000,
      );
      await state.storage.setAlarm(PINNED_NOW + 200);
    });
    await evictDurableObject(stub);

    // The new code starts: the old outbox is sent first, then dropped.
    expect(await (stub as DurableObjectStub<ProjectDO>).pendingEvents()).toBe(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingEvents()).toBe(0);
    expect((await waitForEvents(projectId, 1)).map((row) => row.id)).toEqual([waiting.id]);
    await runInDurableObject(stub, async (instance, state) => {
      expect(tables(state.storage)).not.toContain('outbox');
      expect(tables(state.storage)).not.toContain('visitors');
      // The visitor found by its key continues its visit.
      const store = (instance as unknown as { visitors: { get(key: string): unknown } }).visitors;
      expect(store.get(visitor.key)).toMatchObject({ sessionId: visitor.session, seq: 3 });
    });
  });
});
