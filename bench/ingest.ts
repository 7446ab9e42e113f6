/**
 * Phase 1, ingest: `POST /api/event` through the whole path (validate, enrich, ProjectDO admit,
 * outbox) under load, beside a hello-world Worker under the identical harness, run alternately so
 * that drift on a shared machine hits both: single events, 10-event batches, and a fixed
 * 1,000 requests/s. Afterwards every accepted event must reach D1.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import type { BenchProject } from './api.ts';
import { runLoad } from './load.ts';
import type { LoadConfig, LoadResult } from './load-child.ts';
import { log, sleep, status } from './progress.ts';
import { type Figure, ratioOf } from './report.ts';
import type { Stack } from './stack.ts';

/** How long and how hard. */
export interface IngestPlan {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  /** The fixed rate of the latency run. */
  fixedRate: number;
}

/** What phase 1 measured, for the later phases and results.json. */
export interface IngestOutcome {
  figures: Figure[];
  runs: Record<string, LoadResult>;
  /** workerd CPU ms per request of each run. */
  cpuPerRequestMs: Record<string, number | null>;
  accepted: number;
  stored: number;
}

const GROUP = 'Ingest';

/** Note of a run's failures, if any. */
function failures(result: LoadResult): string | undefined {
  const bad = result.non2xx + result.errors;
  if (!bad) return undefined;
  const codes = Object.entries(result.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, count]) => `${count}×${code}`);
  return `${bad} failed: ${[...codes, result.errors ? `${result.errors} errors` : ''].filter(Boolean).join(', ')}`;
}

/**
 * Run the loads. Warm-ups send to `warmup`'s project; measured runs to `project`, whose stored
 * events must then equal the events of its 2xx answers exactly.
 */
