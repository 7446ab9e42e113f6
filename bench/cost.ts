/**
 * Phase cost: what an event costs at Cloudflare's list prices (`prices.ts`), from what the real
 * bundle does on workerd. The bundle runs wrapped by a bench-only module ({@link WRAPPER}, bundled
 * with it by esbuild; nothing of it ships) that counts what Cloudflare bills: Worker requests
 * (ingest, queue consumer invocations), the ProjectDO's requests (RPCs, alarms), the SQLite rows its
 * cursors read and write, its `setAlarm`s (a row each), the queue messages it sends (operations of
 * 64 KB, written, read and deleted), and D1's own `rows_read`/`rows_written` for the consumer. The
 * cron's rollups and the retention purge run through the meter Worker, which counts D1 the same way.
 *
 * Three sites, each from its second event on (the first one of a project draws the day's salt):
 * - quiet: single-event pageviews, each one's alarm run before the next arrives (an event every few
 *   seconds), from visitors who come back now and then;
 * - busy: single-event pageviews as fast as they come, so that an alarm flushes many;
 * - batches: requests of 10 events of one visitor (what the tracker sends when it queues).
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EVENT_PATH } from '@tally/sdk/protocol';
import { build } from 'esbuild';
import { createBenchProject, signUp } from './api.ts';
import { type WireRequest, wireRequests } from './events.ts';
import { log, sleep } from './progress.ts';
import {
  DO_MEMORY_GB,
  PRICES,
  PRICES_READ_ON,
  type PriceName,
  QUEUE_MESSAGE_OVERHEAD_BYTES,
  QUEUE_OPERATION_BYTES,
} from './prices.ts';
import { type Figure, formatNumber } from './report.ts';
import { d1File, type Stack, startStack } from './stack.ts';

const GROUP = 'Cost';
const DAY_MS = 86_400_000;

/** How many events each site sends. */
export interface CostPlan {
  quietEvents: number;
  busyEvents: number;
  batchRequests: number;
}

/** What the cost phase measured. */
export interface CostOutcome {
  figures: Figure[];
  details: Record<string, unknown>;
}

/** What the wrapper counts (see {@link WRAPPER}). */
interface Usage {
  workerRequests: number;
  consumerInvocations: number;
  consumerMessages: number;
  doRequests: number;
  alarmRuns: number;
  doMs: number;
  doRowsRead: number;
  doRowsWritten: number;
  alarmsSet: number;
  alarmsDeleted: number;
  queueMessages: number;
  queueOperations: number;
  d1RowsRead: number;
  d1RowsWritten: number;
}

/**
 * The bench-only entry: the bundle's Worker and ProjectDO with their bills counted. Counts live in
 * the isolate, which workerd shares between the Worker and its Durable Objects;
 * `GET /__cost/usage` answers them and `POST /__cost/reset` zeroes them.
 */
