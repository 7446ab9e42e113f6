import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { migrateProjectStorage } from '../src/live/schema.ts';

describe('ProjectDO storage schema', () => {
  it('is migrated when an object starts, and migrating again changes nothing', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project'));
    await runInDurableObject(stub, (_instance, state) => {
      const tables = () =>
        state.storage.sql
          .exec<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
          )
          .toArray()
          .map((row) => row.name)
          .filter((name) => !name.startsWith('sqlite_'));
      const version = () =>
        state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").one().value;

      expect(tables()).toEqual([
        'api_key_buckets',
        'drop_totals',
        'live_tickets',
        'meta',
        'outbox',
        'recent_events',
        'salts',
        'share_buckets',
        'visitors',
      ]);
      expect(version()).toBe('5');
      state.storage.sql.exec("INSERT INTO salts (day, salt) VALUES ('2030-01-01', 'kept')");

      expect(migrateProjectStorage(state.storage)).toBe(5);
      expect(version()).toBe('5');
      expect(state.storage.sql.exec<{ salt: string }>('SELECT salt FROM salts').one().salt).toBe('kept');
    });
  });

  it('upgrades an object deployed at version 1 in place, keeping its data', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project-v1'));
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // Put the object back to what version 1 left behind.
      for (const table of ['api_key_buckets', 'recent_events', 'live_tickets', 'share_buckets'])
        sql.exec(`DROP TABLE ${table}`);
      sql.exec('DROP INDEX visitors_seen_at');
      sql.exec('ALTER TABLE visitors DROP COLUMN seen_at');
      sql.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
      sql.exec("INSERT INTO salts (day, salt) VALUES ('2030-01-01', 'kept')");

      expect(migrateProjectStorage(state.storage)).toBe(5);
      sql.exec("INSERT INTO api_key_buckets (key_id, tokens, at) VALUES ('k', 1, 0)");
      sql.exec("INSERT INTO recent_events (ts, name, path) VALUES (0, 'pageview', '/')");
      expect(sql.exec<{ salt: string }>('SELECT salt FROM salts').one().salt).toBe('kept');
    });
  });

  it('upgrades an object at version 3: its visitors are live from their last event until they send again', async () => {
    const stub = env.PROJECT.get(env.PROJECT.idFromName('schema-project-v3'));
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // Put the visitors table back to what version 3 left behind, with one visitor in it.
      sql.exec('DROP TABLE share_buckets');
      sql.exec('DROP TABLE visitors');
      sql.exec(`CREATE TABLE visitors (
        key TEXT PRIMARY KEY, visitor TEXT NOT NULL, session_id TEXT NOT NULL, last_seen INTEGER NOT NULL,
        seq INTEGER NOT NULL, page TEXT NOT NULL, country TEXT, tokens REAL NOT NULL, tokens_at INTEGER NOT NULL)`);
      sql.exec('CREATE INDEX visitors_last_seen ON visitors (last_seen)');
      sql.exec("INSERT INTO visitors VALUES ('k', 'v', 's', 1234, 1, '/', NULL, 10, 0)");
      sql.exec("UPDATE meta SET value = '3' WHERE key = 'schema_version'");

      expect(migrateProjectStorage(state.storage)).toBe(5);
      expect(sql.exec<{ seen_at: number }>("SELECT seen_at FROM visitors WHERE key = 'k'").one().seen_at).toBe(1234);
    });
  });
});
