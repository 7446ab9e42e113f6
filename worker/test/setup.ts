import { applyD1Migrations, env } from 'cloudflare:test';
import { poolDatabase, poolNames } from '../src/store/index.ts';

// Every test file starts from empty databases with the committed migrations applied: all of the
// pool's (`DB` and `DB_1`), as `npm run deploy` applies them to every database it binds.
for (const name of poolNames(env)) await applyD1Migrations(poolDatabase(env, name), env.TEST_MIGRATIONS);
