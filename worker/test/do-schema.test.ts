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

      expect(tables()).toEqual(['drop_totals', 'meta', 'outbox', 'salts', 'visitors']);
      expect(version()).toBe('1');
      state.storage.sql.exec("INSERT INTO salts (day, salt) VALUES ('2030-01-01', 'kept')");

      expect(migrateProjectStorage(state.storage)).toBe(1);
      expect(version()).toBe('1');
      expect(state.storage.sql.exec<{ salt: string }>('SELECT salt FROM salts').one().salt).toBe('kept');
    });
  });
});
