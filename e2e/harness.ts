/**
 * The end-to-end harness: the worker as `wrangler dev` runs it, with its own fresh state, and
 * Debian's Chromium driven by playwright-core. Shared by every browser test.
 *
 * Each `startWorker()` gets a new temporary `--persist-to` directory (never the repository's
 * `.wrangler/state`), applies the D1 migrations, seeds the demo data (`scripts/seed.ts`: user
 * demo@tally.local, project and site key `demo`, hostnames localhost and 127.0.0.1), and passes
 * random secrets through an env file, so it needs no `.dev.vars`.
 *
 * @example
 * ```ts
 * const worker = await startWorker();
 * const browser = await launchBrowser();
 * // … drive pages at worker.url …
 * const rows = await worker.d1("SELECT name, path FROM events WHERE project_id = 'demo'");
 * await browser.close();
 * await worker.stop();
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { buildSeedSql, DEMO } from '../scripts/seed.ts';
import { hashPassword } from '../worker/src/auth/password.ts';
import { poolDatabases } from '../scripts/d1-pool.ts';

export { DEMO } from '../scripts/seed.ts';

/** The repository root: wrangler runs from here, with the repository's wrangler.toml. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A user agent of an ordinary desktop Chrome: ingest drops headless ones (and `HeadlessChrome` is one) as bots. */
export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** How long a cold `wrangler dev` (bundling, workerd start) may take on a busy machine. */
const READY_TIMEOUT_MS = 120_000;
/** How long `stop()` waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** A running worker. */
export interface RunningWorker {
  /** Its origin, e.g. `http://127.0.0.1:8801`. */
  url: string;
  /** Kill wrangler and workerd (the whole process group) and delete the state directory. */
  stop(): Promise<void>;
  /** Run one SQL statement against the worker's local D1 and return its rows. */
  d1(sql: string): Promise<Record<string, unknown>[]>;
}

/** What `startWorker` may be told. */
export interface WorkerOptions {
  /** TCP port; a free one when absent. */
  port?: number;
  /** Extra `[vars]`, e.g. `{ ALLOWED_ORIGINS: 'http://127.0.0.1:8802' }`. */
  vars?: Record<string, string>;
  /**
   * A directory for wrangler's dev registry (`WRANGLER_REGISTRY_PATH`): a `wrangler pages dev`
   * given the same one reaches this worker through its `[[services]]` binding to `tally`, and no
   * other local `tally` (a developer's `npm start`) can answer in its place.
   */
  registry?: string;
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Fail early when a port is taken: wrangler would fail to bind, and the health check could
 * meanwhile be answered by whatever holds the port.
 */
function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', () => reject(new Error(`port ${port} on 127.0.0.1 is in use`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** The environment wrangler gets: the repository's Node 24 first on PATH, and no network lookups. */
export function wranglerEnv(registry?: string): NodeJS.ProcessEnv {
  const bin = path.join(ROOT, 'node_modules', '.bin');
  return {
    ...process.env,
    ...(registry === undefined ? {} : { WRANGLER_REGISTRY_PATH: registry }),
    PATH: [bin, process.env.PATH ?? ''].join(path.delimiter),
    // request.cf comes from a file wrangler would otherwise download; the fallback values do here.
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_SEND_METRICS: 'false',
    CI: 'true',
  };
}

/** Run wrangler to completion; rejects with its output when it fails. */
function wrangler(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrangler', args, { cwd: ROOT, env: wranglerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`wrangler ${args.join(' ')} exited with ${code}:\n${stdout}${stderr}`));
    });
  });
}

/** The rows of the first statement in `wrangler d1 execute --json` output. */
function rowsOf(output: string): Record<string, unknown>[] {
  const start = output.indexOf('[');
  const parsed = JSON.parse(output.slice(start)) as { results?: Record<string, unknown>[] }[];
  return parsed[0]?.results ?? [];
}

