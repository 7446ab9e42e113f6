import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { dropDeliberateCrashReports } from './test/deliberate-crash.ts';

const root = path.resolve(import.meta.dirname, '..');

// workerd reports a ProjectDO that a fault test aborts on purpose as an uncaught exception, through
// the runner's output: those reports, and only those, are left out (test/deliberate-crash.ts).
dropDeliberateCrashReports(process.stdout);
dropDeliberateCrashReports(process.stderr);

// Tests run inside workerd with the real bindings of wrangler.toml: D1, the queues, the ProjectDO.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, 'wrangler.toml') },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            // Projects made by tests stay in `DB`, where most tests read their rows; the pool's
            // own tests (d1-pool.test.ts) spread them over `DB` and `DB_1`.
            NEW_PROJECT_DATABASES: 'DB',
            API_KEY_PEPPER: 'test-pepper',
            AUTH_SECRET: 'test-auth-secret-0123456789abcdef',
            // The operator's secret (`auth/operator.ts`): the move route answers to it alone.
            OPERATOR_TOKEN: 'test-operator-token',
          },
        },
      }),
    ],
    // The wire protocol as TypeScript source, as wrangler.toml's alias gives the deployed bundle.
    resolve: {
      alias: {
        '@tally/sdk/protocol': path.join(root, 'sdk/src/protocol.ts'),
        '@tally/sdk/catalog': path.join(root, 'sdk/src/catalog.ts'),
      },
    },
    test: {
      include: ['test/**/*.test.ts'],
      setupFiles: ['./test/setup.ts'],
      testTimeout: 30_000,
    },
  };
});
