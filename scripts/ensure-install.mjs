// `npm ci` when node_modules is missing or older than package-lock.json. Runs on the system Node (20+).
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { needsInstall } from './install-check.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function npm(args) {
  const result = spawnSync('npm', args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) console.error(`Could not run npm ${args.join(' ')}: ${result.error.message}`);
  return result.status === 0;
}

/** Install dependencies if needed; returns false when the install failed. */
export function ensureInstall() {
  if (!needsInstall(ROOT)) return true;
  console.log('Installing dependencies (npm ci)…');
  if (npm(['ci', '--no-audit', '--no-fund'])) return true;
  // NOTE: npm ci refuses a lock that lacks other platforms' optional binaries (biome, workerd), which
  // happens when the lock was written against a registry mirror that does not carry them. npm install
  // still installs the locked versions; it only adds the missing entries to the lock.
  console.log('npm ci failed; retrying with npm install (same locked versions)…');
  return npm(['install', '--no-audit', '--no-fund']);
}

// Run directly (`node scripts/ensure-install.mjs`), not imported.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  if (!ensureInstall()) process.exit(1);
}
