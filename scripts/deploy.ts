/**
 * `npm run deploy`: provision what wrangler.toml refers to, then deploy. Safe to re-run: every
 * step looks before it creates, and nothing that exists is replaced.
 *
 * 1. login check (`wrangler whoami`);
 * 2. the D1 pool: `tally` (binding DB) and every other `[[d1_databases]]` block (`tally-1` as DB_1,
 *    …), each created if missing, its id replacing its placeholder in wrangler.toml;
 * 3. the queues `tally-events` and `tally-events-dlq`, and the R2 bucket `tally-archive` (old raw
 *    days, `[[r2_buckets]]`), created if missing;
 * 4. the secrets API_KEY_PEPPER and AUTH_SECRET, generated if the Worker does not have them yet;
 * 5. remote D1 migrations, applied to every database of the pool;
 * 6. `wrangler deploy`;
 * 7. the dashboard: `vite build`, the Pages project `tally-dashboard` created if missing, then
 *    `wrangler pages deploy` (dashboard/wrangler.toml binds it to the Worker as `API`).
 *
 * Never seeds: the demo user exists only in local development.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capture, commandLine, fail, mustStream, parseJsonOutput, ROOT, step, stream } from './run.ts';
import { type PoolDatabase, poolDatabases } from './d1-pool.ts';

const CONFIG_FILE = path.join(ROOT, 'wrangler.toml');
const DASHBOARD_DIR = path.join(ROOT, 'dashboard');
/** The Pages project of the dashboard: `name` in dashboard/wrangler.toml. */
const PAGES_PROJECT = 'tally-dashboard';
const DATABASE_NAME = 'tally';
const QUEUES = ['tally-events', 'tally-events-dlq'] as const;
/** The archive bucket: `bucket_name` of `[[r2_buckets]]` in wrangler.toml. */
const ARCHIVE_BUCKET = 'tally-archive';
/** Secrets the Worker needs (wrangler.toml `[secrets] required`); each is drawn at random once. */
const SECRETS = ['API_KEY_PEPPER', 'AUTH_SECRET'];

/** Run a wrangler command quietly; on failure show its output and stop. */
async function wrangler(args: readonly string[]): Promise<string> {
  const result = await capture('wrangler', args);
  if (result.code !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    fail(`\`${commandLine('wrangler', args)}\` exited with code ${result.code}.`, result.code);
  }
  return result.stdout;
}

async function checkLogin(): Promise<void> {
  step('Checking the Cloudflare login');
  const result = await capture('wrangler', ['whoami', '--json']);
  if (result.code !== 0) {
    fail(
      [
        'You are not logged in to Cloudflare.',
        '  Log in with:   npx wrangler login',
        '  or, without a browser (CI), export CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID.',
        'Then run npm run deploy again.',
      ].join('\n'),
    );
  }
  const user = parseJsonOutput(result.stdout) as { email?: string; accounts?: { id: string; name: string }[] };
  const accounts = user.accounts ?? [];
  console.log(`Logged in${user.email ? ` as ${user.email}` : ''}.`);
  // NOTE: wrangler cannot ask which account to use when it is not attached to a terminal.
  const pinned =
    Boolean(process.env.CLOUDFLARE_ACCOUNT_ID) || /^\s*account_id\s*=/m.test(readFileSync(CONFIG_FILE, 'utf8'));
  if (accounts.length > 1 && !pinned) {
    fail(
      [
        'This login has several Cloudflare accounts; choose one with CLOUDFLARE_ACCOUNT_ID:',
        ...accounts.map((account) => `  CLOUDFLARE_ACCOUNT_ID=${account.id} npm run deploy    # ${account.name}`),
      ].join('\n'),
    );
  }
}

/** Placeholder ids (`…000` for `DB`, `…001` for `DB_1`, …): no database behind them yet. */
const isPlaceholder = (id: string) => /^0{8}-0{4}-0{4}-0{4}-\d{12}$/.test(id);

async function findDatabaseId(name: string): Promise<string | undefined> {
  const list = parseJsonOutput(await wrangler(['d1', 'list', '--json'])) as { name: string; uuid: string }[];
  return list.find((db) => db.name === name)?.uuid;
}

/** Replace one database's placeholder id in wrangler.toml with the real one; no other line changes. */
function writeDatabaseId(database: PoolDatabase, id: string): void {
  if (database.id === id) {
    console.log(`wrangler.toml already points ${database.binding} at ${id}.`);
    return;
  }
  if (!isPlaceholder(database.id)) {
    fail(
      `wrangler.toml has database_id "${database.id}" for ${database.binding}, but the database "${database.name}" in this account is ${id}.\n` +
        '  Fix the id by hand (or restore the placeholder) and run npm run deploy again.',
    );
  }
  const config = readFileSync(CONFIG_FILE, 'utf8');
  const escaped = database.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  writeFileSync(CONFIG_FILE, config.replace(new RegExp(`^(\\s*database_id\\s*=\\s*)"${escaped}"`, 'm'), `$1"${id}"`));
  console.log(`Wrote ${database.binding}'s database_id = "${id}" into wrangler.toml (commit this change).`);
}

/** Every database of the pool (worker/src/store/pool.ts), created if missing, its id written in. */
async function ensureDatabases(): Promise<PoolDatabase[]> {
  const pool = poolDatabases();
  if (!pool.some((database) => database.binding === 'DB' && database.name === DATABASE_NAME))
    fail(`wrangler.toml must bind the database "${DATABASE_NAME}" as DB.`);
  for (const database of pool) {
    step(`D1 database "${database.name}" (${database.binding})`);
    let id = await findDatabaseId(database.name);
    if (id) {
      console.log(`Found ${database.name} (${id}).`);
    } else {
      console.log('Not found; creating it.');
      await mustStream('wrangler', ['d1', 'create', database.name]);
      id = await findDatabaseId(database.name);
      if (!id)
        fail(`Created ${database.name}, but \`wrangler d1 list\` does not show it yet; run npm run deploy again.`);
    }
    writeDatabaseId(database, id);
  }
  return pool;
}

