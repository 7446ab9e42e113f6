/**
 * The stack under test: the Worker exactly as `wrangler deploy` would upload it, served by workerd
 * through Miniflare's API (not `wrangler dev`, whose proxy caps local throughput) with the bindings
 * of wrangler.toml, and beside it, in the same workerd, the reference and helper Workers:
 *
 * - `tally`  — the bundle, with its D1, queue producer and consumers, ProjectDO and vars/secrets;
 * - `hello`  — a hello-world Worker behind an identical socket (the reference for ingest);
 * - `meter`  — the same bundle with its D1 watched, to count D1's `rows_read` per API request, and
 *   to run tally's scheduled handler (the cron) with every D1 call timed;
 * - `driver` — hands prepared batches to tally's queue handler and times it (the drain figure),
 *   on a socket of its own.
 *
 * tally and hello listen on direct sockets (`unsafeDirectSockets`): workerd's own HTTP server with
 * nothing in front, where `MF-CF-Blob` sets `request.cf` and `CF-Connecting-IP` passes through as
 * Cloudflare's edge would set them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertV4MiniflareOptions, Miniflare, type V4Namespace, type V4QueueConsumerOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler';
import { onCleanup, trackChild } from './cleanup.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKERS = path.join(ROOT, 'bench', 'workers');
const BIN = path.join(ROOT, 'node_modules', '.bin');

/** Ports of this benchmark (its own range, so that it never collides with dev servers). */
export const PORTS = { tally: 8831, hello: 8832, entry: 8833, meter: 8834, driver: 8835 } as const;

/** The meter's route that runs the cron (bench/workers/meter.mjs); every other path is Tally's. */
const METER_CRON_PATH = '/__bench/cron';

/** The Worker's secrets (API keys are stored as HMACs with the pepper, so a database needs its own). */
export interface Secrets {
  API_KEY_PEPPER: string;
  AUTH_SECRET: string;
}

/**
 * Fresh secrets. A fresh clone has no .dev.vars, and a run must not depend on one; a cached
 * database keeps the secrets it was built with, and restarts of one run keep the run's.
 */
export function newSecrets(): Secrets {
  return { API_KEY_PEPPER: randomBytes(32).toString('hex'), AUTH_SECRET: randomBytes(32).toString('hex') };
}

const SECRETS = newSecrets();

/** One run of the cron as the meter saw it: its D1 calls timed, D1's own row counts. */
export interface CronRun {
  /** Wall time of the scheduled handler, in workerd. */
  ms: number;
  /** `ok`, or the error the handler threw. */
  outcome: string;
  rowsRead: number;
  rowsWritten: number;
  statements: number;
  /** The longest single D1 call (a statement, or a batch: one transaction of several). */
  longestMs: number;
  /** The start of that call's SQL (the first statement's, for a batch). */
  longestSql: string;
}

/** What the stack serves, and how to reach its storage. */
export interface Stack {
  mf: Miniflare;
  tallyUrl: string;
  helloUrl: string;
  meterUrl: string;
  /** The D1 database `DB`, through Miniflare's proxy. */
  d1(): Promise<D1Like>;
  /** Run tally's scheduled handler once, as the cron would at `scheduledTime`, through the meter. */
  cron(scheduledTime: number): Promise<CronRun>;
  /** Hand batches of message bodies to tally's queue handler; the time is measured in workerd. */
  drain(queue: string, batches: string[][]): Promise<{ ms: number; acked: number; retried: number }>;
  /** Dispose Miniflare (workerd exits). */
  stop(): Promise<void>;
  /** What the Workers logged at warn or error level. */
  problems: string[];
  /** The events queue consumer's `max_batch_size` (wrangler.toml). */
  consumerBatchSize: number;
  /**
   * CPU time (user + system, ms) the workerd process has used so far: every Worker, the
   * ProjectDO, the local queue and D1 run in it. Null where `/proc` is not there (not Linux).
   */
  workerdCpuMs(): number | null;
}

/** The part of D1's API the benchmark uses (Miniflare proxies the real binding). */
export interface D1Like {
  prepare(sql: string): {
    bind(...values: unknown[]): {
      all<T = Record<string, unknown>>(): Promise<{ results: T[]; meta: Record<string, unknown> }>;
      run(): Promise<unknown>;
    };
    all<T = Record<string, unknown>>(): Promise<{ results: T[]; meta: Record<string, unknown> }>;
    run(): Promise<unknown>;
  };
}

