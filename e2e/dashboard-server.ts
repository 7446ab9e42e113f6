/**
 * The dashboard for browser tests: `vite dev` in dashboard/, proxying /api, the tracker and the
 * live widget to a worker started by `startWorker()` — the same wiring `npm start` uses.
 *
 * @example
 * ```ts
 * const dashboard = await startDashboard(worker.url, 8827);
 * await page.goto(`${dashboard.url}/signin`);
 * await dashboard.stop();
 * ```
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './harness.ts';

/** A cold Vite start plus the first compile of every route, on a busy machine. */
const READY_TIMEOUT_MS = 120_000;

export interface RunningDashboard {
  url: string;
  stop(): Promise<void>;
}

export async function startDashboard(apiUrl: string, port: number): Promise<RunningDashboard> {
  // SvelteKit's generated tsconfig must exist before Vite compiles anything (a fresh clone has none).
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'svelte-kit'), ['sync'], {
    cwd: path.join(ROOT, 'dashboard'),
    stdio: 'ignore',
  });
  const child = spawn(
    path.join(ROOT, 'node_modules', '.bin', 'vite'),
    ['dev', '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    {
      cwd: path.join(ROOT, 'dashboard'),
      env: {
        ...process.env,
        TALLY_API: apiUrl,
        PATH: `${path.join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that stop() reaches every child of Vite too.
      detached: true,
    },
  );
  let output = '';
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-10_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const kill = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const killOnExit = () => kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = async () => {
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 5_000);
    await closed;
    clearTimeout(timer);
    process.off('exit', killOnExit);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite dev exited (${child.exitCode}):\n${output}`);
    try {
      // The sign-in page compiles the app shell; later routes compile on their first visit.
      const response = await fetch(`${url}/signin`, { signal: AbortSignal.timeout(10_000) });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`vite dev did not answer ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { url, stop };
}
