/**
 * `npm run bench`: how close Tally is to the machine's limit. Each figure is measured beside its
 * reference in the same run (absolute times drift on a shared machine; ratios hold), printed as a
 * table with its target and a pass/short mark, and written to `bench/results.json`.
 *
 *   npm run bench                      full run (≤ 15 minutes; 10M events for the queries)
 *   npm run bench -- --quick           development run (≤ 2 minutes; 100k events)
 *   npm run bench -- --minutes 60      a larger time budget
 *   npm run bench -- --only ingest,drain,freshness,queries,sizes,cost
 *   npm run bench -- --markdown        also print the table as Markdown (for the README)
 *   npm run bench -- --connections 16  concurrent connections of the ingest loads (default 32)
 *
 * The query phase's dataset is built once and cached in the temp directory (bench/query-data.ts);
 * the run that builds it gets the build's time on top of its budget (~11 minutes at 10M events).
 *
 * Everything it starts (workerd, load generators) is stopped on exit, error or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBenchProject, signUp } from './api.ts';
import { trackDirectory, withCleanup } from './cleanup.ts';
import { benchCost } from './cost.ts';
import { benchDrain } from './drain.ts';
import { benchFreshness } from './freshness.ts';
import { benchIngest, type IngestPlan } from './ingest.ts';
import { Budget, elapsedSeconds, log } from './progress.ts';
import { benchQueries, type QueryPlan } from './queries.ts';
import { type Figure, markdownTable, shortfalls, textTable } from './report.ts';
import { benchSizes, buildMissing } from './sizes.ts';
import { bundleWorker, ROOT, startStack } from './stack.ts';

const PHASES = ['ingest', 'drain', 'freshness', 'queries', 'sizes', 'cost'] as const;
type Phase = (typeof PHASES)[number];

interface Mode {
  name: 'full' | 'quick';
  minutes: number;
  ingest: IngestPlan;
  drainEvents: number;
  freshnessSamples: number;
  queries: QueryPlan;
}

const MODES: Record<Mode['name'], Mode> = {
  full: {
    name: 'full',
    minutes: 15,
    ingest: { seconds: 10, warmupSeconds: 2, connections: 32, fixedRate: 1_000 },
    drainEvents: 200_000,
    freshnessSamples: 8,
    queries: { events: 10_000_000, repeats: 10, cronDayEvents: 3_000_000, laterPhasesMs: 60_000 },
  },
  quick: {
    name: 'quick',
    minutes: 2,
    ingest: { seconds: 2, warmupSeconds: 1, connections: 32, fixedRate: 1_000 },
    drainEvents: 30_000,
    freshnessSamples: 3,
    queries: { events: 100_000, repeats: 3, cronDayEvents: 30_000, laterPhasesMs: 20_000 },
  },
};

function options(): { mode: Mode; phases: Set<Phase>; markdown: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      only: { type: 'string' },
      markdown: { type: 'boolean', default: false },
      connections: { type: 'string' },
    },
  });
  const base = MODES[values.quick ? 'quick' : 'full'];
  const minutes = values.minutes === undefined ? base.minutes : Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('--minutes takes a positive number');
  const only = values.only?.split(',').map((p) => p.trim()) ?? [...PHASES];
  const unknown = only.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`unknown phase(s) ${unknown.join(', ')}; phases: ${PHASES.join(', ')}`);
  const connections = values.connections === undefined ? base.ingest.connections : Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections takes a positive integer');
  return {
    mode: { ...base, minutes, ingest: { ...base.ingest, connections } },
    phases: new Set(only as Phase[]),
    markdown: values.markdown,
  };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const { mode, phases, markdown } = options();
  const budget = new Budget(mode.minutes * 60_000);
  const startedAt = new Date().toISOString();
  log(
    'setup',
    `${mode.name} run, budget ${mode.minutes} min, phases: ${[...phases].join(', ')}; ${os.cpus().length} CPUs`,
  );
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-'));
  trackDirectory(tmp);

  log('setup', 'bundling the Worker (wrangler deploy --dry-run)');
  const bundle = await bundleWorker(path.join(tmp, 'bundle'));
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const problems: string[] = [];

  if (phases.has('sizes')) {
    // Sizes are of what ships: build the tracker and the dashboard first when they are not built.
    await buildMissing();
    figures.push(...benchSizes());
  }

  if (phases.has('ingest') || phases.has('freshness') || phases.has('drain')) {
    log('setup', 'starting workerd (tally, hello-world, meter, driver)');
    const stack = await startStack({ bundle, persistDir: path.join(tmp, 'ingest'), migrate: true });
    try {
      const { token } = await signUp(stack.tallyUrl);
      const project = await createBenchProject(stack.tallyUrl, token, 'ingest');
      if (phases.has('ingest')) {
        log(
          'ingest',
          `${mode.ingest.seconds} s per run after ${mode.ingest.warmupSeconds} s of warm-up, ${mode.ingest.connections} connections`,
        );
        const warmup = await createBenchProject(stack.tallyUrl, token, 'warm-up');
        const outcome = await benchIngest(stack, project, warmup, mode.ingest);
        figures.push(...outcome.figures);
        details.ingest = {
          runs: outcome.runs,
          cpuPerRequestMs: outcome.cpuPerRequestMs,
          accepted: outcome.accepted,
          stored: outcome.stored,
        };
      }
      if (phases.has('freshness')) {
        // A project of its own: the stats API then reads a handful of events, so the figure is the
        // pipeline's delay, not the time to scan the ingest runs' events (the queries phase has that).
        log('fresh', `${mode.freshnessSamples} samples each`);
        const fresh = await createBenchProject(stack.tallyUrl, token, 'freshness');
        figures.push(...(await benchFreshness(stack, fresh, mode.freshnessSamples)));
      }
      if (phases.has('drain')) {
        const drainProject = await createBenchProject(stack.tallyUrl, token, 'drain');
        const outcome = await benchDrain(stack, drainProject.id, mode.drainEvents, tmp);
        figures.push(...outcome.figures);
        details.drain = { consumer: outcome.consumer, raw: outcome.raw };
      }
      problems.push(...stack.problems);
    } finally {
      await stack.stop();
    }
  }

  if (phases.has('queries')) {
    const outcome = await benchQueries({
      bundle,
      persistDir: path.join(tmp, 'queries'),
      budget,
      plan: mode.queries,
      problems,
    });
    figures.push(...outcome.figures);
    details.queries = outcome.details;
  }

  if (phases.has('cost')) {
    // $ per million events at list prices (bench/prices.ts), on a stack of its own.
    const outcome = await benchCost({
      bundle,
      persistDir: path.join(tmp, 'cost'),
      plan:
        mode.name === 'quick'
          ? { quietEvents: 40, busyEvents: 400, batchRequests: 40 }
          : { quietEvents: 150, busyEvents: 2_000, batchRequests: 200 },
      problems,
    });
    figures.push(...outcome.figures);
    details.cost = outcome.details;
  }

  console.log(`\n${textTable(figures)}\n`);
  const short = shortfalls(figures);
  if (short.length)
    console.log(`Short of target (or not measured):\n${short.map((line) => `  - ${line}`).join('\n')}\n`);
  else console.log('Every target is met.\n');
  if (problems.length) {
    const distinct = [...new Set(problems)];
    console.log(
      `The Workers logged ${problems.length} warnings/errors, e.g.:\n${distinct
        .slice(0, 5)
        .map((p) => `  ${p.slice(0, 300)}`)
        .join('\n')}\n`,
    );
  }
  if (markdown) console.log(`${markdownTable(figures)}\n`);

  const results = {
    startedAt,
    finishedAt: new Date().toISOString(),
    seconds: Math.round(elapsedSeconds()),
    mode: mode.name,
    commit: gitCommit(),
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? null,
      node: process.version,
      platform: process.platform,
    },
    figures,
    shortfalls: short,
    details,
    workerProblems: problems.slice(0, 50),
  };
  const file = path.join(ROOT, 'bench', 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log('done', `${Math.round(elapsedSeconds())} s; results in ${path.relative(process.cwd(), file) || file}`);
  return 0;
}

await withCleanup(main);