/**
 * Bundle the Worker with `wrangler deploy --dry-run --outdir`: the module a deploy uploads.
 * Returns the path of `index.js`.
 */
export async function bundleWorker(outDir: string): Promise<string> {
  const child = spawn(path.join(BIN, 'wrangler'), ['deploy', '--dry-run', '--outdir', outDir], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}`, WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild('wrangler deploy --dry-run', child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const code = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      output += `\n${error.message}`;
      resolve(1);
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${output.slice(-3000)}`);
  return path.join(outDir, 'index.js');
}

/** The SQL statements of migrations/*.sql, in order. */
export function migrationStatements(): string[] {
  const dir = path.join(ROOT, 'migrations');
  return readdirSync(dir)
    .filter((name) => /^\d+.*\.sql$/.test(name))
    .sort()
    .flatMap((name) =>
      unstable_splitSqlQuery(readFileSync(path.join(dir, name), 'utf8').replaceAll('--> statement-breakpoint', '')),
    )
    .filter((statement) => statement.replace(/--[^\n]*/g, '').trim());
}

/** The parts of wrangler's Miniflare options (for wrangler.toml) that the helper Workers copy. */
interface WranglerWorkerOptions {
  [key: string]: unknown;
  compatibilityDate: string;
  compatibilityFlags?: string[];
  bindings?: Record<string, string>;
  d1Databases?: V4Namespace;
  queueProducers?: Record<string, { queueName: string }>;
  queueConsumers?: Record<string, V4QueueConsumerOptions>;
}

/** Options of one stack. */
export interface StackOptions {
  bundle: string;
  /** Miniflare's persistence root: D1, the DO's SQLite, queues. Reused across restarts. */
  persistDir: string;
  /** Apply the migrations (only on a fresh directory). */
  migrate: boolean;
  /** Disable the Cache API, so that repeated queries are computed, not served from a cache. */
  cacheApi?: boolean;
  /** Open workerd's DevTools inspector on this port (`bench/profile.ts` records CPU profiles). */
  inspectorPort?: number;
  /** The database's secrets, when it was built by an earlier run (a cached dataset). */
  secrets?: Secrets;
}

