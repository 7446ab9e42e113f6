/**
 * `npm run bench:profile`: where ingest spends its CPU. Serves the bundled Worker as `npm run bench`
 * does, loads `POST /api/event` for a few seconds while workerd's inspector records a CPU profile
 * of the `tally` isolate (the Worker and the ProjectDO share it), and prints the functions with the
 * most self time. A development tool: it prints, it asserts nothing.
 *
 *   npm run bench:profile                  1-event requests, 6 s
 *   npm run bench:profile -- --events 10   10-event batches
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EVENT_PATH } from '@tally/sdk/protocol';
import { createBenchProject, signUp } from './api.ts';
import { trackDirectory, withCleanup } from './cleanup.ts';
import { runLoad } from './load.ts';
import { log } from './progress.ts';
import { bundleWorker, startStack } from './stack.ts';

const INSPECTOR_PORT = 8836;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A minimal Chrome DevTools Protocol session over the global WebSocket. */
async function devtools(url: string) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let next = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (message) => {
    const data = JSON.parse(String(message.data)) as { id?: number; result?: unknown };
    if (data.id !== undefined) pending.get(data.id)?.(data.result);
  });
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve as (result: unknown) => void));
    },
    close: () => socket.close(),
  };
}

/** Self time per function (ms), and the share of all samples. */
function selfTimes(profile: Profile): { name: string; ms: number; share: number }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const delta = (profile.timeDeltas[index] ?? 0) / 1000;
    all += delta;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${path.basename(url) || ''}:${lineNumber + 1}`;
    totals.set(key, (totals.get(key) ?? 0) + delta);
  });
  return [...totals].map(([name, ms]) => ({ name, ms, share: ms / all })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { events: { type: 'string', default: '1' }, seconds: { type: 'string', default: '6' } },
  });
  const eventsPerRequest = Number(values.events);
  const seconds = Number(values.seconds);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-profile-'));
  trackDirectory(tmp);
  log('setup', 'bundling the Worker');
  const bundle = await bundleWorker(path.join(tmp, 'bundle'));
  const stack = await startStack({
    bundle,
    persistDir: path.join(tmp, 'data'),
    migrate: true,
    inspectorPort: INSPECTOR_PORT,
  });
  try {
    const { token } = await signUp(stack.tallyUrl);
    const project = await createBenchProject(stack.tallyUrl, token, 'profile');
    const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json()) as {
      id: string;
      title: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = targets.find((t) => t.id.includes('tally') || t.title.includes('tally'));
    if (!target) throw new Error(`no tally isolate among ${targets.map((t) => t.title).join(', ')}`);
    const session = await devtools(target.webSocketDebuggerUrl);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 100 });
    await session.send('Profiler.start');
    const result = await runLoad('profile', `${eventsPerRequest} event(s)`, {
      origin: stack.tallyUrl,
      path: EVENT_PATH,
      siteKey: project.siteKey,
      warmupSiteKey: project.siteKey,
      eventsPerRequest,
      connections: 32,
      warmupSeconds: 1,
      seconds,
      seed: 11,
    });
    const { profile } = await session.send<{ profile: Profile }>('Profiler.stop');
    session.close();
    writeFileSync(path.join(os.tmpdir(), 'tally-ingest.cpuprofile'), JSON.stringify(profile));
    log(
      'profile',
      `${Math.round(result.rps)} req/s, p50 ${result.p50?.toFixed(1)} ms, p99 ${result.p99?.toFixed(1)} ms`,
    );
    // Bundle lines, so that `get index.js:35846` can be told apart from every other `get`.
    const lines = readFileSync(bundle, 'utf8').split('\n');
    for (const row of selfTimes(profile).slice(0, 40)) {
      const line = /index\.js:(\d+)$/.exec(row.name)?.[1];
      const source = line ? (lines[Number(line) - 1] ?? '').trim().slice(0, 70) : '';
      console.log(
        `${(row.share * 100).toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(6)} ms  ${row.name.slice(0, 60).padEnd(60)}  ${source}`,
      );
    }
    log('profile', `full profile: ${path.join(os.tmpdir(), 'tally-ingest.cpuprofile')} (open in Chrome DevTools)`);
  } finally {
    await stack.stop();
  }
  return 0;
}

await withCleanup(main);
