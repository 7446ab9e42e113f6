declare namespace Cloudflare {
  interface Env {
    /** The committed migrations, read by vitest.config.ts and applied in test/setup.ts. */
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
  }
}