const WRAPPER = `
import tally, { ProjectDO as TallyProjectDO } from 'TALLY_BUNDLE';
// The store-health registry, unmetered: it is told of D1 faults and recoveries, not of events.
export { StoreHealth } from 'TALLY_BUNDLE';
const zero = () => ({ workerRequests: 0, consumerInvocations: 0, consumerMessages: 0, doRequests: 0, alarmRuns: 0,
  doMs: 0, doRowsRead: 0, doRowsWritten: 0, alarmsSet: 0, alarmsDeleted: 0, queueMessages: 0, queueOperations: 0,
  d1RowsRead: 0, d1RowsWritten: 0 });
let usage = zero();
// A cursor counts rows as they are consumed: kept, and added up when the counts are asked for.
const cursors = [];
const fold = () => { for (const c of cursors) { usage.doRowsRead += c.rowsRead; usage.doRowsWritten += c.rowsWritten; } cursors.length = 0; };
const bytes = (text) => new TextEncoder().encode(typeof text === 'string' ? text : JSON.stringify(text)).length;
function meterStorage(storage) {
  const sql = storage.sql;
  const exec = sql.exec.bind(sql);
  sql.exec = (query, ...bindings) => { const cursor = exec(query, ...bindings); cursors.push(cursor); return cursor; };
  const setAlarm = storage.setAlarm.bind(storage);
  storage.setAlarm = (...args) => { usage.alarmsSet++; return setAlarm(...args); };
  const deleteAlarm = storage.deleteAlarm.bind(storage);
  storage.deleteAlarm = (...args) => { usage.alarmsDeleted++; return deleteAlarm(...args); };
}
function sent(bodies) {
  for (const body of bodies) {
    usage.queueMessages++;
    usage.queueOperations += Math.max(1, Math.ceil((bytes(body) + ${QUEUE_MESSAGE_OVERHEAD_BYTES}) / ${QUEUE_OPERATION_BYTES}));
  }
}
const meterQueue = (queue) => ({
  send: (body, options) => { sent([body]); return queue.send(body, options); },
  sendBatch: (messages, options) => { const list = [...messages]; sent(list.map((m) => m.body)); return queue.sendBatch(list, options); },
});
function meterD1(db) {
  const count = (result) => { usage.d1RowsRead += result?.meta?.rows_read ?? 0; usage.d1RowsWritten += result?.meta?.rows_written ?? 0; return result; };
  const statements = new WeakMap();
  const wrap = (statement) => {
    const proxy = new Proxy(statement, { get(target, key) {
      if (key === 'bind') return (...values) => wrap(target.bind(...values));
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key === 'all' || key === 'run') return async (...args) => count(await value.apply(target, args));
      return value.bind(target);
    } });
    statements.set(proxy, statement);
    return proxy;
  };
  return new Proxy(db, { get(target, key) {
    if (key === 'prepare') return (query) => wrap(target.prepare(query));
    if (key === 'batch') return async (list) => { const results = await target.batch(list.map((s) => statements.get(s) ?? s)); results.forEach(count); return results; };
    const value = Reflect.get(target, key, target);
    return typeof value === 'function' ? value.bind(target) : value;
  } });
}
async function timed(work) { const started = Date.now(); try { return await work(); } finally { usage.doMs += Date.now() - started; } }
export class ProjectDO extends TallyProjectDO {
  constructor(ctx, env) { meterStorage(ctx.storage); super(ctx, { ...env, EVENTS: meterQueue(env.EVENTS), DB: meterD1(env.DB) }); }
  async admit(request) { usage.doRequests++; return timed(() => super.admit(request)); }
  async alarm(info) { usage.doRequests++; usage.alarmRuns++; return timed(() => super.alarm(info)); }
  async rotateSalts(now) { usage.doRequests++; return timed(() => super.rotateSalts(now)); }
}
export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/__cost/usage') { fold(); return Response.json(usage); }
    if (pathname === '/__cost/reset') { fold(); usage = zero(); return Response.json(usage); }
    usage.workerRequests++;
    return tally.fetch(request, env, ctx);
  },
  async queue(batch, env, ctx) {
    usage.workerRequests++;
    usage.consumerInvocations++;
    usage.consumerMessages += batch.messages.length;
    return tally.queue(batch, { ...env, DB: meterD1(env.DB) }, ctx);
  },
  scheduled: (controller, env, ctx) => tally.scheduled(controller, env, ctx),
};
`;

/** Bundle {@link WRAPPER} around the Worker's bundle: `index.js` of its own directory (the meter imports that name). */
async function costBundle(bundle: string, dir: string): Promise<string> {
  const extra = readdirSync(path.dirname(bundle)).filter((name) => /\.(wasm|bin|txt|html)$/.test(name));
  if (extra.length) throw new Error(`the bundle has modules the cost wrapper does not carry: ${extra.join(', ')}`);
  mkdirSync(dir, { recursive: true });
  const entry = path.join(dir, 'entry.mjs');
  writeFileSync(entry, WRAPPER.replaceAll('TALLY_BUNDLE', bundle.split(path.sep).join('/')));
  const out = path.join(dir, 'out', 'index.js');
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'error',
  });
  return out;
}

