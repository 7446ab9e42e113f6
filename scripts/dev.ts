/**
 * `npm run dev`: everything a first run needs, then the worker.
 *
 * 1. `.dev.vars` with random API_KEY_PEPPER and AUTH_SECRET, if missing (gitignored; wrangler dev reads it);
 * 2. local D1 migrations;
 * 3. the demo seed (idempotent);
 * 4. `wrangler dev` on 127.0.0.1:$PORT (default 8787), then a banner once /api/health answers.
 *
 * Ctrl+C stops wrangler and exits with its code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../worker/src/auth/password.ts';
import { type Captured, capture, commandLine, fail, mustStream, ROOT, startChild, step } from './run.ts';
import { buildSeedSql, DEMO } from './seed.ts';

const HOST = '127.0.0.1';
const PORT = parsePort(process.env.PORT ?? '8787');
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

async function seedDemo(): Promise<void> {
  const sql = buildSeedSql({
    passwordHash: await hashPassword(DEMO.password),
    userId: randomUUID(),
    now: Date.now(),
  });
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
  console.log(`Demo user, project, hostnames (${DEMO.hostnames.join(', ')}) and membership are in place.`);
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

function printBanner(origin: string): void {
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
      `  API         ${origin}/api`,
      `  Health      ${origin}/api/health`,
      `  Demo login  ${DEMO.email} / ${DEMO.password}   (project "${DEMO.projectId}", site key "${DEMO.siteKey}")`,
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
  printBanner(origin);
}

await main();
