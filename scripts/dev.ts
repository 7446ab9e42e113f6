/**
 * `npm run dev`: everything a first run needs, then the worker, the dashboard and a demo site.
 *
 * 1. `.dev.vars` with random API_KEY_PEPPER and AUTH_SECRET, if missing (gitignored; wrangler dev reads it);
 * 2. local D1 migrations;
 * 3. the demo seed (idempotent), and the demo history: 60 days and today up to now, for what each
 *    day still lacks (demo-history.ts);
 * 4. `wrangler dev` on 127.0.0.1:$PORT (default 8787), once /api/health answers: the demo goals and
 *    funnel (through the API, if missing) and live demo traffic through POST /api/event;
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
import { poolDatabases } from './d1-pool.ts';
import { ensureDemoGoals, signIn } from './demo-goals.ts';
import { buildHistorySql, demoDays, demoFills } from './demo-history.ts';
import { startDemoSite } from './demo-site.ts';
import { type DemoTraffic, startDemoTraffic } from './demo-traffic.ts';
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
 * The demo history: for each of the last 60 days and today, the made-up visits that start after
 * the day's last stored event and before now (demo-history.ts). A first run writes them all; a
 * later one adds the hours since it stopped, and nothing to a day that has its traffic.
 */
async function seedHistory(): Promise<void> {
  const now = Date.now();
  const args = ['d1', 'execute', 'DB', '--local', '--json', '--command'];
  const from = Date.parse(`${demoDays(now)[0]}T00:00:00Z`);
  // The demo project's timezone is UTC (seed.ts), so a local day is ts / 86,400,000.
  const query = `SELECT ts / 86400000 AS day, MAX(ts) AS last FROM events WHERE project_id = '${DEMO.projectId}' AND ts >= ${from} GROUP BY day`;
  const result = await capture('wrangler', [...args, query]);
  if (result.code !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    fail(`\`${commandLine('wrangler', [...args, query])}\` exited with code ${result.code}.`, result.code);
  }
  const answer = parseJsonOutput(result.stdout) as { results?: { day: number; last: number }[] }[];
  const lastEvents = new Map(
    (answer[0]?.results ?? []).map((row) => [new Date(row.day * 86_400_000).toISOString().slice(0, 10), row.last]),
  );
  const history = buildHistorySql(DEMO.projectId, DEMO.hostnames[0], demoFills(now, lastEvents));
  if (history.events === 0) {
    console.log('Demo history is in place.');
    return;
  }
  await executeSql(history.sql);
  const span = history.days.length > 1 ? `${history.days[0]} to ${history.days.at(-1)}` : history.days[0];
  console.log(
    `Added ${history.events} demo events (${span}), up to ${new Date(now).toISOString().slice(11, 16)} UTC today.`,
  );
}

/** The demo goals and funnel, through the API; a failure is reported, and the demo runs on without them. */
async function ensureGoals(origin: string): Promise<void> {
  try {
    const api = await signIn(fetch, origin, DEMO);
    const created = await ensureDemoGoals(api, DEMO.projectId);
    console.log(
      created.length
        ? `Created the demo goals and funnel: ${created.join(', ')}.`
        : 'Demo goals and funnel are in place.',
    );
  } catch (error) {
    console.warn(`Could not create the demo goals and funnel: ${(error as Error).message}`);
  }
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
      '  Live demo   made-up visitors arrive every few seconds through POST /api/event until Ctrl+C',
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

  // Every database of the pool: a project created here may be placed on any of them.
  for (const { binding } of poolDatabases()) {
    step(`Applying D1 migrations to the local database ${binding}`);
    await mustStream('wrangler', ['d1', 'migrations', 'apply', binding, '--local']);
  }

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

  // Ctrl+C (or a TERM/HUP) stops every child: their exits are then expected, not news; and the
  // live traffic stops first, so it does not knock on a worker that is going away.
  let stopping = false;
  let traffic: DemoTraffic | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopping = true;
      traffic?.stop();
    });
  }

  step('Demo goals and live traffic');
  await ensureGoals(origin);
  traffic = startDemoTraffic({ origin, siteKey: DEMO.siteKey, hostname: DEMO.hostnames[0] });

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
  // The dashboard is half of what `npm start` promises: without it, stop everything.
  vite.on('close', (code, signal) => {
    // Ctrl+C signals the terminal's whole process group: vite may die of it before our own handler
    // has run, so a death by signal waits a moment to learn whether we are stopping too.
    setTimeout(
      () => {
        if (exited || stopping) return;
        traffic?.stop();
        if (signal) console.log(`\nThe dashboard (vite dev) was stopped by ${signal}; stopping.`);
        else console.error(`\n✖ The dashboard (vite dev) exited with code ${code}; stopping.`);
        if (!signal) exitCode = 1;
        child.kill('SIGTERM');
      },
      signal ? 250 : 0,
    );
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