export async function benchIngest(
  stack: Stack,
  project: BenchProject,
  warmup: BenchProject,
  plan: IngestPlan,
): Promise<IngestOutcome> {
  const base = (origin: string, eventsPerRequest: number, extra: Partial<LoadConfig> = {}): LoadConfig => ({
    origin,
    path: EVENT_PATH,
    siteKey: project.siteKey,
    warmupSiteKey: warmup.siteKey,
    eventsPerRequest,
    connections: plan.connections,
    warmupSeconds: plan.warmupSeconds,
    seconds: plan.seconds,
    seed: 11,
    ...extra,
  });
  const fixed = { fixedRate: plan.fixedRate };
  const order: [name: string, config: LoadConfig, tallyEvents: number][] = [
    ['hello, 1 event', base(stack.helloUrl, 1), 0],
    ['tally, 1 event', base(stack.tallyUrl, 1), 1],
    ['hello, 10 events', base(stack.helloUrl, 10), 0],
    ['tally, 10 events', base(stack.tallyUrl, 10), 10],
    [`hello, ${plan.fixedRate} req/s`, base(stack.helloUrl, 1, fixed), 0],
    [`tally, ${plan.fixedRate} req/s`, base(stack.tallyUrl, 1, fixed), 1],
  ];
  const runs: Record<string, LoadResult> = {};
  /** workerd CPU ms per request (warm-up and measured run together). */
  const cpu: Record<string, number | null> = {};
  let accepted = 0;
  for (const [name, config, events] of order) {
    const before = stack.workerdCpuMs();
    const result = await runLoad('ingest', name, config);
    const after = stack.workerdCpuMs();
    const requests = result.ok + result.non2xx + result.warmupOk;
    cpu[name] = before === null || after === null || !requests ? null : (after - before) / requests;
    runs[name] = result;
    accepted += result.ok * events;
    // The next run must not share workerd with this one's queue drain and D1 writes: that would
    // slow the hello-world reference and flatter every ratio.
    if (events) {
      await waitForRows(stack, project.id, accepted);
      await waitForQuiet(stack);
    }
    log(
      'ingest',
      `${name}: ${Math.round(result.rps).toLocaleString('en-US')} req/s, p50 ${result.p50?.toFixed(2)} ms, ` +
        `p99 ${result.p99?.toFixed(2)} ms${failures(result) ? `, ${failures(result)}` : ''}`,
    );
  }

  const stored = await waitForRows(stack, project.id, accepted);
  const get = (name: string) => runs[name] as LoadResult;
  const [helloOne, tallyOne, helloTen, tallyTen, helloFixed, tallyFixed] = order.map(([name]) => get(name));
  if (!helloOne || !tallyOne || !helloTen || !tallyTen || !helloFixed || !tallyFixed) throw new Error('missing run');

  const figures: Figure[] = [];
  const latency = (id: string, label: string, tally: LoadResult, hello: LoadResult, key: 'p50' | 'p99') =>
    figures.push({
      id,
      group: GROUP,
      label,
      value: tally[key],
      unit: 'ms',
      reference: { label: 'hello', value: hello[key], unit: 'ms' },
      ratio: { value: ratioOf(tally[key], hello[key]), unit: '×' },
    });

  const singleRatio = ratioOf(tallyOne.rps, helloOne.rps);
  figures.push({
    id: 'ingest.single.rps',
    group: GROUP,
    label: '1 event/request, requests/s',
    value: tallyOne.rps,
    unit: 'req/s',
    reference: { label: 'hello', value: helloOne.rps, unit: 'req/s' },
    ratio: { value: singleRatio, unit: '×' },
    target: { text: '≥ 0.5× hello-world', pass: singleRatio === null ? null : singleRatio >= 0.5 },
    note: failures(tallyOne),
  });
  latency('ingest.single.p50', '1 event/request, p50', tallyOne, helloOne, 'p50');
  latency('ingest.single.p99', '1 event/request, p99', tallyOne, helloOne, 'p99');
  const [cpuHelloOne, cpuTallyOne, cpuHelloTen, cpuTallyTen] = order.map(([name]) => cpu[name] ?? null);
  const cpuFigure = (id: string, label: string, tally: number | null | undefined, hello: number | null | undefined) =>
    figures.push({
      id,
      group: GROUP,
      label,
      value: tally ?? null,
      unit: 'ms',
      reference: { label: 'hello', value: hello ?? null, unit: 'ms' },
      ratio: { value: ratioOf(tally ?? null, hello ?? null), unit: '×' },
    });
  // workerd runs the Worker, the ProjectDO, the local queue and D1: this is the whole pipeline's CPU.
  cpuFigure('ingest.single.cpu', '1 event/request, workerd CPU per request (whole pipeline)', cpuTallyOne, cpuHelloOne);

  const batchEvents = tallyTen.rps * 10;
  figures.push({
    id: 'ingest.batch.events',
    group: GROUP,
    label: '10-event batches, events/s',
    value: batchEvents,
    unit: 'events/s',
    reference: { label: 'hello req/s × 10', value: helloTen.rps * 10, unit: '' },
    ratio: { value: ratioOf(tallyTen.rps, helloTen.rps), unit: '×' },
    target: { text: '≥ 10,000 events/s', pass: batchEvents >= 10_000 },
    note: failures(tallyTen),
  });
  latency('ingest.batch.p50', '10-event batches, p50', tallyTen, helloTen, 'p50');
  latency('ingest.batch.p99', '10-event batches, p99', tallyTen, helloTen, 'p99');
  cpuFigure('ingest.batch.cpu', '10-event batches, workerd CPU per request (whole pipeline)', cpuTallyTen, cpuHelloTen);

  const p99Ratio = ratioOf(tallyFixed.p99, helloFixed.p99);
  const rateShort = tallyFixed.rps < plan.fixedRate * 0.95;
  figures.push({
    id: 'ingest.fixed.p99',
    group: GROUP,
    label: `p99 at a fixed ${plan.fixedRate.toLocaleString('en-US')} req/s`,
    value: tallyFixed.p99,
    unit: 'ms',
    reference: { label: 'hello', value: helloFixed.p99, unit: 'ms' },
    ratio: { value: p99Ratio, unit: '×' },
    target: {
      text: '≤ 50 ms and ≤ 2× hello-world',
      pass: tallyFixed.p99 === null || p99Ratio === null ? null : tallyFixed.p99 <= 50 && p99Ratio <= 2,
    },
    note:
      [
        tallyFixed.overloaded ? 'overloaded: sending stopped 3 s behind the rate' : '',
        rateShort ? `only ${Math.round(tallyFixed.rps)} req/s reached` : '',
        failures(tallyFixed) ?? '',
      ]
        .filter(Boolean)
        .join('; ') || undefined,
  });
  figures.push({
    id: 'ingest.stored',
    group: GROUP,
    label: 'events in D1 after the run',
    value: stored,
    unit: 'rows',
    reference: { label: 'accepted (202)', value: accepted, unit: '' },
    ratio: { value: accepted ? (stored / accepted) * 100 : null, unit: '%' },
    target: { text: '= events accepted', pass: stored === accepted },
  });
  return { figures, runs, cpuPerRequestMs: cpu, accepted, stored };
}

/**
 * Wait until no more events arrive in D1 for a second: the warm-up's events, whose count is not
 * known exactly (requests in flight when the warm-up ends), have left the pipeline too.
 */
async function waitForQuiet(stack: Stack): Promise<void> {
  const db = await stack.d1();
  const count = async () =>
    Number((await db.prepare('SELECT COUNT(*) AS n FROM events').all<{ n: number }>()).results[0]?.n ?? 0);
  let last = await count();
  for (let quiet = 0; quiet < 4; ) {
    await sleep(250);
    const now = await count();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

/** Poll D1 until it holds `expected` events of the project, or until they stop arriving. */
async function waitForRows(stack: Stack, projectId: string, expected: number): Promise<number> {
  const db = await stack.d1();
  const count = async () =>
    Number(
      (await db.prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ?').bind(projectId).all<{ n: number }>())
        .results[0]?.n ?? 0,
    );
  const started = Date.now();
  let stored = await count();
  let lastChange = Date.now();
  const stop = status(
    'ingest',
    () =>
      `waiting for the pipeline: ${stored.toLocaleString('en-US')}/${expected.toLocaleString('en-US')} events in D1`,
  );
  try {
    // Give up once nothing has arrived for 20 s (a lost event would otherwise wait forever).
    while (stored < expected && Date.now() - lastChange < 20_000) {
      await sleep(250);
      const now = await count();
      if (now !== stored) lastChange = Date.now();
      stored = now;
    }
  } finally {
    stop();
  }
  log(
    'ingest',
    `${stored.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} accepted events in D1 (${((Date.now() - started) / 1000).toFixed(1)} s after the load)`,
  );
  return stored;
}
