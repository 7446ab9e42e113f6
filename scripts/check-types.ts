/**
 * `npm run types:check`: fail when the committed Env types no longer match wrangler.toml.
 *
 * `wrangler types --check` regenerates the types in memory and compares the hash in the committed
 * file's header. Secrets come from wrangler.toml's `[secrets]` table, not from `.dev.vars`, so the
 * answer is the same on a laptop as in CI.
 */
import { capture, commandLine } from './run.ts';

const TYPES_FILE = 'worker/worker-configuration.d.ts';
const STALE_MESSAGE = `${TYPES_FILE} is stale: run npm run types`;

const args = ['types', TYPES_FILE, '--include-runtime=false', '--strict-vars=false', '--check'];
const result = await capture('wrangler', args);

if (result.code === 0) {
  console.log(`${TYPES_FILE} is up to date.`);
} else {
  if (!/out of date/i.test(result.stdout + result.stderr)) {
    // Not a stale file but a broken check (bad config, missing file): show why.
    process.stderr.write(result.stdout + result.stderr);
    console.error(`\`${commandLine('wrangler', args)}\` failed with code ${result.code}.`);
  }
  console.error(STALE_MESSAGE);
  process.exit(1);
}
