/**
 * `npm run dev`: everything a first run needs, then the worker, the dashboard and a demo site.
 *
 * 1. `.dev.vars` with random API_KEY_PEPPER and AUTH_SECRET, if missing (gitignored; wrangler dev reads it);
 * 2. local D1 migrations;
 * 3. the demo seed (idempotent), and 30 days of demo history for the days that have no events yet;
 * 4. `wrangler dev` on 127.0.0.1:$PORT (default 8787), once /api/health answers:
 * 5. the dashboard (`vite dev`, proxying /api to the worker) on $DASHBOARD_PORT (default PORT + 1)
 *    and the demo site, whose pages load the tracker, on $DEMO_PORT (default PORT + 2); then a banner.
 *
 * Ctrl+C stops every child and exits with the worker's code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../worker/src/auth/password.ts';
import { buildHistorySql, historyDays } from './demo-history.ts';
import { startDemoSite } from './demo-site.ts';
import {
  type Captured,
  capture,
  commandLine,
  fail,
  mustStream,
  parseJsonOutput,
  ROOT,
  startChild,
  step,
} from './run.ts';
import { buildSeedSql, DEMO } from './seed.ts';

const HOST = '127.0.0.1';
const PORT = parsePort(process.env.PORT ?? '8787');
const DASHBOARD_PORT = parsePort(process.env.DASHBOARD_PORT ?? String(PORT + 1));
const DEMO_PORT = parsePort(process.env.DEMO_PORT ?? String(PORT + 2));
/** Days of made-up history the demo project gets before today. */
const HISTORY_DAYS = 30;
/** The demo curl sends a browser's User-Agent: ingest drops bots, and `curl/x.y` is one. */
const BROWSER_UA =
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
/** How long to wait for the first answer from /api/health; a cold build plus workerd start takes a few seconds. */
const READY_TIMEOUT_MS = 60_000;

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`PORT must be a TCP port number, got "${text}".`);
  return port;
}

/** The Worker's secrets (wrangler.toml `[secrets] required`), each a random value in local dev. */
const SECRETS = ['API_KEY_PEPPER', 'AUTH_SECRET'];

/**
 * Create `.dev.vars` with fresh random secrets unless it exists. An existing file keeps its values;
 * it only gains a line for each secret it lacks.
 */
function ensureDevVars(): void {
  const file = path.join(ROOT, '.dev.vars');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : null;
  const missing = SECRETS.filter((name) => !existing || !new RegExp(`^\\s*${name}\\s*=`, 'm').test(existing));
  const lines = missing.map((name) => `${name}=${randomBytes(32).toString('hex')}\n`).join('');
  if (existing === null) {
    writeFileSync(file, `# Local secrets for wrangler dev (gitignored). Created by scripts/dev.ts.\n${lines}`, {
      mode: 0o600,
    });
    console.log(`Created .dev.vars with random ${missing.join(', ')}.`);
  } else if (missing.length) {
    appendFileSync(file, `\n${lines}`);
    console.log(`Added random ${missing.join(', ')} to .dev.vars.`);
  } else {
    console.log('.dev.vars exists; keeping it.');
  }
}

/** Run a SQL file against the local database; on failure show wrangler's output and stop. */
async function executeSql(sql: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tally-seed-'));
  const file = path.join(dir, 'seed.sql');
  const args = ['d1', 'execute', 'DB', '--local', '--file', file];
  let result: Captured;
  try {
    writeFileSync(file, sql);
    result = await capture('wrangler', args);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // wrangler prints one JSON result per statement; only a failure is worth reading.
  if (result.code !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    fail(`\`${commandLine('wrangler', args)}\` exited with code ${result.code}.`, result.code);
  }
}

async function seedDemo(): Promise<void> {
  await executeSql(
    buildSeedSql({ passwordHash: await hashPassword(DEMO.password), userId: randomUUID(), now: Date.now() }),
  );
  console.log(`Demo user, project, hostnames (${DEMO.hostnames.join(', ')}) and membership are in place.`);
}

/**
 * Thirty days of demo traffic, for the days before today that hold no demo events yet (so a re-run
 * adds only the days that passed since, and never mixes made-up rows into a day with real ones).
 */
async function seedHistory(): Promise<void> {
  const args = ['d1', 'execute', 'DB', '--local', '--json', '--command'];
  // The demo project's timezone is UTC (seed.ts), so a local day is ts / 86,400,000.
  const query = `SELECT DISTINCT ts / 86400000 AS day FROM events WHERE project_id = '${DEMO.projectId}'`;
  const result = await capture('wrangler', [...args, query]);
  if (result.code !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    fail(`\`${commandLine('wrangler', [...args, query])}\` exited with code ${result.code}.`, result.code);
  }
  const answer = parseJsonOutput(result.stdout) as { results?: { day: number }[] }[];
  const present = new Set((answer[0]?.results ?? []).map((row) => row.day));
  const days = historyDays(Date.now(), HISTORY_DAYS).filter((day) => !present.has(Date.parse(day) / 86_400_000));
  if (days.length === 0) {
    console.log('Demo history is in place.');
    return;
  }
  await executeSql(buildHistorySql(DEMO.projectId, DEMO.hostnames[0], days));
  console.log(`Added demo traffic for ${days.length} day(s): ${days[0]} to ${days.at(-1)}.`);
}

/** Poll until a page answers (any HTTP status); false on timeout. */
async function waitForPage(url: string, timeoutMs: number, isAlive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(5_000) });
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return false;
}

