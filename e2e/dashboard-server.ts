/**
 * The dashboard for browser tests: `vite dev` in dashboard/, proxying /api, the tracker and the
 * live widget to a worker started by `startWorker()` — the same wiring `npm start` uses — or the
 * production build under `wrangler pages dev`, reaching the worker through its service binding.
 *
 * @example
 * ```ts
 * const dashboard = await startDashboard(worker.url, 8827);
 * await page.goto(`${dashboard.url}/signin`);
 * await dashboard.stop();
 * ```
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, type GroupProcess, ROOT, serveFlags, spawnGroup, wranglerEnv } from './harness.ts';

/** A cold Vite (or wrangler) start plus the first compile of every route, on a busy machine. */
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
  const server = spawnGroup(
    path.join(ROOT, 'node_modules', '.bin', 'vite'),
    ['dev', '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    {
      cwd: path.join(ROOT, 'dashboard'),
      env: {
        ...process.env,
        TALLY_API: apiUrl,
        PATH: `${path.join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
      },
    },
  );
  return { url: await waitForSignin(server, port, 'vite dev'), stop: server.stop };
}

/**
 * Build the dashboard (adapter-cloudflare) and serve `dashboard/.svelte-kit/cloudflare` as
 * Cloudflare Pages would: `wrangler pages dev` with dashboard/wrangler.toml, whose `[[services]]`
 * binding `API` reaches the worker named `tally` in the dev registry `registry` (start the worker
 * with the same `registry`). The hook forwards /api, the tracker and the live widget through it;
 * `_headers` applies to the files Pages serves itself.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ registry });
 * const dashboard = await startPagesDashboard(registry, await freePort());
 * ```
 */
export async function startPagesDashboard(registry: string, port: number): Promise<RunningDashboard> {
  const dashboardDir = path.join(ROOT, 'dashboard');
  // Its output is in the error when it fails; a successful build says nothing here.
  execFileSync('npm', ['run', 'build'], { cwd: dashboardDir, env: wranglerEnv(), stdio: 'pipe' });
  const state = mkdtempSync(path.join(tmpdir(), 'tally-e2e-pages-'));
  const server = spawnGroup('wrangler', ['pages', 'dev', ...serveFlags(port, await freePort(), state)], {
    cwd: dashboardDir,
    env: wranglerEnv(registry),
  });
  const stop = async () => {
    await server.stop();
    rmSync(state, { recursive: true, force: true });
  };
  try {
    return { url: await waitForSignin(server, port, 'wrangler pages dev'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Poll the sign-in page until it answers 200; the dashboard's origin. Stops the server on failure. */
async function waitForSignin(server: GroupProcess, port: number, name: string): Promise<string> {
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const { exitCode } = server.child;
    if (exitCode !== null) throw new Error(`${name} exited (${exitCode}):\n${server.output()}`);
    try {
      // The sign-in page compiles the app shell (in vite dev; later routes compile on their first visit).
      const response = await fetch(`${url}/signin`, { signal: AbortSignal.timeout(10_000) });
      if (response.ok) return url;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${name} did not answer ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${server.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
