// `npm ci` when node_modules is missing or older than package-lock.json. Runs on the system Node (20+).
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { needsInstall } from './install-check.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Install dependencies if needed; returns false when `npm ci` failed. */
export function ensureInstall() {
  if (!needsInstall(ROOT)) return true;
  console.log('Installing dependencies (npm ci)…');
  const result = spawnSync('npm', ['ci'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) console.error(`Could not run npm ci: ${result.error.message}`);
  return result.status === 0;
}

// Run directly (`node scripts/ensure-install.mjs`), not imported.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  if (!ensureInstall()) process.exit(1);
}
