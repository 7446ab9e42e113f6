import { applyD1Migrations, env } from 'cloudflare:test';

// Every test file starts from an empty database with the committed migrations applied.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