/** True when a queue name appears as a whole cell of `wrangler queues list` (so `x` does not match `x-dlq`). */
function listsQueue(table: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s│|])${escaped}($|[\\s│|])`, 'm').test(table);
}

async function ensureQueues(): Promise<void> {
  step(`Queues ${QUEUES.join(', ')}`);
  const table = await wrangler(['queues', 'list']);
  for (const queue of QUEUES) {
    // The list shows one page; `queues info` settles it for accounts with more queues than that.
    if (listsQueue(table, queue) || (await capture('wrangler', ['queues', 'info', queue])).code === 0) {
      console.log(`Found ${queue}.`);
      continue;
    }
    console.log(`Creating ${queue}.`);
    await mustStream('wrangler', ['queues', 'create', queue]);
  }
}

async function ensureArchiveBucket(): Promise<void> {
  step(`R2 bucket ${ARCHIVE_BUCKET}`);
  if ((await capture('wrangler', ['r2', 'bucket', 'info', ARCHIVE_BUCKET])).code === 0) {
    console.log(`Found ${ARCHIVE_BUCKET}.`);
    return;
  }
  console.log(`Creating ${ARCHIVE_BUCKET}.`);
  await mustStream('wrangler', ['r2', 'bucket', 'create', ARCHIVE_BUCKET]);
}

/**
 * The secrets the Worker does not have yet. A new Worker (not deployed yet) has none. Any other
 * failure stops the deploy: guessing "missing" would replace a live secret — a new pepper
 * invalidates every API key, a new auth secret signs everyone out.
 */
async function missingSecrets(): Promise<string[]> {
  step(`Secrets ${SECRETS.join(', ')}`);
  const result = await capture('wrangler', ['secret', 'list', '--format', 'json']);
  if (result.code !== 0) {
    if (/Worker ".*" (?:\(env: .*\) )?not found/i.test(result.stdout + result.stderr)) {
      console.log('The Worker is not deployed yet; its secrets will be set with the first deploy.');
      return SECRETS;
    }
    process.stderr.write(result.stdout + result.stderr);
    fail(`Could not list the Worker's secrets (exit code ${result.code}).`);
  }
  const present = new Set((parseJsonOutput(result.stdout) as { name: string }[]).map((secret) => secret.name));
  const missing = SECRETS.filter((name) => !present.has(name));
  console.log(
    missing.length ? `Missing, will be set with this deploy: ${missing.join(', ')}.` : 'All set; keeping them.',
  );
  return missing;
}

async function main(): Promise<void> {
  await checkLogin();
  const pool = await ensureDatabases();
  await ensureQueues();
  await ensureArchiveBucket();
  const missing = await missingSecrets();

  step('Applying D1 migrations to the remote database');
  // The same migrations in every database of the pool: any of them can take any project.
  for (const { binding } of pool)
    await mustStream('wrangler', ['d1', 'migrations', 'apply', binding, '--remote'], { stdin: 'inherit' });

  step('Deploying the Worker');
  // New secrets travel with the deploy (`--secrets-file`, additive: other secrets stay) instead of a
  // separate `wrangler secret put`, which would first publish the old code (or an empty placeholder
  // Worker) with them. This way no version of the Worker ever runs without them.
  const args = ['deploy'];
  const dir = mkdtempSync(path.join(tmpdir(), 'tally-deploy-'));
  let code: number;
  try {
    if (missing.length) {
      const secretsFile = path.join(dir, 'secrets.json');
      const values = Object.fromEntries(missing.map((name) => [name, randomBytes(32).toString('hex')]));
      writeFileSync(secretsFile, JSON.stringify(values), { mode: 0o600 });
      args.push('--secrets-file', secretsFile);
    }
    code = await stream('wrangler', args, { stdin: 'inherit' });
  } finally {
    // Secrets must not stay on disk: they live only in the Worker's secrets.
    rmSync(dir, { recursive: true, force: true });
  }
  if (code !== 0) fail(`\`${commandLine('wrangler', args)}\` exited with code ${code}.`, code);

  await deployDashboard();
  console.log("\n✔ Deployed the API and the dashboard. `npx wrangler tail` streams the API's live logs.");
}

/**
 * Build the dashboard and deploy it to Cloudflare Pages, after the Worker: its service binding
 * names the Worker, which must exist first.
 */
async function deployDashboard(): Promise<void> {
  step('Building the dashboard');
  // The workspace's own build script: it runs `svelte-kit sync` first, which a fresh clone needs.
  await mustStream('npm', ['run', 'build', '--workspace', 'dashboard']);

  step(`Pages project "${PAGES_PROJECT}"`);
  const list = parseJsonOutput(await wrangler(['pages', 'project', 'list', '--json'])) as { 'Project Name': string }[];
  if (list.some((project) => project['Project Name'] === PAGES_PROJECT)) {
    console.log(`Found ${PAGES_PROJECT}.`);
  } else {
    console.log(`Creating ${PAGES_PROJECT}.`);
    await mustStream('wrangler', ['pages', 'project', 'create', PAGES_PROJECT, '--production-branch', 'main']);
  }

  step('Deploying the dashboard to Pages');
  // Run from dashboard/ so wrangler reads its wrangler.toml (build output dir and the API binding).
  await mustStream('wrangler', ['pages', 'deploy', '--project-name', PAGES_PROJECT, '--branch', 'main'], {
    cwd: DASHBOARD_DIR,
    stdin: 'inherit',
  });
}

await main();
