// `npm start`: install on first run, then `npm run dev` (which runs on the repo's Node 24).
// Runs on the system Node (20+): plain JavaScript, no dependencies.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureInstall } from './ensure-install.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

if (!ensureInstall()) process.exit(1);

const child = spawn('npm', ['run', 'dev'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });

// Listening for these also keeps Node alive until the child has exited, so its exit code is ours.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}

child.on('error', (error) => {
  console.error(`Could not run npm run dev: ${error.message}`);
  process.exit(1);
});
child.on('close', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 1));
});
