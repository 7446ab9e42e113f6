// `npm run lock:complete`: list other platforms' optional binaries in package-lock.json.
//
// NOTE: the registry this project is built against serves only the Linux builds of Biome and
// workerd. npm then leaves the macOS/Windows/musl builds out of the lock, and `npm ci` refuses a
// lock that does not name every optional dependency. Each missing entry is added with its version
// and platform, which is all `npm ci` needs to skip it here (and to fetch it on that platform).
// Run after every `npm install` that changes the lock. Plain JavaScript: runs on Node 20.
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const OS = { android: 'android', darwin: 'darwin', linux: 'linux', win32: 'win32', windows: 'win32' };

const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const packages = lock.packages;
const added = [];
for (const meta of Object.values({ ...packages })) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.map((part) => OS[part]).find(Boolean);
    if (!os) continue;
    const entry = {
      version,
      dev: meta.dev === true,
      optional: true,
      os: [os],
      cpu: [parts.includes('arm64') ? 'arm64' : 'x64'],
    };
    if (parts.includes('musl')) entry.libc = ['musl'];
    if (!entry.dev) delete entry.dev;
    packages[key] = entry;
    added.push(`${name}@${version}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length
    ? `Added to package-lock.json: ${added.join(', ')}`
    : 'package-lock.json already lists every optional dependency.',
);