/** Poll `/api/health` until the worker answers with JSON, the process dies, or time runs out. */
async function waitForHealth(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before answering:\n${logs()}`);
    }
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2_000) });
      await response.json();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  throw new Error(`wrangler dev did not answer ${url}/api/health within ${READY_TIMEOUT_MS / 1000} s:\n${logs()}`);
}

/** Signal a detached child's whole process group (wrangler and its workerd). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** The flags of a local `wrangler dev` or `wrangler pages dev`: where it listens and keeps its state, no prompts. */
export function serveFlags(port: number, inspectorPort: number, state: string): string[] {
  return [
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    state,
    '--show-interactive-dev-session=false',
  ];
}

/** A long-running child in its own process group, as `spawnGroup` starts it. */
export interface GroupProcess {
  child: ChildProcess;
  /** The last 20,000 characters it wrote (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM to the whole group, SIGKILL after a grace period; resolves once it has closed. */
  stop(): Promise<void>;
}

/**
 * Start a command in its own process group, so that `stop()` reaches its children too (workerd
 * under wrangler), and so that it is killed when the test process exits, however it ends.
 *
 * @example
 * ```ts
 * const server = spawnGroup('wrangler', ['pages', 'dev'], { cwd, env: wranglerEnv() });
 * await server.stop();
 * ```
 */
export function spawnGroup(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): GroupProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // Never leave a server holding its port when the test process ends abruptly.
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.on('exit', killOnExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
    await closed;
    clearTimeout(timer);
    // Children may outlive their parent for a moment; the group is gone after this.
    killGroup(child, 'SIGKILL');
    process.off('exit', killOnExit);
  };
  return { child, output: () => output, stop };
}

/**
 * Start the worker with fresh persisted state, migrations applied and the demo seeded.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ port: 8801 });
 * await fetch(`${worker.url}/api/health`);
 * ```
 */
export async function startWorker(options: WorkerOptions = {}): Promise<RunningWorker> {
  const port = options.port ?? (await freePort());
  await assertPortFree(port);
  const inspectorPort = await freePort();
  const state = mkdtempSync(path.join(tmpdir(), 'tally-e2e-'));
  const persist = ['--local', '--persist-to', state];
  try {
    // Every database of the pool, so that the cron's work over each finds its tables.
    for (const { binding } of poolDatabases()) await wrangler(['d1', 'migrations', 'apply', binding, ...persist]);
    const seed = path.join(state, 'seed.sql');
    writeFileSync(
      seed,
      buildSeedSql({ passwordHash: await hashPassword(DEMO.password), userId: randomUUID(), now: Date.now() }),
    );
    await wrangler(['d1', 'execute', 'DB', ...persist, '--file', seed]);
  } catch (error) {
    rmSync(state, { recursive: true, force: true });
    throw error;
  }

  // An env file replaces .dev.vars (wrangler reads only one of them), so the repository's is never used.
  const envFile = path.join(state, 'secrets.env');
  writeFileSync(
    envFile,
    ['API_KEY_PEPPER', 'AUTH_SECRET'].map((name) => `${name}=${randomBytes(32).toString('hex')}\n`).join(''),
    { mode: 0o600 },
  );
  // Projects the tests create are placed on `DB`, where `worker.d1()` reads (placement over the pool
  // is worker/test/d1-pool.test.ts's business).
  const vars = Object.entries({ NEW_PROJECT_DATABASES: 'DB', ...options.vars }).flatMap(([name, value]) => [
    '--var',
    `${name}:${value}`,
  ]);
  const server = spawnGroup(
    'wrangler',
    ['dev', ...serveFlags(port, inspectorPort, state), '--env-file', envFile, ...vars],
    { cwd: ROOT, env: wranglerEnv(options.registry) },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await server.stop();
    rmSync(state, { recursive: true, force: true });
  };

  try {
    await waitForHealth(url, server.child, server.output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    stop,
    d1: async (sql) => rowsOf(await wrangler(['d1', 'execute', 'DB', ...persist, '--json', '--command', sql])),
  };
}

/**
 * Debian's Chromium, headless, as CI installs it. Its user agent is an ordinary Chrome's
 * (`CHROME_UA`) for the whole browser: a per-context override does not reach beacons sent while
 * a page unloads, and ingest drops `HeadlessChrome` as a bot.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      `--user-agent=${CHROME_UA}`,
    ],
  });
}

/**
 * Poll until `check` returns a value without throwing; the last error when time runs out.
 *
 * @example
 * ```ts
 * const rows = await eventually(async () => { const r = await worker.d1(sql); expect(r).toHaveLength(2); return r; });
 * ```
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