/** Poll until the health endpoint answers with JSON; false on timeout. */
async function waitForHealth(url: string, timeoutMs: number, isAlive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      // Any JSON answer means the worker is up, even a 503 "degraded" one.
      await response.json();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return false;
}

function printBanner(origin: string, dashboard: string, demoSite: string): void {
  const event = JSON.stringify({
    s: DEMO.siteKey,
    n: 'pageview',
    u: 'http://localhost/',
    r: 'https://www.google.com/',
  });
  const query = 'SELECT ts, name, path, source, country, browser FROM events ORDER BY ts DESC LIMIT 5';
  const line = '─'.repeat(78);
  console.log(
    [
      '',
      line,
      '  Tally is running',
      '',
      `  Dashboard   ${dashboard}`,
      `  Demo login  ${DEMO.email} / ${DEMO.password}`,
      `  Demo site   ${demoSite}   (its pages load the tracker: browse them and watch Realtime)`,
      '',
      `  API         ${origin}/api`,
      `  Health      ${origin}/api/health`,
      `  Project     "${DEMO.projectId}", site key "${DEMO.siteKey}"`,
      '',
      '  Send an event:',
      // curl's own User-Agent is dropped as a bot, so the example poses as a browser.
      `    curl -i -X POST ${origin}/api/event -H 'Content-Type: application/json' \\`,
      `      -H '${BROWSER_UA}' \\`,
      `      -d '${event}'`,
      '',
      '  See the stored rows (the queue consumer writes them about a second later):',
      `    npx wrangler d1 execute DB --local --command "${query}"`,
      '',
      '  Press Ctrl+C to stop.',
      line,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  step('Local secrets');
  ensureDevVars();

  step('Applying D1 migrations to the local database');
  await mustStream('wrangler', ['d1', 'migrations', 'apply', 'DB', '--local']);

  step(`Seeding the demo (${DEMO.email}, project "${DEMO.projectId}")`);
  await seedDemo();
  await seedHistory();

  step(`Starting wrangler dev on http://${HOST}:${PORT}`);
  const origin = `http://${HOST}:${PORT}`;
  // The interactive hotkey bar is off so Ctrl+C is a plain SIGINT and the banner is not redrawn over.
  const child = startChild('wrangler', [
    'dev',
    '--ip',
    HOST,
    '--port',
    String(PORT),
    '--show-interactive-dev-session=false',
  ]);
  let exited = false;
  let exitCode: number | undefined;
  child.on('close', (code, signal) => {
    exited = true;
    process.exit(exitCode ?? code ?? (signal === 'SIGINT' ? 130 : 1));
  });

  const ready = await waitForHealth(`${origin}/api/health`, READY_TIMEOUT_MS, () => !exited);
  if (exited) return;
  if (!ready) {
    console.error(
      `\n✖ The worker did not answer ${origin}/api/health within ${READY_TIMEOUT_MS / 1000} s.\n` +
        '  Look at the wrangler output above for a build error (or a port already in use: set PORT=...).',
    );
    exitCode = 1;
    child.kill('SIGTERM');
    // If wrangler ignores SIGTERM, do not hang: the exit handler kills it again on the way out.
    setTimeout(() => process.exit(1), 10_000).unref();
    return;
  }

  step(`Starting the dashboard on http://${HOST}:${DASHBOARD_PORT} and the demo site on http://${HOST}:${DEMO_PORT}`);
  const dashboard = `http://${HOST}:${DASHBOARD_PORT}`;
  const demoSite = `http://${HOST}:${DEMO_PORT}`;
  // SvelteKit's generated tsconfig must exist before Vite compiles anything (a fresh clone has none).
  await mustStream('svelte-kit', ['sync'], { cwd: path.join(ROOT, 'dashboard') });
  // vite itself, not `npm run`: a signal then reaches the server rather than an npm wrapper.
  const vite = startChild('vite', ['dev', '--host', HOST, '--port', String(DASHBOARD_PORT), '--strictPort'], {
    cwd: path.join(ROOT, 'dashboard'),
    env: { TALLY_API: origin },
  });
  // Ctrl+C stops every child: their exits are then expected, not news.
  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
  });
  // The dashboard is half of what `npm start` promises: without it, stop everything.
  vite.on('close', (code) => {
    if (exited || stopping) return;
    console.error(`\n✖ The dashboard (vite dev) exited with code ${code}; stopping.`);
    exitCode = 1;
    child.kill('SIGTERM');
  });
  await startDemoSite({ host: HOST, port: DEMO_PORT, trackerOrigin: origin, siteKey: DEMO.siteKey }).catch(
    (error: Error) => {
      console.error(`\n✖ The demo site could not listen on port ${DEMO_PORT}: ${error.message} (set DEMO_PORT=...).`);
    },
  );
  if (!(await waitForPage(dashboard, READY_TIMEOUT_MS, () => !exited && vite.exitCode === null))) return;
  printBanner(origin, dashboard, demoSite);
}

await main();
