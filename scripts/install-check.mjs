// Runs on the system Node (20+) before anything is installed: plain JavaScript, no dependencies.
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Modification time in ms, or undefined when the file does not exist. */
function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Whether `npm ci` must run: the repo's Node 24 (`node_modules/.bin/node`, from the `node` devDependency)
 * is missing, or package-lock.json changed after the last install (npm writes
 * `node_modules/.package-lock.json` at the end of every install).
 *
 * @param {string} [root] repository root
 * @returns {boolean}
 */
export function needsInstall(root = ROOT) {
  const bin = path.join(root, 'node_modules', '.bin');
  const hasNode = [path.join(bin, 'node'), path.join(bin, 'node.cmd')].some((file) => mtime(file) !== undefined);
  if (!hasNode) return true;
  const lock = mtime(path.join(root, 'package-lock.json'));
  const installed = mtime(path.join(root, 'node_modules', '.package-lock.json'));
  if (installed === undefined) return true;
  return lock !== undefined && lock > installed;
}