/** Start workerd with the four Workers; registered for cleanup. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { workerOptions } = quietly(() => unstable_getMiniflareWorkerOptions(path.join(ROOT, 'wrangler.toml')));
  const { modulesRules: _rules, ...rest } = workerOptions;
  const tallyBindings = rest as WranglerWorkerOptions;
  const bundleDir = path.dirname(options.bundle);
  const bundleModule = {
    type: 'ESModule' as const,
    path: options.bundle,
    contents: readFileSync(options.bundle, 'utf8'),
  };
  const problems: string[] = [];
  // The bench measures one database: every project it creates is placed on `DB` (the pool adds no
  // work per event; its placement is tested in worker/test/d1-pool.test.ts).
  const secrets = { ...(options.secrets ?? SECRETS), NEW_PROJECT_DATABASES: 'DB' };

  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: '127.0.0.1',
      port: PORTS.entry,
      resourcePersistencePath: options.persistDir,
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
        if ((level === 'error' || level === 'warn') && problems.length < 200) problems.push(`${level}: ${message}`);
      },
      workers: [
        {
          ...tallyBindings,
          name: 'tally',
          bindings: { ...tallyBindings.bindings, ...secrets },
          modules: [bundleModule],
          modulesRoot: bundleDir,
          cacheAPI: options.cacheApi ?? true,
          unsafeDirectSockets: [{ host: '127.0.0.1', port: PORTS.tally }],
        },
        {
          name: 'hello',
          compatibilityDate: tallyBindings.compatibilityDate,
          modules: [{ type: 'ESModule', path: path.join(WORKERS, 'hello.mjs') }],
          unsafeDirectSockets: [{ host: '127.0.0.1', port: PORTS.hello }],
        },
        {
          name: 'meter',
          compatibilityDate: tallyBindings.compatibilityDate,
          compatibilityFlags: tallyBindings.compatibilityFlags,
          bindings: { ...tallyBindings.bindings, ...secrets, BENCH_CRON_PATH: METER_CRON_PATH },
          d1Databases: tallyBindings.d1Databases,
          queueProducers: tallyBindings.queueProducers,
          // The cron it runs tells the store-health registry of D1 faults and recoveries.
          durableObjects: {
            PROJECT: { className: 'ProjectDO', scriptName: 'tally', useSQLite: true },
            STORE_HEALTH: { className: 'StoreHealth', scriptName: 'tally', useSQLite: true },
          },
          modules: [
            { type: 'ESModule', path: path.join(bundleDir, 'meter.mjs'), contents: meterSource() },
            bundleModule,
          ],
          modulesRoot: bundleDir,
          cacheAPI: false,
          unsafeDirectSockets: [{ host: '127.0.0.1', port: PORTS.meter }],
        },
        {
          name: 'driver',
          compatibilityDate: tallyBindings.compatibilityDate,
          compatibilityFlags: ['service_binding_extra_handlers'],
          modules: [{ type: 'ESModule', path: path.join(WORKERS, 'driver.mjs') }],
          serviceBindings: { TALLY: 'tally' },
          unsafeDirectSockets: [{ host: '127.0.0.1', port: PORTS.driver }],
        },
      ],
    }),
  );
  const release = onCleanup('miniflare', () => mf.dispose());
  await mf.ready;

  const d1 = async () => (await mf.getD1Database('DB', 'tally')) as unknown as D1Like;
  const call = async <T>(url: string, body: unknown): Promise<T> => {
    const answer = await post(url, JSON.stringify(body), CALL_TIMEOUT_MS);
    if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}: ${answer.text}`);
    return JSON.parse(answer.text) as T;
  };
  if (options.migrate) {
    // Every database of the pool, so that the cron's work over each finds its tables.
    for (const binding of Object.keys(tallyBindings.d1Databases ?? { DB: null })) {
      const db = (await mf.getD1Database(binding, 'tally')) as unknown as D1Like;
      for (const statement of migrationStatements()) await db.prepare(statement).run();
    }
  }

  return {
    mf,
    tallyUrl: `http://127.0.0.1:${PORTS.tally}`,
    helloUrl: `http://127.0.0.1:${PORTS.hello}`,
    meterUrl: `http://127.0.0.1:${PORTS.meter}`,
    d1,
    problems,
    consumerBatchSize: tallyBindings.queueConsumers?.['tally-events']?.maxBatchSize ?? 100,
    workerdCpuMs,
    cron: (scheduledTime) => call(`http://127.0.0.1:${PORTS.meter}${METER_CRON_PATH}`, { scheduledTime }),
    drain: (queue, batches) => call(`http://127.0.0.1:${PORTS.driver}/drain`, { queue, batches }),
    stop: release,
  };
}

/** CPU ms used by the workerd process this process started (Linux `/proc`), or null. */
function workerdCpuMs(): number | null {
  try {
    const children = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const pid = children
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find(([, command]) => command === 'workerd')?.[0];
    if (!pid) return null;
    // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised command): utime and stime in ticks.
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const hertz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return Number.isFinite(ticks) ? (ticks / hertz) * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Run a wrangler API call with its logging below errors off: "Using secrets defined in .dev.vars",
 * and the warning that the required secrets are missing, which the bench passes itself.
 */
function quietly<T>(call: () => T): T {
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  try {
    return call();
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
}

function meterSource(): string {
  return readFileSync(path.join(WORKERS, 'meter.mjs'), 'utf8');
}

/**
 * A cron run or a drain may take as long as the work it is given (a 3M-event day's close takes
 * minutes): fetch gives up waiting for headers after 5 minutes, so these calls go through
 * `node:http`, with a timeout of their own.
 */
const CALL_TIMEOUT_MS = 30 * 60_000;

function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${url} gave no answer in ${timeoutMs / 60_000} minutes`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** The SQLite file that holds D1 `DB` under a persistence root (Miniflare names it by a hash). */
export function d1File(persistDir: string): string {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.sqlite') && name !== 'metadata.sqlite' && full.includes(`${path.sep}d1${path.sep}`))
        found.push(full);
    }
  };
  walk(persistDir);
  if (!found.length) throw new Error(`no D1 SQLite file under ${persistDir}`);
  // The pool's other databases hold only their tables: every project the bench makes is on `DB`.
  return found.sort((a, b) => statSync(b).size - statSync(a).size)[0] as string;
}
