/**
 * `npm run types:check`: fail when the committed Env types no longer match wrangler.toml.
 *
 * `wrangler types --check` (wrangler 4.x) regenerates the Env types in memory and compares the
 * hash in the committed file's header, so the header's command line and path do not matter.
 *
 * NOTE: without a `[secrets]` table in wrangler.toml, wrangler infers secrets from `.dev.vars`,
 * which `npm run dev` creates locally and a clean clone lacks. The check therefore reads an empty
 * env file instead, so it answers the same on a laptop as in CI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capture, commandLine } from './run.ts';

const TYPES_FILE = 'worker/worker-configuration.d.ts';
const STALE_MESSAGE = `${TYPES_FILE} is stale: run npm run types`;

const dir = mkdtempSync(path.join(tmpdir(), 'tally-types-'));
const emptyEnvFile = path.join(dir, 'empty.env');
writeFileSync(emptyEnvFile, '');

const args = ['types', TYPES_FILE, '--include-runtime=false', '--check', `--env-file=${emptyEnvFile}`];
const result = await capture('wrangler', args);
rmSync(dir, { recursive: true, force: true });

if (result.code === 0) {
  console.log(`${TYPES_FILE} is up to date.`);
} else if (/out of date/i.test(result.stdout + result.stderr)) {
  console.error(STALE_MESSAGE);
  process.exit(1);
} else {
  // Not a stale file but a broken check (bad config, missing file): show why.
  process.stderr.write(result.stdout + result.stderr);
  console.error(`\`${commandLine('wrangler', args)}\` failed with code ${result.code}.`);
  console.error(STALE_MESSAGE);
  process.exit(1);
}