async function usageOf(stack: Stack, reset = false): Promise<Usage> {
  const response = await fetch(`${stack.tallyUrl}/__cost/${reset ? 'reset' : 'usage'}`, {
    method: reset ? 'POST' : 'GET',
  });
  if (!response.ok) throw new Error(`cost usage answered ${response.status}`);
  return (await response.json()) as Usage;
}

/** A header value in ASCII: workerd's HTTP server refuses other bytes (`Île-de-France` in `MF-CF-Blob`). */
function ascii(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function send(stack: Stack, request: WireRequest): Promise<void> {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, ascii(value)]));
  const response = await fetch(`${stack.tallyUrl}${EVENT_PATH}`, {
    method: 'POST',
    headers,
    body: request.body,
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 202) throw new Error(`event answered ${response.status}: ${await response.text()}`);
}

/** Send requests with at most `concurrency` in flight. */
async function sendAll(stack: Stack, requests: readonly WireRequest[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < requests.length) await send(stack, requests[next++] as WireRequest);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Wait until D1 holds `count` events of a project (the alarm, the queue and the consumer are done). */
async function drained(stack: Stack, projectId: string, count: number): Promise<void> {
  const db = await stack.d1();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { results } = await db
      .prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ?')
      .bind(projectId)
      .all<{ n: number }>();
    if ((results[0]?.n ?? 0) >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${results[0]?.n ?? 0} of ${count} events reached D1`);
    await sleep(100);
  }
}

/** Single-event requests from `visitors` people, who each come back (a visit of a few pages). */
function pageviews(siteKey: string, count: number, visitors: number, seed: number): WireRequest[] {
  const requests = wireRequests(siteKey, count, 1, seed);
  return requests.map((request, i) => ({ ...request, headers: (requests[i % visitors] as WireRequest).headers }));
}

/** What one site's events cost, counted. */
interface Site {
  name: string;
  events: number;
  requests: number;
  usage: Usage;
  cpuMs: number | null;
  rollup: { rowsRead: number; rowsWritten: number };
}

/**
 * NOTE: workerd's clock stands still between I/O, so a Durable Object's wall time cannot be timed
 * here; its duration is priced at this much per call (an admission or an alarm run takes a few ms).
 */
const DO_ACTIVE_MS_PER_CALL = 5;

/**
 * Every billed unit per event of a site, and its price per million events: the pipeline (ingest,
 * ProjectDO, queue, consumer) and the retention purge that deletes the event in the end. The
 * cron's rollups are priced apart: they cost per day and per distinct value, not per event.
 */
function bill(site: Site, purge: { rowsRead: number; rowsWritten: number }, purgedEvents: number) {
  const { usage, events } = site;
  const per = (units: number) => units / events;
  const doSeconds =
    (usage.doRequests * Math.max(DO_ACTIVE_MS_PER_CALL, usage.doMs / Math.max(1, usage.doRequests))) / 1000;
  const lines: [string, PriceName, number][] = [
    ['Worker requests (ingest, consumer)', 'workerRequest', per(usage.workerRequests)],
    ['Worker CPU ms (all of workerd: an upper bound)', 'workerCpuMs', per(site.cpuMs ?? 0)],
    ['DO requests (RPCs, alarms)', 'doRequest', per(usage.doRequests)],
    [`DO duration GB-s (${DO_ACTIVE_MS_PER_CALL} ms a call, assumed)`, 'doDurationGbS', per(doSeconds * DO_MEMORY_GB)],
    [
      'DO rows written (SQL, setAlarm)',
      'doRowWritten',
      per(usage.doRowsWritten + usage.alarmsSet + usage.alarmsDeleted),
    ],
    ['DO rows read', 'doRowRead', per(usage.doRowsRead)],
    ['Queue operations (write, read, delete)', 'queueOperation', per(3 * usage.queueOperations)],
    ['D1 rows written (consumer)', 'd1RowWritten', per(usage.d1RowsWritten)],
    ['D1 rows read (consumer, DO)', 'd1RowRead', per(usage.d1RowsRead)],
    ['D1 rows written (retention purge)', 'd1RowWritten', purge.rowsWritten / purgedEvents],
    ['D1 rows read (retention purge)', 'd1RowRead', purge.rowsRead / purgedEvents],
  ];
  const priced = lines.map(([label, price, units]) => ({ label, units, usd: units * PRICES[price].usd * 1_000_000 }));
  const rollupUsd = site.rollup.rowsWritten * PRICES.d1RowWritten.usd + site.rollup.rowsRead * PRICES.d1RowRead.usd;
  return { lines: priced, total: priced.reduce((sum, line) => sum + line.usd, 0), rollupUsd };
}

/** Bytes of the D1 database's file and its write-ahead log. */
function d1Size(persistDir: string): number {
  const file = d1File(path.join(persistDir, 'state'));
  return [file, `${file}-wal`].reduce((sum, name) => sum + (existsSync(name) ? statSync(name).size : 0), 0);
}

/** Run the three sites on a stack of their own and price them. */
export async function benchCost(options: {
  bundle: string;
  persistDir: string;
  plan: CostPlan;
  problems: string[];
}): Promise<CostOutcome> {
  const { plan } = options;
  log('cost', `prices read on ${PRICES_READ_ON} (bench/prices.ts); wrapping the bundle to count what is billed`);
  const bundle = await costBundle(options.bundle, path.join(options.persistDir, 'bundle'));
  const stack = await startStack({ bundle, persistDir: path.join(options.persistDir, 'state'), migrate: true });
  try {
    const { token } = await signUp(stack.tallyUrl);
    const d1Before = d1Size(options.persistDir);
    const sites: Site[] = [];
    const run = async (
      name: string,
      requests: readonly WireRequest[],
      perRequest: number,
      go: (requests: WireRequest[]) => Promise<void>,
    ) => {
      const project = await createBenchProject(stack.tallyUrl, token, `cost-${name}`);
      const [first, ...rest] = requests.map((request) => ({
        ...request,
        body: request.body.replaceAll('SITE_KEY', project.siteKey),
      })) as [WireRequest, ...WireRequest[]];
      // The project's first request draws the day's salt and starts the log: once a day, not measured.
      await send(stack, first);
      await drained(stack, project.id, perRequest);
      await usageOf(stack, true);
      const cpuBefore = stack.workerdCpuMs();
      await go(rest);
      await drained(stack, project.id, requests.length * perRequest);
      const cpuAfter = stack.workerdCpuMs();
      const usage = await usageOf(stack);
      // The cron after midnight rolls the day up (not in the first hour: no salt rotation then).
      const rollup = await stack.cron(Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS + 70 * 60_000);
      sites.push({
        name,
        events: rest.length * perRequest,
        requests: rest.length,
        usage,
        cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        rollup: { rowsRead: rollup.rowsRead, rowsWritten: rollup.rowsWritten },
      });
      log('cost', `${name}: ${rest.length * perRequest} events in ${rest.length} requests measured`);
    };

    const quiet = pageviews('SITE_KEY', plan.quietEvents + 1, Math.ceil(plan.quietEvents / 1.6), 31);
    await run('quiet', quiet, 1, async (requests) => {
      for (const request of requests) {
        const before = (await usageOf(stack)).alarmRuns;
        await send(stack, request);
        // An event every few seconds: its alarm runs before the next one comes.
        const deadline = Date.now() + 10_000;
        await sleep(200);
        while ((await usageOf(stack)).alarmRuns === before && Date.now() < deadline) await sleep(50);
      }
    });
    const busy = pageviews('SITE_KEY', plan.busyEvents + 1, Math.ceil(plan.busyEvents / 5), 32);
    await run('busy', busy, 1, (requests) => sendAll(stack, requests, 16));
    const batches = wireRequests('SITE_KEY', plan.batchRequests + 1, 10, 33);
    await run('batches', batches, 10, (requests) => sendAll(stack, requests, 8));

    // A year and a day on, the hourly purge deletes every event (the projects keep 365 days).
    const d1Bytes = d1Size(options.persistDir) - d1Before;
    const totalEvents = quiet.length + busy.length + batches.length * 10;
    const purgeAt = Math.floor(Date.now() / DAY_MS) * DAY_MS + 367 * DAY_MS + 3 * 3_600_000 + 30_000;
    const purge = await stack.cron(purgeAt);
    options.problems.push(...stack.problems);
    return report(sites, { rowsRead: purge.rowsRead, rowsWritten: purge.rowsWritten }, totalEvents, d1Bytes);
  } finally {
    await stack.stop();
  }
}

function report(
  sites: readonly Site[],
  purge: { rowsRead: number; rowsWritten: number },
  purgedEvents: number,
  d1Bytes: number,
): CostOutcome {
  const figures: Figure[] = [];
  const d1BytesPerEvent = d1Bytes / purgedEvents;
  const details: Record<string, unknown> = { pricesReadOn: PRICES_READ_ON, purge, d1BytesPerEvent };
  for (const site of sites) {
    const { lines, total, rollupUsd } = bill(site, purge, purgedEvents);
    const { usage } = site;
    const single = site.name !== 'batches';
    const doWritten = (usage.doRowsWritten + usage.alarmsSet + usage.alarmsDeleted) / site.requests;
    const d1Written = usage.d1RowsWritten / site.events;
    details[site.name] = {
      events: site.events,
      requests: site.requests,
      usage,
      cpuMs: site.cpuMs,
      rollup: site.rollup,
      lines,
    };
    log(
      'cost',
      `${site.name}: $${total.toFixed(2)} per million events (${site.events} events in ${site.requests} requests)`,
    );
    for (const line of lines)
      log(
        'cost',
        `  ${line.label.padEnd(48)} ${formatNumber(line.units).padStart(8)} an event  $${line.usd.toFixed(3)}/M`,
      );
    log(
      'cost',
      `  rollup of the day (cron): ${site.rollup.rowsWritten} D1 rows written, ${site.rollup.rowsRead} read: $${(rollupUsd * 1_000).toFixed(4)} per thousand such days`,
    );
    const largest = [...lines].sort((a, b) => b.usd - a.usd).slice(0, 2);
    figures.push({
      id: `cost.${site.name}.usd`,
      group: GROUP,
      label: single
        ? `$ per million single-event pageviews, ${site.name} site`
        : '$ per million events, 10-event requests',
      value: total,
      unit: '$',
      ...(single ? { target: { text: '≤ $2.00', pass: total <= 2 } } : {}),
      note: largest.map((line) => `${line.label} $${line.usd.toFixed(2)}`).join(', '),
    });
    figures.push({
      id: `cost.${site.name}.do-rows`,
      group: GROUP,
      label: `DO rows written per ${single ? 'single-event request' : '10-event request'}, ${site.name}`,
      value: doWritten,
      unit: 'rows',
      ...(single ? { target: { text: '≤ 3', pass: doWritten <= 3 } } : {}),
      note: `SQL ${formatNumber(usage.doRowsWritten / site.requests)} + setAlarm ${formatNumber(usage.alarmsSet / site.requests)}`,
    });
    figures.push({
      id: `cost.${site.name}.d1-rows`,
      group: GROUP,
      label: `D1 rows written per event by the consumer, ${site.name}`,
      value: d1Written,
      unit: 'rows',
      target: { text: '≤ 1.5', pass: d1Written <= 1.5 },
      note: 'the events row and each of its indexes, and the hour marks of each batch (store/events.ts)',
    });
  }
  log(
    'cost',
    `D1 grew ~${Math.round(d1BytesPerEvent)} bytes an event (file and WAL, rollups and marks included): $${(
      (d1BytesPerEvent / 1e9) * PRICES.d1StorageGbMonth.usd * 1e6
    ).toFixed(2)} a month per million events kept`,
  );
  return { figures, details };
}
